/**
 * The contract of one remediation action type. One file per type under this folder, each
 * registered by its type name in `./index.ts`: adding an action type = one file + one map entry.
 */
import type { ActionSpec, ActionType, Config } from '../../config/schema';
import type { Detection } from '../../detection/types';

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

/** One action type. `S` is its spec (the config's action entry). */
export interface ActionDefinition<S extends ActionSpec = ActionSpec> {
  type: S['type'];
  /** True when the action changes or deletes anything (backed up when backup_before_fix). */
  mutates: boolean;
  /**
   * What the action would touch, resolved and checked against managed roots; used both for the
   * backup taken before it runs and for dry-run. Throws a non-retryable failure on a refusal.
   */
  plan(ctx: ActionContext, spec: S): Promise<{ steps: string[]; targets: BackupTarget[] }>;
  /** Does it. Transient failures throw plain Errors (retried); refusals throw non-retryable ones. */
  run(ctx: ActionContext, spec: S): Promise<ActionResult>;
}
