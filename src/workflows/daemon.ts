/**
 * `autoFixDaemon`: the seed's continuous cycle as a durable workflow — `loopCount` detection loops
 * `loopIntervalSeconds` apart, then a `waitMinutes` rest, then continue-as-new with small carried
 * state (log cursors, cooldowns, flap counters, pause state). Deterministic: all I/O is in
 * activities; time is workflow time.
 */
import {
  ActivityFailure,
  getExternalWorkflowHandle,
  patched,
  ApplicationFailure,
  condition,
  continueAsNew,
  allHandlersFinished,
  log,
  ParentClosePolicy,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { Activities } from '../activities';
import type { Config } from '../config/schema';
import type { Detection } from '../detection/types';
import { ageFixMemory, checkIntervals, decideFix, dueChecks, incidentId, isPaused, sagaTimeLimitMs } from '../policy';
import { buildStatus } from './daemon-status';
import {
  type DaemonInput,
  type DaemonState,
  type DaemonStatus,
  type DaemonSummary,
  type SagaResult,
  incidentClosedSignal,
  pauseFixesSignal,
  reloadConfigUpdate,
  resumeFixesSignal,
  runNowSignal,
  statusQuery,
  stopSignal,
} from './definitions';
import { AutofixHost, AutofixKind, incidentSearchAttributes } from './search-attributes';
import { remediationSaga } from './saga';

// One loop = one local activity: its result is a single marker event, so a quiet loop costs
// ~6 history events (workflow task ×3, marker, timer ×2) instead of ~11 with a normal activity.
const { detect } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  retry: { maximumAttempts: 3, initialInterval: '1 second' },
});
const { loadDaemonConfig, notify } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: ['ConfigError'] },
});

/** The daemon workflow. See the module comment. */
export async function autoFixDaemon(input: DaemonInput = {}): Promise<DaemonSummary> {
  const info = workflowInfo();
  // Handlers are registered before the first await, so a query or signal that arrives while
  // the config is still loading is answered; `config` is set right after them.
  const state: DaemonState = input.state ?? {
    v: 1,
    iteration: 1,
    config: undefined as unknown as Config,
    cursors: {},
    lastRun: {},
    memory: {},
    openIncidents: {},
    pause: null,
    totals: { loops: 0, detections: 0, events: 0, incidents: 0 },
  };
  const host = input.host ?? '';
  const settings = () => ({
    loopCount: input.loopCount ?? state.config?.daemon.loop_count ?? 15,
    intervalMs: (input.loopIntervalSeconds ?? state.config?.daemon.loop_interval_seconds ?? 30) * 1000,
    waitMs: (input.waitMinutes ?? state.config?.daemon.wait_minutes ?? 5) * 60_000,
  });
  let loop = 0;
  let phase: DaemonStatus['phase'] = 'detecting';
  let nextLoopAt: number | undefined;
  let wake = false;
  let stopping = false;
  const summary: DaemonSummary = { iteration: state.iteration, loops: 0, detections: [], incidents: [], skipped: [] };
  // One-shot mode waits for its sagas and reports their outcomes (the seed's manual run).
  const awaited: Array<Promise<SagaResult>> = [];


  /** Passes pause/resume on to the sagas running now, so a fix in progress stops before its next action. */
  async function forwardToSagas(signal: typeof pauseFixesSignal | typeof resumeFixesSignal): Promise<void> {
    // Added after daemons had run: older histories replay without these signals.
    if (!patched('forward-pause-to-sagas')) return;
    for (const id of Object.values(state.openIncidents)) {
      try {
        await getExternalWorkflowHandle(id).signal(signal);
      } catch (err) {
        log.warn('could not pass the signal to a running saga', { incidentId: id, error: String(err) });
      }
    }
  }
  setHandler(pauseFixesSignal, async (args) => {
    const now = Date.now();
    state.pause = { since: now, ...(args?.reason ? { reason: args.reason } : {}), ...(args?.minutes ? { until: now + args.minutes * 60_000 } : {}) };
    log.info('fixes paused', { reason: args?.reason, minutes: args?.minutes });
    await forwardToSagas(pauseFixesSignal);
  });
  setHandler(resumeFixesSignal, async () => {
    state.pause = null;
    log.info('fixes resumed');
    await forwardToSagas(resumeFixesSignal);
  });
  setHandler(runNowSignal, () => {
    wake = true;
  });
  setHandler(stopSignal, () => {
    stopping = true;
    wake = true;
  });
  setHandler(incidentClosedSignal, (c) => {
    if (state.openIncidents[c.patternId] === c.incidentId) {
      delete state.openIncidents[c.patternId];
      delete state.openSince?.[c.patternId];
    }
  });
  setHandler(reloadConfigUpdate, async (args) => {
    // An invalid config makes the activity fail (ConfigError); the update fails and the
    // daemon keeps the config it has.
    let cfg: Config;
    try {
      cfg = await loadDaemonConfig(args?.path ?? (state.config as Config | undefined)?.source, input.logFile);
    } catch (err) {
      const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
      throw ApplicationFailure.nonRetryable(`config refused, keeping the current one: ${(cause as Error).message}`, 'ConfigError');
    }
    state.config = cfg;
    return { patterns: cfg.error_patterns.length, source: cfg.source };
  });
  setHandler(statusQuery, (): DaemonStatus =>
    buildStatus(state, { running: !stopping, loop, loopCount: settings().loopCount, phase, ...(nextLoopAt ? { nextLoopAt } : {}), host }, Date.now()),
  );

  if (!input.state) state.config = await loadDaemonConfig(input.configPath, input.logFile);
  if (!input.once && !input.state) upsertSearchAttributes([{ key: AutofixKind, value: 'daemon' }]);
  if (host && !input.state) upsertSearchAttributes([{ key: AutofixHost, value: host }]);

  /** Sleeps `ms` of workflow time, cut short by runNow or stop. */
  async function rest(ms: number, p: DaemonStatus['phase']): Promise<void> {
    phase = p;
    nextLoopAt = Date.now() + ms;
    await condition(() => wake, ms);
    wake = false;
  }

  /** One detection loop: one local activity, then a saga per detection that may be fixed. */
  async function runLoop(): Promise<void> {
    phase = 'detecting';
    nextLoopAt = undefined;
    const now = Date.now();
    const cfg = state.config;
    if (state.pause?.until !== undefined && now >= state.pause.until) state.pause = null;
    const due = dueChecks(state.lastRun, checkIntervals(cfg), now);
    let result;
    try {
      result = await detect({ config: cfg, cursors: state.cursors, checks: due, iteration: state.iteration, loop, host, paused: isPaused(state.pause, now) });
    } catch (err) {
      log.error('detection loop failed; the next loop tries again', { error: String(err) });
      return;
    }
    state.cursors = result.cursors;
    for (const c of due) state.lastRun[c] = now;
    if (result.health) state.lastHealth = result.health;
    state.lastLoopAt = now;
    state.totals.loops++;
    summary.loops++;
    if (result.health) summary.health = result.health;
    await handleDetections(result.detections, now);
  }

  /**
   * Forgets an open incident whose end was never signalled (its saga was terminated by hand, say)
   * once it is older than any saga could run with this config, so its pattern is not blocked forever.
   */
  function expireOpenIncidents(cfg: Config, now: number): void {
    for (const [patternId, since] of Object.entries(state.openSince ?? {})) {
      const actions = cfg.error_patterns.find((p) => p.id === patternId)?.actions.length ?? 1;
      if (now - since > sagaTimeLimitMs(cfg.auto_fix_config, actions)) {
        log.warn('forgetting an open incident whose end was never heard', { patternId, incidentId: state.openIncidents[patternId] });
        delete state.openIncidents[patternId];
        delete state.openSince?.[patternId];
      }
    }
  }

  async function handleDetections(detections: Detection[], now: number): Promise<void> {
    const cfg = state.config;
    const flap = cfg.auto_fix_config.flap_guard;
    for (const [id, mem] of Object.entries(state.memory)) state.memory[id] = ageFixMemory(mem, flap, now);
    expireOpenIncidents(cfg, now);
    // One decision per pattern per loop, on the detection with the most events.
    const byPattern = new Map<string, Detection>();
    for (const d of detections) {
      const prev = byPattern.get(d.id);
      if (!prev || d.count > prev.count) byPattern.set(d.id, d);
    }
    state.totals.detections += detections.length;
    state.totals.events += detections.reduce((n, d) => n + d.count, 0);
    summary.detections.push(...detections);
    for (const [patternId, d] of byPattern) {
      const pattern = cfg.error_patterns.find((p) => p.id === patternId);
      if (!pattern) continue;
      const mem = (state.memory[patternId] ??= { fixes: [] });
      mem.lastDetected = now;
      const decision = decideFix({
        autoFix: pattern.auto_fix,
        hasActions: pattern.actions.length > 0,
        paused: isPaused(state.pause, now),
        inProgress: state.openIncidents[patternId] !== undefined,
        memory: mem,
        cooldownSeconds: cfg.auto_fix_config.cooldown_period,
        flap,
        now,
      });
      if (decision.action === 'skip') {
        summary.skipped.push({ patternId, reason: decision.reason });
        continue;
      }
      if (decision.action === 'trip') {
        mem.trippedAt = now;
        summary.skipped.push({ patternId, reason: 'flapping' });
        await notify(cfg, {
          severity: 'critical',
          message: `flap guard tripped for ${patternId}: ${decision.fixesInWindow} fixes within ${flap.window_minutes} min; auto-fix stopped for this pattern until it is quiet for ${flap.reset_after_minutes} min`,
          patternId,
          dedupeKey: `flap-${patternId}-${now}`,
        });
        continue;
      }
      const id = incidentId(patternId, now, cfg.auto_fix_config.cooldown_period, host || undefined);
      let handle;
      try {
        handle = await startChild(remediationSaga, {
          workflowId: id,
          args: [
            {
              incidentId: id,
              patternId,
              severity: pattern.severity,
              detection: d,
              config: cfg,
              host,
              dryRun: cfg.auto_fix_config.dry_run,
              daemonWorkflowId: info.workflowId,
              startedBy: 'daemon',
            },
          ],
          // A continue-as-new of the daemon must never kill a fix in progress.
          parentClosePolicy: ParentClosePolicy.ABANDON,
          staticSummary: `${pattern.name} (${patternId}, ${pattern.severity}) ×${d.count}${d.file ? ` in ${d.file}` : ''}`,
          // Findable in visibility from its first moment, before the saga's own upsert runs.
          typedSearchAttributes: incidentSearchAttributes(patternId, pattern.severity, host),
        });
      } catch (err) {
        if (err instanceof WorkflowExecutionAlreadyStartedError) {
          summary.skipped.push({ patternId, reason: 'in_progress' });
          continue;
        }
        throw err;
      }
      mem.fixes.push(now);
      state.openIncidents[patternId] = id;
      (state.openSince ??= {})[patternId] = now;
      state.totals.incidents++;
      summary.incidents.push({ patternId, incidentId: id });
      if (input.once) awaited.push(handle.result());
    }
  }

  const { loopCount } = settings();
  for (loop = 1; loop <= (input.once ? 1 : loopCount); loop++) {
    await runLoop();
    if (input.once || stopping) break;
    if (loop < loopCount) await rest(settings().intervalMs, 'between_loops');
    if (stopping) break;
    if (workflowInfo().continueAsNewSuggested) break;
  }
  if (!input.once && !stopping) await rest(settings().waitMs, 'resting');
  phase = 'stopping';
  await condition(allHandlersFinished);
  if (input.once || stopping) {
    for (const r of await Promise.all(awaited)) {
      const entry = summary.incidents.find((i) => i.incidentId === r.incidentId);
      if (entry) Object.assign(entry, { outcome: r.outcome, ...(r.reason ? { reason: r.reason } : {}) });
    }
    return summary;
  }
  state.iteration++;
  return await continueAsNew<typeof autoFixDaemon>({ ...input, state });
}
