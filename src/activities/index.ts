/**
 * The activities the workflows call: thin Temporal glue over probes, actions, backups and
 * notifications, made by one factory so the worker injects its config store and host name once.
 * Workflows import the *type* `Activities` only.
 *
 * The trust boundary lives here. Every activity takes one object argument that *names* things —
 * a `ConfigRef`, a pattern id, an incident, an action index — and resolves them against the
 * worker's own config; nothing in an argument defines what runs. Everything an activity returns
 * or throws is recorded in a history that any Temporal client can read, so it passes through the
 * redactor first: secrets of the config never leave the worker.
 */
import path from 'node:path';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import type { Config } from '../config/schema';
import { ConfigError } from '../config/errors';
import type { ConfigRef, ConfigStore } from '../config/store';
import { makeRedactor, secretsOf, type Redactor } from '../config/secrets';
import { NOTIFICATION_CHANNEL_FAILED, configFailure, invalidInput, unsafePath } from '../errors';
import type { Detection } from '../detection/types';
import type { SagaResult, WakeReason } from '../workflows/definitions';
import { actionsTotal, incidentsTotal, sagaDuration } from '../metrics';
import { actionFor } from '../actions';
import type { ActionContext, ActionResult } from '../actions/types';
import { backupDirFor, backupRootFor, backupTargets, restoreBackup, runDirFor, type BackupRef } from '../backup';
import { isInside } from '../fs-safe';
import { pathMatches } from '../util/glob-rules';
import { rotationBases } from '../detection/own-files';
import { sendNotification, type NotificationAlert, type NotificationResult } from '../notify';
import { runOnce } from '../notify/dedupe';
import { factLines, formatDetails, writeAutoFixLog } from '../logging';
import { maintainStores } from './housekeeping';
import { detectLoop, type DetectInput, type DetectOutput } from './detect';
import { verifyIncident } from './verify';
import { daemonView, sagaPlan, type DaemonView, type SagaPlan } from './views';

/** A detection loop starting in this worker: which daemon, when (worker clock), which checks. */
export interface LoopStart {
  workflowId: string;
  at: number;
  checks: readonly string[];
}

/** What the worker injects into its activities. */
export interface ActivityDeps {
  /** The worker's config (its own file; workflows only reference versions of it). */
  store: ConfigStore;
  host: string;
  /** Told when a daemon's loop starts (the watchers' coalescing: src/watch). */
  onLoopStart?: (loop: LoopStart) => void;
}

/**
 * The incident an activity works on, as the saga names it: ids and where it was seen. The
 * pattern's name and severity come from the worker's config, not from here.
 */
export interface IncidentArg {
  incidentId: string;
  patternId: string;
  host: string;
  source: Detection['source'];
  /** The watched file (or health check) it was seen in; checked against the config. */
  file?: string;
  count: number;
  firstLine?: number;
  lastLine?: number;
  /** One short sample, for alerts. */
  sample?: string;
}

/** What a saga's close-out records: the outcome and an outline of the steps (the details are in the history). */
export interface OutcomeArg {
  incidentId: string;
  patternId: string;
  outcome: SagaResult['outcome'];
  reason?: string;
  /** How long the saga ran. */
  seconds: number;
  /** Alert even though the outcome is `skipped` (a fault the live probe did not confirm). */
  alert?: boolean;
  /** "#0 log_rotate: done", … */
  steps: string[];
  verification?: string;
}

/** The Detection an incident argument stands for, named by the config's pattern. */
function detectionOf(incident: IncidentArg, pattern: { id: string; name: string; severity: Detection['severity'] }): Detection {
  return {
    id: pattern.id,
    name: pattern.name,
    severity: pattern.severity,
    count: incident.count,
    source: incident.source,
    ...(incident.file !== undefined ? { file: incident.file } : {}),
    ...(incident.firstLine !== undefined ? { first_line: incident.firstLine } : {}),
    ...(incident.lastLine !== undefined ? { last_line: incident.lastLine } : {}),
    samples: incident.sample ? [incident.sample] : [],
  };
}

/** Argument of the activities that work on an incident under a config version. */
export interface IncidentArgs {
  configRef: ConfigRef;
  incident: IncidentArg;
}

/** Argument of the activities that work on one action of the incident's pattern. */
export interface ActionArgs extends IncidentArgs {
  actionIndex: number;
}

/** The current config's reference and the daemon's view of it. */
export interface ConfigChoice {
  configRef: ConfigRef;
  view: DaemonView;
}

const redactors = new WeakMap<Config, Redactor>();

/** The redactor of `cfg`'s secrets (built once per config version). */
function redactorFor(cfg: Config): Redactor {
  let r = redactors.get(cfg);
  if (!r) redactors.set(cfg, (r = makeRedactor(secretsOf(cfg))));
  return r;
}

/** A failure as it may be recorded: same type and retryability, secrets masked in message and stack. */
function scrubFailure(err: unknown, redact: Redactor): unknown {
  if (err instanceof CancelledFailure) return err;
  if (err instanceof ConfigError) return configFailure(redact(err.message), redact(err.issues));
  if (err instanceof ApplicationFailure) {
    const f = ApplicationFailure.create({
      message: redact(err.message),
      ...(err.type ? { type: err.type } : {}),
      nonRetryable: err.nonRetryable ?? false,
      details: redact(err.details ?? []) as unknown[],
    });
    f.stack = redact(err.stack ?? '');
    return f;
  }
  const e = new Error(redact(err instanceof Error ? err.message : String(err)));
  if (err instanceof Error) {
    e.name = err.name;
    e.stack = redact(err.stack ?? '');
  }
  return e;
}

/**
 * Checks that a detected file is one the config watches — or, for logs, a rotated generation of
 * one (the rest of app.log is read from app.log.1 after a rotation) — so no input can point an
 * action elsewhere.
 */
function checkWatchedFile(cfg: Config, d: Detection): void {
  if (d.source === 'health' || d.file === undefined) return;
  const watched = d.source === 'json' ? cfg.watch.json_files : cfg.watch.logs;
  const file = path.resolve(d.file);
  const isWatched = (f: string) => watched.some((w) => pathMatches(f, w));
  // A detection in a rotated generation of a watched log (app.log.1) is about that log.
  const rotated = d.source === 'log' && rotationBases(path.basename(file)).some((b) => isWatched(path.join(path.dirname(file), b)));
  if (!isWatched(file) && !rotated) {
    throw unsafePath(`${d.file} is not a file the worker's config watches (watch.${d.source === 'json' ? 'json_files' : 'logs'})`);
  }
  if (cfg.managed.roots.length > 0 && !cfg.managed.roots.some((r) => isInside(file, r)) && d.source === 'json') {
    throw unsafePath(`${d.file} is outside managed.roots`);
  }
}

/** Attempts assumed when a retry policy does not say (unlimited): then the fifth one returns. */
const DEFAULT_NOTIFY_ATTEMPTS = 5;

/** The saga run an activity works for: each run has its own backup folder. */
function runIdOf(): string {
  const info = Context.current().info;
  // Outside a workflow (never in production) the activity id keeps attempts of one call together.
  return info.workflowExecution?.runId ?? `activity-${info.activityId}`;
}

/** The backup label of a saga step, e.g. `02-log_rotate`. */
function stepLabel(index: number, type: string): string {
  return `${String(index).padStart(2, '0')}-${type}`;
}

/** Says once, in auto_fix.log and as an alert, that an edited config was refused and the old one kept. */
async function reportRefusedConfig(cfg: Config, error: ConfigError): Promise<void> {
  const message = `config refused, keeping the current one: ${error.message}`;
  await writeAutoFixLog(cfg, [{ level: 'ERROR', message }]);
  await sendNotification(cfg, { severity: 'critical', message, dedupeKey: `config-refused-${Date.now()}` });
}

/**
 * Creates the activity implementations.
 *
 * @example
 *   new Worker({ activities: createActivities({ store: new ConfigStore({ path }), host }), ... })
 */
export function createActivities(deps: ActivityDeps) {
  const { store } = deps;

  /** Runs `fn` under the config `ref` names, scrubbing secrets from what it returns or throws. */
  /**
   * Throws a retryable failure while a channel failed and this activity has attempts left (the
   * retry resends only what is still owed); on the last attempt returns the result as it is.
   */
  function retryWhileFailing(r: NotificationResult): NotificationResult {
    if (!r.failed?.length) return r;
    const info = Context.current().info;
    const max = info.retryPolicy?.maximumAttempts || DEFAULT_NOTIFY_ATTEMPTS;
    if (info.attempt >= max) return r;
    const why = r.channels.filter((c) => c.status === 'failed').map((c) => `${c.channel}: ${c.reason ?? 'failed'}`).join('; ');
    throw ApplicationFailure.retryable(`notification channel(s) failed, will retry the missing ones: ${why}`, NOTIFICATION_CHANNEL_FAILED);
  }

  async function underConfig<R>(ref: unknown, fn: (cfg: Config) => Promise<R>): Promise<R> {
    let cfg = store.current().config;
    try {
      cfg = store.resolve(ref);
      return redactorFor(cfg)(await fn(cfg));
    } catch (err) {
      throw scrubFailure(err, redactorFor(cfg));
    }
  }

  /** The pattern's action `index`, or a non-retryable failure when the config has none. */
  function actionSpec(cfg: Config, a: ActionArgs) {
    const spec = cfg.error_patterns.find((p) => p.id === a.incident.patternId)?.actions[a.actionIndex];
    if (!spec) throw invalidInput(`pattern ${a.incident.patternId} has no action #${a.actionIndex} in the worker's config`);
    return spec;
  }

  /** The ActionContext of an incident under `cfg`; the config, not the input, gives name and severity. */
  function actionContext(cfg: Config, incident: IncidentArg, actionIndex?: number, type?: string): ActionContext {
    const pattern = cfg.error_patterns.find((p) => p.id === incident.patternId);
    if (!pattern) throw invalidInput(`pattern "${incident.patternId}" is not in the worker's config`);
    const detection = detectionOf(incident, pattern);
    checkWatchedFile(cfg, detection);
    const ctx = Context.current();
    return {
      config: cfg,
      incident: { incidentId: incident.incidentId, patternId: pattern.id, severity: pattern.severity, detection, host: incident.host },
      // What an action says is a detail of its `修復アクション実行` line: indented, naming the incident.
      log: (level, message) => {
        ctx.log.info(message, { level, incidentId: incident.incidentId });
        void writeAutoFixLog(cfg, [{ level, message: formatDetails({ incident: incident.incidentId, note: message }) }]).catch(() => undefined);
      },
      signal: ctx.cancellationSignal,
      ...(actionIndex !== undefined && type !== undefined ? { backup: backupPlaceOf(cfg, incident.incidentId, actionIndex, type) } : {}),
    };
  }

  /** This run's backup folders for step `index` (see ActionContext.backup). */
  function backupPlaceOf(cfg: Config, incidentId: string, index: number, type: string): NonNullable<ActionContext['backup']> {
    const opts = { backupRoot: backupRootFor(cfg), incidentId, runId: runIdOf(), label: stepLabel(index, type) };
    return { store: opts.backupRoot, run: runDirFor(opts), step: backupDirFor(opts) };
  }

  return {
    /** The worker's current config; `reload` re-reads the file first (a bad file: ConfigError, current kept). */
    async currentConfig(a: { reload?: boolean } = {}): Promise<ConfigChoice & { changed: boolean }> {
      let changed = false;
      try {
        changed = a.reload ? store.reload().changed : false;
      } catch (err) {
        throw scrubFailure(err, redactorFor(store.current().config));
      }
      const { ref } = store.current();
      return await underConfig(ref, async (cfg) => {
        if (changed) await writeAutoFixLog(cfg, [{ level: 'INFO', message: `設定を再読み込みしました: ${cfg.source}` }]);
        return { configRef: ref, view: daemonView(cfg), changed };
      });
    },

    /**
     * One detection loop: log scan, JSON files and the due health checks, batched. It runs under
     * the worker's current config, re-read when the file changed; when that is not the version the
     * daemon named, the result carries the new reference and view, and the daemon switches.
     */
    async detect(a: DetectInput & { wake?: WakeReason }): Promise<DetectOutput & { config?: ConfigChoice }> {
      // Before anything is read: whatever a watcher saw until now, this loop sees too.
      const daemon = deps.onLoopStart ? Context.current().info.workflowExecution?.workflowId : undefined;
      if (daemon) deps.onLoopStart?.({ workflowId: daemon, at: Date.now(), checks: a.checks });
      const { loaded, changed, error } = store.refresh();
      const cfg = loaded.config;
      try {
        if (changed) await writeAutoFixLog(cfg, [{ level: 'INFO', message: `設定を再読み込みしました: ${cfg.source}` }]);
        if (error) await reportRefusedConfig(cfg, error);
        const run = Context.current().info.workflowExecution;
        const out = await detectLoop(cfg, a, run ? { workflowId: run.workflowId, runId: run.runId } : {});
        await maintainStores(cfg, a.checks.includes('json'));
        const switched = a.configRef?.digest !== loaded.ref.digest;
        return redactorFor(cfg)({ ...out, ...(switched ? { config: { configRef: loaded.ref, view: daemonView(cfg) } } : {}) });
      } catch (err) {
        throw scrubFailure(err, redactorFor(cfg));
      }
    },

    /**
     * Sends an alert through the configured channels. While a channel fails and the retry policy
     * has attempts left, it throws a retryable error: the retry sends only the channels still
     * owed. The last attempt returns (the workflow goes on; the detection loop keeps retrying).
     */
    async notify(a: { configRef: ConfigRef; alert: NotificationAlert }): Promise<NotificationResult> {
      return await underConfig(a.configRef, async (cfg) => retryWhileFailing(await sendNotification(cfg, a.alert)));
    },

    /**
     * Pins the config version of a saga (the given one, else the current) and returns the
     * pattern's plan; a pattern the config does not name is refused.
     */
    async planSaga(a: { configRef?: ConfigRef; patternId: string; file?: string }): Promise<{ configRef: ConfigRef; plan: SagaPlan }> {
      // Without a pinned version the saga runs under what the worker's file says now.
      const ref = a.configRef ?? store.refresh().loaded.ref;
      return await underConfig(ref, async (cfg) => {
        const plan = sagaPlan(cfg, a.patternId, a.file);
        if (!plan) throw invalidInput(`pattern "${a.patternId}" is not in the worker's config ${cfg.source} (has: ${cfg.error_patterns.map((p) => p.id).join(', ')})`);
        return { configRef: ref, plan };
      });
    },

    /** What action `actionIndex` would do (dry-run) and which paths it would back up. */
    async planAction(a: ActionArgs): Promise<{ steps: string[]; targets: string[] }> {
      return await underConfig(a.configRef, async (cfg) => {
        const spec = actionSpec(cfg, a);
        const plan = await actionFor(spec).plan(actionContext(cfg, a.incident), spec);
        return { steps: plan.steps, targets: plan.targets.map((t) => t.path) };
      });
    },

    /** Backs up what action `actionIndex` will change; null when it changes no file. */
    async backupForAction(a: ActionArgs): Promise<BackupRef | null> {
      return await underConfig(a.configRef, async (cfg) => {
        const spec = actionSpec(cfg, a);
        const def = actionFor(spec);
        if (!def.mutates) return null;
        const ctx = actionContext(cfg, a.incident);
        const plan = await def.plan(ctx, spec);
        if (plan.targets.length === 0 && plan.redisPrefix === undefined) return null;
        const ref = await backupTargets(plan.targets, {
          backupRoot: backupRootFor(cfg),
          roots: cfg.managed.roots,
          incidentId: a.incident.incidentId,
          runId: runIdOf(),
          label: stepLabel(a.actionIndex, spec.type),
          ...(def.freesSpace ? { freesSpace: { thresholdPercent: cfg.health_checks.disk.threshold_percent } } : {}),
          ...(plan.redisPrefix !== undefined ? { redisPrefix: plan.redisPrefix } : {}),
          signal: ctx.signal,
        });
        // Said in the incident (this result is in its history) and in auto_fix.log.
        if (ref.mode === 'manifest') ctx.log('WARNING', `${spec.type}: backup keeps names, sizes and sha256 only, no copies: ${ref.reason ?? ''}`);
        return ref;
      });
    },

    /** Runs action `actionIndex` of the incident's pattern. */
    async runAction(a: ActionArgs): Promise<ActionResult> {
      return await underConfig(a.configRef, async (cfg) => {
        const spec = actionSpec(cfg, a);
        const base = actionContext(cfg, a.incident, a.actionIndex, spec.type);
        const incident = a.incident.incidentId;
        // What the action logged itself is not repeated as its result.
        const notes = new Set<string>();
        const ctx: ActionContext = { ...base, log: (level, message) => (notes.add(message), base.log(level, message)) };
        await writeAutoFixLog(cfg, factLines('INFO', `修復アクション実行: ${spec.type}`, { incident, pattern: a.incident.patternId, action: a.actionIndex }));
        try {
          const r = await actionFor(spec).run(ctx, spec);
          actionsTotal.inc({ type: spec.type, result: 'ok' });
          if (!notes.has(r.summary)) await writeAutoFixLog(cfg, [{ level: 'INFO', message: formatDetails({ incident, result: r.summary }) }]);
          return r;
        } catch (err) {
          actionsTotal.inc({ type: spec.type, result: 'failed' });
          await writeAutoFixLog(cfg, factLines('ERROR', `修復アクション失敗: ${spec.type}`, { incident, error: (err as Error).message })).catch(() => undefined);
          throw err;
        }
      });
    },

    /**
     * Closes an incident: the seed's completion line in auto_fix.log (`自動修復完了: <pattern>`, or
     * `自動修復失敗` / `自動修復スキップ`) with its details after, the metrics, and — for a fix that
     * failed, compensated or not — a critical alert, once per incident and outcome. A fix that
     * worked or was skipped is not an alert.
     */
    async recordOutcome(a: { configRef: ConfigRef; result: OutcomeArg }): Promise<NotificationResult> {
      return await underConfig(a.configRef, async (cfg) => {
        const r = a.result;
        incidentsTotal.inc({ pattern: r.patternId, outcome: r.outcome });
        if (Number.isFinite(r.seconds)) sagaDuration.observe({ pattern: r.patternId, outcome: r.outcome }, r.seconds);
        const details = {
          incident: r.incidentId,
          outcome: r.outcome,
          seconds: Number.isFinite(r.seconds) ? Math.round(r.seconds * 10) / 10 : undefined,
          reason: r.reason,
          verification: r.verification,
        };
        const fact =
          r.outcome === 'fixed'
            ? factLines('INFO', `自動修復完了: ${r.patternId}`, details)
            : r.outcome === 'skipped'
              ? factLines('WARNING', `自動修復スキップ: ${r.patternId}`, details)
              : factLines('ERROR', `自動修復失敗: ${r.patternId}`, details);
        // Once per incident and outcome, however often a failing channel makes this activity retry.
        await runOnce(cfg.daemon.data_dir, `close-${r.incidentId}-${r.outcome}`, () => writeAutoFixLog(cfg, fact));
        // alerts.log hears of failures, and of skips the saga flags (alerts only, as in the seed).
        const failed = r.outcome === 'failed' || r.outcome === 'failed_compensated';
        if (!failed && !r.alert) return { deduplicated: false, channels: [] };
        const why = r.reason ? ` — ${r.reason}` : '';
        const sent = await sendNotification(cfg, {
          severity: failed ? 'critical' : 'warning',
          message: `incident ${r.incidentId} (${r.patternId}): ${r.outcome}${why}`,
          incidentId: r.incidentId,
          patternId: r.patternId,
          dedupeKey: `${r.incidentId}-${r.outcome}`,
          details: { steps: r.steps, ...(r.verification ? { verification: r.verification } : {}) },
        });
        return retryWhileFailing(sent);
      });
    },

    /**
     * Compensation: puts a backup back byte for byte (a space-freeing action's deletions stay:
     * see `restoreBackup`); only a backup under this config's backup folder.
     */
    async restoreBackup(a: { configRef: ConfigRef; backup: BackupRef }): Promise<{ restored: string[]; notes: string[] }> {
      return await underConfig(a.configRef, async (cfg) => {
        // A space-freeing action is never undone; its backup may not even exist on disk (`inline`).
        if (a.backup.keepsDeletions) return { restored: [], notes: ['a space-freeing action is not undone: what it removed stays removed'] };
        const root = backupRootFor(cfg);
        const dir = path.resolve(a.backup.dir);
        if (dir === root || !isInside(dir, root)) throw unsafePath(`backup ${a.backup.dir} is not under this worker's backup folder ${root}`);
        return await restoreBackup({ ...a.backup, dir, manifestPath: path.join(dir, path.basename(a.backup.manifestPath)) }, { store: root, redisUrl: cfg.health_checks.redis.url });
      });
    },

    /** Re-runs the probe or pattern that raised the incident. */
    async verifyIncident(a: IncidentArgs): Promise<{ ok: boolean; message: string }> {
      return await underConfig(a.configRef, async (cfg) => {
        const pattern = cfg.error_patterns.find((p) => p.id === a.incident.patternId);
        if (!pattern) throw invalidInput(`pattern "${a.incident.patternId}" is not in the worker's config`);
        const detection = detectionOf(a.incident, pattern);
        checkWatchedFile(cfg, detection);
        return await verifyIncident(cfg, { patternId: pattern.id, detection });
      });
    },
  };
}

/** The activity interface the workflows proxy. */
export type Activities = ReturnType<typeof createActivities>;
