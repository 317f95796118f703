/**
 * `autoFixDaemon`: the seed's continuous cycle as a durable workflow — `loopCount` detection loops
 * `loopIntervalSeconds` apart, then a `waitMinutes` rest, then continue-as-new with small carried
 * state (log cursors, cooldowns, flap counters, pause state). With `once`, one loop whose sagas it
 * waits for (the seed's manual run).
 *
 * It carries a reference to the worker's config, never the config: the worker resolves the
 * reference in every activity, and tells the daemon (through `detect`) when its file changed.
 * Deterministic: all I/O is in activities; time is workflow time.
 *
 * Event loops (docs/operations.md, "Reacting to events"): the worker's watchers (src/watch) hear
 * a watched log grow, a watched JSON file change or a watched process die, and signal `runNow`
 * with `{ reason, checks }`. The daemon runs one extra loop at once — forcing the named checks —
 * and then rests on until the same moment as before, so the scheduled loops stay as the
 * backstop, at the configured cadence, whatever the watchers hear or miss. Why a signal rather
 * than a rest that is a heartbeating activity returning early: a quiet run's history stays what
 * it was (a timer per rest, no activity events, no marker — `patched()` is reached only when an
 * event arrives), an idle worker makes no calls at all (no heartbeats), and the wait stays a
 * plain timer, deterministic and cancelled by stop/runNow as before. An event loop costs ~7
 * events (the signal, a workflow task, the loop's marker, the rest's timer cancelled and
 * restarted); the watcher sends at most one wake at a time and spaces them out.
 */
import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities, ConfigChoice } from '../activities';
import { FailureType } from '../errors';
import { isPaused, loopChecks } from '../policy';
import { buildStatus } from './daemon-status';
import { startIncidents, type DaemonRun } from './daemon-incidents';
import { cadence, closeIncident, newDaemonState, recordLoop } from './daemon-state';
import {
  type DaemonInput,
  type DaemonStatus,
  type DaemonSummary,
  type WakeReason,
  incidentClosedSignal,
  pauseFixesSignal,
  reloadConfigUpdate,
  resumeFixesSignal,
  runNowSignal,
  statusQuery,
  stopSignal,
} from './definitions';
import { daemonInputSchema, parseInput, pauseArgsSchema, reloadArgsSchema, runNowArgsSchema } from './inputs';
import { AutofixHost, AutofixKind } from './search-attributes';

/**
 * Runs started before event loops existed end their rest on a watcher's runNow, as on any runNow;
 * runs after it run an extra loop instead. Checked only when an event arrives, so a quiet run
 * records no marker and its history is the same as before.
 */
export const EVENT_LOOPS_PATCH = 'event-loops';

// One loop = one local activity: its result is a single marker event, so a quiet loop costs
// ~6 history events (workflow task ×3, marker, timer ×2) instead of ~11 with a normal activity.
const { detect } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  retry: { maximumAttempts: 3, initialInterval: '1 second' },
});
const { currentConfig } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: [FailureType.Config, FailureType.UnknownConfig] },
});

/** The daemon workflow. See the module comment. */
export async function autoFixDaemon(raw?: DaemonInput): Promise<DaemonSummary> {
  const input = parseInput(daemonInputSchema, raw, 'autoFixDaemon input');
  const run = newRun(input);
  registerHandlers(run);
  adopt(run, await currentConfig({}));
  if (!input.state) tagDaemon(input);
  if (input.once) return await runOnce(run);
  await runIteration(run);
  await condition(allHandlersFinished);
  if (run.stopping) return run.summary;
  run.state.iteration++;
  return await continueAsNew<typeof autoFixDaemon>({ ...input, state: run.state });
}

/** The mutable parts of one run of the daemon (one iteration, between two continue-as-new). */
function newRun(input: DaemonInput): DaemonRun {
  const state = input.state ?? newDaemonState();
  return {
    input,
    state,
    host: input.host ?? '',
    loop: 0,
    phase: 'starting',
    wake: false,
    forced: [],
    stopping: false,
    summary: { iteration: state.iteration, loops: 0, detections: [], incidents: [], skipped: [] },
    sagas: [],
  };
}

/** Switches to a config version the worker chose (at start, after a reload, or when its file changed). */
function adopt(run: DaemonRun, choice: ConfigChoice): void {
  run.config = choice;
}

/** Search attributes of a new daemon, so `status --all` and the Web UI find it. */
function tagDaemon(input: DaemonInput): void {
  if (!input.once) upsertSearchAttributes([{ key: AutofixKind, value: 'daemon' }]);
  if (input.host) upsertSearchAttributes([{ key: AutofixHost, value: input.host }]);
}

/** One loop, then wait for the sagas it started and report their outcomes. */
async function runOnce(run: DaemonRun): Promise<DaemonSummary> {
  run.loop = 1;
  await runLoop(run);
  run.phase = 'stopping';
  await condition(allHandlersFinished);
  for (const r of await Promise.all(run.sagas)) {
    const entry = run.summary.incidents.find((i) => i.incidentId === r.incidentId);
    if (entry) Object.assign(entry, { outcome: r.outcome, ...(r.reason ? { reason: r.reason } : {}) });
  }
  return run.summary;
}

/** `loopCount` loops `loopIntervalSeconds` apart, then the rest (unless stopped). */
async function runIteration(run: DaemonRun): Promise<void> {
  const { loopCount } = cadenceOf(run);
  for (run.loop = 1; run.loop <= loopCount && !run.stopping; run.loop++) {
    await runLoop(run);
    if (run.loop < loopCount && !run.stopping) await rest(run, cadenceOf(run).intervalMs, 'between_loops');
    if (workflowInfo().continueAsNewSuggested) break;
  }
  if (!run.stopping) await rest(run, cadenceOf(run).waitMs, 'resting');
  run.phase = 'stopping';
}

function cadenceOf(run: DaemonRun) {
  return cadence(run.input, run.config!.view);
}

/**
 * Rests `ms` of workflow time. A manual runNow or stop ends the rest; a watcher's event runs a
 * loop now and the rest goes on until the same moment (the cadence is unchanged).
 */
async function rest(run: DaemonRun, ms: number, phase: DaemonStatus['phase']): Promise<void> {
  run.phase = phase;
  const until = Date.now() + ms;
  run.nextLoopAt = until;
  for (let left = ms; left > 0; left = until - Date.now()) {
    const cut = await condition(() => run.wake || run.event !== undefined, left);
    if (!cut || run.wake || !patched(EVENT_LOOPS_PATCH)) break;
    await runLoop(run, run.event);
    run.phase = phase;
    run.nextLoopAt = until;
    // Under a long burst of events the run may fill up: continue as new early (state is carried).
    if (run.stopping || workflowInfo().continueAsNewSuggested) break;
  }
  run.wake = false;
}

/**
 * One detection loop: one local activity, then a saga per detection that may be fixed. A
 * scheduled loop (no `event`) runs the due checks; an event loop only the every-loop ones. Both
 * run the checks a runNow named, and consume the pending event: they read the files after it.
 */
async function runLoop(run: DaemonRun, event?: WakeReason): Promise<void> {
  run.phase = 'detecting';
  run.nextLoopAt = undefined;
  const { state } = run;
  const now = Date.now();
  if (state.pause?.until !== undefined && now >= state.pause.until) state.pause = null;
  const checks = loopChecks(state.lastRun, run.config!.view.checkIntervals, now, { scheduled: event === undefined, forced: run.forced });
  run.forced = [];
  run.event = undefined;
  let result;
  try {
    result = await detect({
      configRef: run.config!.configRef,
      cursors: state.cursors,
      checks: checks.run,
      iteration: state.iteration,
      loop: run.loop,
      host: run.host,
      paused: isPaused(state.pause, now),
      ...(event ? { wake: event } : {}),
    });
  } catch (err) {
    log.error('detection loop failed; the next loop tries again', { error: String(err) });
    return;
  }
  if (result.config) adopt(run, result.config);
  recordLoop(state, result, checks.record, now);
  run.summary.loops++;
  run.summary.detections.push(...result.detections);
  if (result.health) run.summary.health = result.health;
  await startIncidents(run, result.detections, now);
}

/** Signals, the status query and the reloadConfig update; registered before the first await. */
function registerHandlers(run: DaemonRun): void {
  const { state } = run;
  setHandler(pauseFixesSignal, async (raw) => {
    const args = pauseArgsSchema.safeParse(raw ?? {});
    if (!args.success) return log.warn('pauseFixes ignored: bad argument', { error: args.error.message });
    const now = Date.now();
    const { reason, minutes } = args.data;
    state.pause = { since: now, ...(reason ? { reason } : {}), ...(minutes ? { until: now + minutes * 60_000 } : {}) };
    log.info('fixes paused', { reason, minutes });
    await forwardToSagas(run, pauseFixesSignal);
  });
  setHandler(resumeFixesSignal, async () => {
    state.pause = null;
    log.info('fixes resumed');
    await forwardToSagas(run, resumeFixesSignal);
  });
  setHandler(runNowSignal, (raw) => {
    const args = runNowArgsSchema.safeParse(raw ?? {});
    if (!args.success) return log.warn('runNow ignored: bad argument', { error: args.error.message });
    run.forced = [...new Set([...run.forced, ...(args.data.checks ?? [])])];
    if (args.data.reason) run.event = args.data.reason;
    else run.wake = true;
  });
  setHandler(stopSignal, () => {
    run.stopping = true;
    run.wake = true;
  });
  setHandler(incidentClosedSignal, (c) => closeIncident(state, c));
  setHandler(reloadConfigUpdate, async () => await reloadConfig(run), {
    validator: (args) => void parseInput(reloadArgsSchema, args, 'reloadConfig argument'),
  });
  setHandler(statusQuery, (): DaemonStatus =>
    buildStatus(state, run.config?.view, { running: !run.stopping, loop: run.loop, loopCount: run.config ? cadenceOf(run).loopCount : 0, phase: run.phase, ...(run.nextLoopAt ? { nextLoopAt: run.nextLoopAt } : {}), host: run.host }, Date.now()),
  );
}

/** The reloadConfig update: the worker re-reads its own file; an invalid one is refused and the old kept. */
async function reloadConfig(run: DaemonRun): Promise<{ patterns: number; source: string; changed: boolean }> {
  try {
    const choice = await currentConfig({ reload: true });
    adopt(run, choice);
    return { patterns: choice.view.patterns.length, source: choice.view.source, changed: choice.changed };
  } catch (err) {
    const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
    throw ApplicationFailure.nonRetryable(`config refused, keeping the current one: ${(cause as Error).message}`, FailureType.Config);
  }
}

/** Passes pause/resume on to the sagas running now, so a fix in progress stops before its next action. */
async function forwardToSagas(run: DaemonRun, signal: typeof pauseFixesSignal | typeof resumeFixesSignal): Promise<void> {
  for (const { id } of Object.values(run.state.openIncidents)) {
    try {
      await getExternalWorkflowHandle(id).signal(signal);
    } catch (err) {
      log.warn('could not pass the signal to a running saga', { incidentId: id, error: String(err) });
    }
  }
}
