/**
 * The contract of one remediation action type. One file per type under this folder, each
 * registered by its type name in `./index.ts`: adding an action type = one file + one map entry.
 */
import type { ActionSpec, ActionType, Config } from '../config/schema';
import type { Detection } from '../detection/types';

/** What an action knows about the incident it is fixing. Plain JSON. */
export interface IncidentRef {
  incidentId: string;
  patternId: string;
  severity: Detection['severity'];
  detection: Detection;
  host: string;
}

/** Everything an action gets when it runs (built by the saga's activities). */
export interface ActionContext {
  config: Config;
  incident: IncidentRef;
  /** Log a line to auto_fix.log (and the activity log). */
  log: (level: 'INFO' | 'WARNING' | 'ERROR', message: string) => void;
  /** Aborted when the activity is cancelled or times out. */
  signal: AbortSignal;
  /**
   * Where this saga run keeps its backups (set by the activities; absent in dry runs and tests
   * that call an action directly). `step` is this action's own backup folder: it exists when a
   * backup was taken before the action (`backup_before_fix`).
   */
  backup?: { store: string; run: string; step: string };
}

/** The result of one action, recorded in the saga's history. Plain JSON. */
export interface ActionResult {
  type: ActionType;
  /** One line a person reads in the Web UI / incident timeline. */
  summary: string;
  /** Paths or resources that were changed or removed. */
  changed: string[];
  details?: Record<string, unknown>;
}

/** A file or directory an action will change or delete, to be backed up first. */
export interface BackupTarget {
  path: string;
  /** Record only mode/owner/mtime, not the content (e.g. fix_permissions). @default false */
  metadataOnly?: boolean;
}

/** What an action would do (dry-run lines) and what to back up before it does it. */
export interface ActionPlan {
  steps: string[];
  targets: BackupTarget[];
  /** cache_clear: the Redis keys under this prefix are DUMPed into the backup as they are removed. */
  redisPrefix?: string;
}

/** One action type. `S` is its spec (the config's action entry). */
export interface ActionDefinition<S extends ActionSpec = ActionSpec> {
  type: S['type'];
  /** True when the action changes or deletes anything (backed up when backup_before_fix). */
  mutates: boolean;
  /**
   * True when its purpose is freeing disk space (log_rotate, temp/old_file_cleanup): its backup
   * keeps copies only when they fit without filling the disk, and compensation never puts back
   * what it removed (see src/backup/space.ts).
   */
  freesSpace?: boolean;
  /**
   * What the action would touch, resolved and checked against managed roots; used both for the
   * backup taken before it runs and for dry-run. Throws a non-retryable failure on a refusal.
   */
  plan(ctx: ActionContext, spec: S): Promise<ActionPlan>;
  /** Does it. Transient failures throw plain Errors (retried); refusals throw non-retryable ones. */
  run(ctx: ActionContext, spec: S): Promise<ActionResult>;
}
