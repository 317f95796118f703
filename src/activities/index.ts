/**
 * The activities the workflows call, made by one factory so that process-level dependencies
 * (host name, default config path) are injected once by the worker. Workflows import the
 * *type* `Activities` only.
 */
import { ApplicationFailure } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import type { Config } from '../config/schema';
import { ConfigError } from '../config/errors';
import { loadConfig } from '../config/load';
import type { SagaInput, SagaResult } from '../workflows/definitions';
import { actionsTotal, incidentsTotal, sagaDuration } from './metrics';
import { actionFor } from './actions';
import type { ActionContext, ActionResult } from './actions/types';
import { backupTargets, restoreBackup, type BackupRef } from './backup';
import { sendNotification, type NotificationAlert, type NotificationResult } from './notify';
import { writeAutoFixLog } from './logging';
import { createDetect } from './detect';
import { verifyIncident } from './verify';

/** What the worker injects into its activities. */
export interface ActivityDeps {
  /** Config used when a workflow names none (AUTOFIX_CONFIG or the shipped default). */
  defaultConfigPath: string;
  host: string;
}

/** Builds the ActionContext for action `index` of the saga's pattern. */
function actionContext(cfg: Config, saga: SagaInput): ActionContext {
  const ctx = Context.current();
  return {
    config: cfg,
    incident: { incidentId: saga.incidentId, patternId: saga.patternId, severity: saga.severity, detection: saga.detection, host: saga.host },
    log: (level, message) => {
      ctx.log.info(message, { level, incidentId: saga.incidentId });
      void writeAutoFixLog(cfg, [{ level, message: `[${saga.incidentId}] ${message}` }]).catch(() => undefined);
    },
    signal: ctx.cancellationSignal,
  };
}

/** The pattern's action spec at `index`, or a non-retryable failure when it does not exist. */
function actionSpec(cfg: Config, saga: SagaInput, index: number) {
  const spec = cfg.error_patterns.find((p) => p.id === saga.patternId)?.actions[index];
  if (!spec) {
    throw ApplicationFailure.nonRetryable(`pattern ${saga.patternId} has no action #${index}`, 'ConfigError');
  }
  return spec;
}

/**
 * Creates the activity implementations.
 *
 * @example
 *   new Worker({ activities: createActivities({ defaultConfigPath, host: os.hostname() }), ... })
 */
export function createActivities(deps: ActivityDeps) {
  return {
    /** Loads and validates the config on this host; a bad config is a non-retryable ConfigError. */
    async loadDaemonConfig(configPath?: string, logFile?: string): Promise<Config> {
      try {
        const cfg = loadConfig(configPath ?? deps.defaultConfigPath);
        if (logFile) cfg.daemon.log_file = logFile;
        return cfg;
      } catch (err) {
        if (err instanceof ConfigError) throw ApplicationFailure.nonRetryable(err.message, 'ConfigError', err.issues);
        throw err;
      }
    },

    /** One detection loop: log scan, JSON files and the due health checks, batched. */
    detect: createDetect(deps),

    /** Sends an alert through the configured channels; never fails the caller. */
    async notify(cfg: Config, alert: NotificationAlert): Promise<NotificationResult> {
      return await sendNotification(cfg, alert);
    },

    /** What action `index` would do (dry-run) and which paths it would back up. */
    async planAction(cfg: Config, saga: SagaInput, index: number): Promise<{ steps: string[]; targets: string[] }> {
      const spec = actionSpec(cfg, saga, index);
      const plan = await actionFor(spec).plan(actionContext(cfg, saga), spec);
      return { steps: plan.steps, targets: plan.targets.map((t) => t.path) };
    },

    /** Backs up what action `index` will change; null when it changes no file. */
    async backupForAction(cfg: Config, saga: SagaInput, index: number): Promise<BackupRef | null> {
      const spec = actionSpec(cfg, saga, index);
      const def = actionFor(spec);
      if (!def.mutates) return null;
      const plan = await def.plan(actionContext(cfg, saga), spec);
      if (plan.targets.length === 0) return null;
      return await backupTargets(plan.targets, {
        backupRoot: `${cfg.daemon.data_dir}/backups`,
        incidentId: saga.incidentId,
        label: `${String(index).padStart(2, '0')}-${spec.type}`,
      });
    },

    /** Runs action `index` of the saga's pattern. */
    async runAction(cfg: Config, saga: SagaInput, index: number): Promise<ActionResult> {
      const spec = actionSpec(cfg, saga, index);
      const ctx = actionContext(cfg, saga);
      ctx.log('INFO', `修復アクション実行: ${spec.type}`);
      try {
        const r = await actionFor(spec).run(ctx, spec);
        actionsTotal.inc({ type: spec.type, result: 'ok' });
        ctx.log('INFO', `${spec.type}: ${r.summary}`);
        return r;
      } catch (err) {
        actionsTotal.inc({ type: spec.type, result: 'failed' });
        ctx.log('ERROR', `${spec.type}: ${(err as Error).message}`);
        throw err;
      }
    },

    /** Records a closed incident: the seed's completion line in auto_fix.log and the metrics. */
    async recordOutcome(cfg: Config, result: SagaResult): Promise<void> {
      const seconds = (Date.parse(result.endedAt) - Date.parse(result.startedAt)) / 1000;
      incidentsTotal.inc({ pattern: result.patternId, outcome: result.outcome });
      if (Number.isFinite(seconds)) sagaDuration.observe({ pattern: result.patternId, outcome: result.outcome }, seconds);
      const line =
        result.outcome === 'fixed'
          ? { level: 'INFO' as const, message: `自動修復完了: ${result.patternId} (${result.incidentId})` }
          : { level: result.outcome === 'skipped' ? ('WARNING' as const) : ('ERROR' as const), message: `自動修復${result.outcome === 'skipped' ? 'スキップ' : '失敗'}: ${result.patternId} (${result.incidentId}) ${result.outcome}${result.reason ? ` — ${result.reason}` : ''}` };
      await writeAutoFixLog(cfg, [line]);
    },

    /** Compensation: puts a backup back byte for byte. */
    async restoreBackup(ref: BackupRef): Promise<{ restored: string[] }> {
      return await restoreBackup(ref);
    },

    /** Re-runs the probe or pattern that raised the incident. */
    verifyIncident,
  };
}

/** The activity interface the workflows proxy. */
export type Activities = ReturnType<typeof createActivities>;
