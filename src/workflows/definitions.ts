/**
 * Signals, queries, updates and the plain-JSON shapes shared by workflows, the worker and the
 * CLI. Importable from Node code (the CLI) as well as from workflow code.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Config, Severity } from '../config/schema';
import type { Detection, LogCursors } from '../detection/types';
import type { FixMemory, PauseState } from '../policy';

/** Task queue and workflow id of the single-host daemon (`--host` derives per-host ones). */
export const DEFAULT_TASK_QUEUE = 'autofix';
export const DAEMON_WORKFLOW_ID = 'autofix-daemon';

/** Compact health summary carried in state and shown by `status`. */
export interface HealthSummary {
  at: number;
  overall: 'healthy' | 'degraded' | 'unhealthy' | 'unknown';
  checks: Record<string, string>;
}

/** State carried across continue-as-new. Small and versioned. */
export interface DaemonState {
  v: 1;
  iteration: number;
  config: Config;
  cursors: LogCursors;
  /** Check name → epoch ms it last ran (workflow time). */
  lastRun: Record<string, number>;
  memory: Record<string, FixMemory>;
  /** Pattern id → incident workflow id of the saga that is running for it. */
  openIncidents: Record<string, string>;
  /** Pattern id → epoch ms its open incident started (to expire one whose end was never heard). */
  openSince?: Record<string, number>;
  pause: PauseState | null;
  lastHealth?: HealthSummary;
  lastLoopAt?: number;
  /** Loops run, detections reported, events counted (sum of detection counts), incidents started. */
  totals: { loops: number; detections: number; events: number; incidents: number };
}

/** Input of `autoFixDaemon`. Every field is optional; the config's `daemon` section gives defaults. */
export interface DaemonInput {
  /** Config file on the worker's host; default: the worker's default config. */
  configPath?: string;
  /** auto_fix.log path (the seed's --log-file). */
  logFile?: string;
  loopCount?: number;
  loopIntervalSeconds?: number;
  waitMinutes?: number;
  /** Host name stamped on incidents (multi-host setups). */
  host?: string;
  /** One loop, detect and fix, then return a summary (the seed's manual run). */
  once?: boolean;
  /** Internal: carried by continue-as-new. */
  state?: DaemonState;
}

/** What `autoFixDaemon` returns in one-shot mode (or when stopped). */
export interface DaemonSummary {
  iteration: number;
  loops: number;
  detections: Detection[];
  /** Incidents started; in one-shot mode with the saga's outcome. */
  incidents: Array<{ patternId: string; incidentId: string; outcome?: IncidentOutcome; reason?: string }>;
  skipped: Array<{ patternId: string; reason: string }>;
  health?: HealthSummary;
}

/** Argument of `pauseFixes`. */
export interface PauseArgs {
  reason?: string;
  minutes?: number;
}

/** Sent by a saga to the daemon when it ends, so cooldowns and open incidents stay right. */
export interface IncidentClosed {
  patternId: string;
  incidentId: string;
  outcome: IncidentOutcome;
  at: number;
}

export type IncidentOutcome = 'fixed' | 'failed_compensated' | 'failed' | 'skipped';

/** The `status` query's answer. */
export interface DaemonStatus {
  running: boolean;
  paused: boolean;
  pauseReason?: string;
  pausedUntil?: string;
  iteration: number;
  loop: number;
  loopCount: number;
  phase: 'starting' | 'detecting' | 'between_loops' | 'resting' | 'stopping';
  lastLoopAt?: string;
  nextLoopAt?: string;
  openIncidents: Record<string, string>;
  cooldowns: Record<string, string>;
  flapping: string[];
  lastHealth?: HealthSummary;
  totals: DaemonState['totals'];
  config: string;
  host?: string;
}

/** Input of `remediationSaga`. */
export interface SagaInput {
  incidentId: string;
  patternId: string;
  severity: Severity;
  detection: Detection;
  config: Config;
  host: string;
  dryRun?: boolean;
  /** Start already paused (manual fix while the daemon is paused) → outcome skipped. */
  paused?: boolean;
  /** Workflow id of the daemon to tell when done. */
  daemonWorkflowId?: string;
  /** Incident this one retries (`autofix incident retry`). */
  retryOf?: string;
  startedBy: 'daemon' | 'cli';
}

/** One step of a saga, as recorded in its result and shown by `autofix incident show`. */
export interface SagaStep {
  index: number;
  type: string;
  status: 'done' | 'failed' | 'planned' | 'skipped';
  summary: string;
  backup?: string;
  error?: string;
}

/** What `remediationSaga` returns. */
export interface SagaResult {
  incidentId: string;
  patternId: string;
  outcome: IncidentOutcome;
  reason?: string;
  steps: SagaStep[];
  verification?: { ok: boolean; message: string };
  compensations: Array<{ backup: string; ok: boolean; message: string }>;
  startedAt: string;
  endedAt: string;
}

export const pauseFixesSignal = defineSignal<[PauseArgs?]>('pauseFixes');
export const resumeFixesSignal = defineSignal('resumeFixes');
export const runNowSignal = defineSignal('runNow');
export const stopSignal = defineSignal('stop');
export const incidentClosedSignal = defineSignal<[IncidentClosed]>('incidentClosed');
export const statusQuery = defineQuery<DaemonStatus>('status');
/** Argument of `reloadConfig`: another config file, or none to re-read the current one. */
export interface ReloadArgs {
  path?: string;
}
export const reloadConfigUpdate = defineUpdate<{ patterns: number; source: string }, [ReloadArgs]>('reloadConfig');
export const sagaStatusQuery = defineQuery<SagaResult>('sagaStatus');
