/**
 * The daemon's decision per detection: start a remediation saga, skip (paused, cooldown, in
 * progress, auto_fix off), or trip the flap guard and alert. Sagas start with a deterministic id
 * (one per pattern per cooldown bucket) and `ParentClosePolicy.ABANDON`, so a continue-as-new of
 * the daemon never kills a fix in progress.
 */
import { log, ParentClosePolicy, proxyActivities, startChild, workflowInfo } from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { Activities, ConfigChoice } from '../activities';
import type { Detection } from '../detection/types';
import { FailureType } from '../errors';
import { ageFixMemory, decideFix, incidentId, isPaused } from '../policy';
import { expireOpenIncidents, openIncident, strongestPerPattern } from './daemon-state';
import type { DaemonInput, DaemonState, DaemonStatus, DaemonSummary, SagaResult, WakeReason } from './definitions';
import { remediationSaga } from './saga';
import { incidentSearchAttributes } from './search-attributes';

const { notify } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: [FailureType.UnknownConfig] },
});

/** The mutable parts of one run of the daemon (one iteration, between two continue-as-new). */
export interface DaemonRun {
  input: DaemonInput;
  state: DaemonState;
  host: string;
  /** The config version the daemon runs under: set right after the handlers are registered. */
  config?: ConfigChoice;
  loop: number;
  phase: DaemonStatus['phase'];
  nextLoopAt?: number;
  /** Set by a manual runNow and by stop: cuts the current rest short. */
  wake: boolean;
  /** Set by a watcher's runNow (an event): the next loop runs now, the rest goes on after it. */
  event?: WakeReason;
  /** Checks a runNow named, run by the next loop whatever their interval. */
  forced: string[];
  stopping: boolean;
  summary: DaemonSummary;
  /** Results of the sagas started in one-shot mode (awaited before it returns). */
  sagas: Array<Promise<SagaResult>>;
}

/** Decides, per pattern detected this loop, whether to fix it; starts the sagas. */
export async function startIncidents(run: DaemonRun, detections: Detection[], now: number): Promise<void> {
  const { state } = run;
  const view = run.config!.view;
  for (const [id, mem] of Object.entries(state.memory)) state.memory[id] = ageFixMemory(mem, view.flap, now);
  for (const e of expireOpenIncidents(state, view, now)) log.warn('forgetting an open incident whose end was never heard', { ...e });
  for (const d of strongestPerPattern(detections)) {
    const pattern = view.patterns.find((p) => p.id === d.id);
    if (!pattern) continue;
    const mem = (state.memory[d.id] ??= { fixes: [] });
    mem.lastDetected = now;
    const decision = decideFix({
      autoFix: pattern.autoFix,
      hasActions: pattern.actions > 0,
      paused: isPaused(state.pause, now),
      inProgress: state.openIncidents[d.id] !== undefined,
      memory: mem,
      cooldownSeconds: view.cooldownSeconds,
      flap: view.flap,
      now,
    });
    if (decision.action === 'skip') run.summary.skipped.push({ patternId: d.id, reason: decision.reason });
    else if (decision.action === 'trip') await tripFlapGuard(run, d.id, decision.fixesInWindow, now);
    else await startIncident(run, d, pattern, now);
  }
}

/** The flap guard trips: no more fixes of this pattern until it has been quiet; one critical alert. */
async function tripFlapGuard(run: DaemonRun, patternId: string, fixes: number, now: number): Promise<void> {
  const flap = run.config!.view.flap;
  (run.state.memory[patternId] ??= { fixes: [] }).trippedAt = now;
  run.summary.skipped.push({ patternId, reason: 'flapping' });
  await notify({
    configRef: run.config!.configRef,
    alert: {
      severity: 'critical',
      message: `flap guard tripped for ${patternId}: ${fixes} fixes within ${flap.window_minutes} min; auto-fix stopped for this pattern until it is quiet for ${flap.reset_after_minutes} min`,
      patternId,
      dedupeKey: `flap-${patternId}-${now}`,
    },
  });
}

/** Starts the remediation saga of one detection (refused by Temporal when that incident already runs). */
async function startIncident(run: DaemonRun, d: Detection, pattern: ConfigChoice['view']['patterns'][number], now: number): Promise<void> {
  const { configRef, view } = run.config!;
  const id = incidentId(d.id, now, view.cooldownSeconds, run.host || undefined);
  let handle;
  try {
    handle = await startChild(remediationSaga, {
      workflowId: id,
      args: [
        {
          incidentId: id,
          patternId: d.id,
          detection: { ...d, samples: d.samples.slice(0, 2) },
          host: run.host,
          configRef,
          dryRun: view.dryRun,
          daemonWorkflowId: workflowInfo().workflowId,
          startedBy: 'daemon',
        },
      ],
      // A continue-as-new of the daemon must never kill a fix in progress.
      parentClosePolicy: ParentClosePolicy.ABANDON,
      staticSummary: `${pattern.name} (${d.id}, ${pattern.severity}) ×${d.count}${d.file ? ` in ${d.file}` : ''}`,
      // Findable in visibility from its first moment, before the saga's own upsert runs.
      typedSearchAttributes: incidentSearchAttributes(d.id, pattern.severity, run.host),
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    // Not one this daemon knows open: an earlier run's saga, a client's, or another daemon in this
    // namespace under the same host name (each host needs its own --host). Said, since no fix follows.
    log.warn('incident already running: not started again', { incidentId: id, patternId: d.id });
    run.summary.skipped.push({ patternId: d.id, reason: 'in_progress' });
    return;
  }
  openIncident(run.state, d.id, id, now);
  run.summary.incidents.push({ patternId: d.id, incidentId: id });
  if (run.input.once) run.sagas.push(handle.result());
}
