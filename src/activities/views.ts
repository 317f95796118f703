/**
 * What the workflows may know of the config: the orchestration settings (cadence, cooldowns,
 * retry policies) and the names of patterns and actions — never a path, an argv, a URL or a
 * secret. Pure, derived from a validated `Config` inside the worker; a workflow gets a view with
 * its `ConfigRef` and hands the reference (not the view) back to every activity, which resolves
 * the real config itself. So a view is only ever advice for scheduling: nothing a client could
 * forge in one makes the worker run anything the config does not name.
 */
import { actionFor } from '../actions';
import { checkIntervals } from '../probes';
import type { Config, Severity } from '../config/schema';

/** The daemon's view of the config. */
export interface DaemonView {
  /** The config file (shown by `status`). */
  source: string;
  loopCount: number;
  loopIntervalSeconds: number;
  waitMinutes: number;
  /** Check name → seconds between runs. */
  checkIntervals: Record<string, number>;
  cooldownSeconds: number;
  flap: Config['auto_fix_config']['flap_guard'];
  dryRun: boolean;
  /** Upper bound of one saga's run time, per pattern (to expire an incident whose end is never heard). */
  sagaLimits: Pick<Config['auto_fix_config'], 'action_timeout_seconds' | 'max_retries' | 'retry_delay' | 'verify_timeout_seconds'>;
  patterns: Array<{ id: string; name: string; severity: Severity; autoFix: boolean; actions: number }>;
}

/** One action of a saga's plan: what it is, not how it is done. */
export interface PlannedAction {
  type: string;
  description?: string;
  /** True when it changes or deletes anything (backed up first). */
  mutates: boolean;
}

/** A saga's view of its pattern. */
export interface SagaPlan {
  patternId: string;
  name: string;
  severity: Severity;
  actions: PlannedAction[];
  retry: Pick<Config['auto_fix_config'], 'action_timeout_seconds' | 'max_retries' | 'retry_delay' | 'verify_timeout_seconds'>;
  backupBeforeFix: boolean;
  dryRun: boolean;
  /** The service or file the fix is about (the AutofixTarget search attribute). */
  target?: string;
}

function retryOf(cfg: Config): SagaPlan['retry'] {
  const a = cfg.auto_fix_config;
  return {
    action_timeout_seconds: a.action_timeout_seconds,
    max_retries: a.max_retries,
    retry_delay: a.retry_delay,
    verify_timeout_seconds: a.verify_timeout_seconds,
  };
}

/**
 * The daemon's view of a config.
 *
 * @example daemonView(loadConfig()).loopCount // 15
 */
export function daemonView(cfg: Config): DaemonView {
  const a = cfg.auto_fix_config;
  return {
    source: cfg.source,
    loopCount: cfg.daemon.loop_count,
    loopIntervalSeconds: cfg.daemon.loop_interval_seconds,
    waitMinutes: cfg.daemon.wait_minutes,
    checkIntervals: checkIntervals(cfg),
    cooldownSeconds: a.cooldown_period,
    flap: { ...a.flap_guard },
    dryRun: a.dry_run,
    sagaLimits: retryOf(cfg),
    patterns: cfg.error_patterns.map((p) => ({ id: p.id, name: p.name, severity: p.severity, autoFix: p.auto_fix, actions: p.actions.length })),
  };
}

/**
 * A saga's plan for `patternId`, or undefined when the config has no such pattern.
 *
 * @example sagaPlan(cfg, 'redis_connection')?.actions // [{ type: 'service_restart', mutates: true, … }]
 */
export function sagaPlan(cfg: Config, patternId: string, detectedFile?: string): SagaPlan | undefined {
  const p = cfg.error_patterns.find((x) => x.id === patternId);
  if (!p) return undefined;
  const service = p.actions.flatMap((a) => (a.type === 'service_restart' ? [a.service] : []))[0];
  const target = service ?? detectedFile;
  return {
    patternId,
    name: p.name,
    severity: p.severity,
    actions: p.actions.map((a) => ({ type: a.type, ...(a.description ? { description: a.description } : {}), mutates: actionFor(a).mutates })),
    retry: retryOf(cfg),
    backupBeforeFix: cfg.auto_fix_config.backup_before_fix,
    dryRun: cfg.auto_fix_config.dry_run,
    ...(target ? { target } : {}),
  };
}
