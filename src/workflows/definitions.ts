/**
 * Signals, queries, updates and the plain-JSON shapes shared by workflows, the worker and the
 * CLI. Importable from Node code (the CLI) as well as from workflow code.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Detection } from '../detection/types';
import type { DaemonState, PauseArgs, ReloadArgs, RunNowArgs } from './inputs';
import type { ConfigRef } from '../config/store';

/** Task queue and workflow id of the single-host daemon (`--host` derives per-host ones). */
export const DEFAULT_TASK_QUEUE = 'autofix';
export const DAEMON_WORKFLOW_ID = 'autofix-daemon';

/** Compact health summary carried in state and shown by `status`. */
export type HealthSummary = NonNullable<DaemonState['lastHealth']>;

export type { DaemonInput, DaemonState, PauseArgs, ReloadArgs, RunNowArgs, SagaInput, WakeReason } from './inputs';
export type { ConfigRef } from '../config/store';
export type { DaemonView, SagaPlan } from '../activities/views';

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
  /** The config version the saga ran under. */
  config?: ConfigRef;
  startedAt: string;
  endedAt: string;
}

export const pauseFixesSignal = defineSignal<[PauseArgs?]>('pauseFixes');
export const resumeFixesSignal = defineSignal('resumeFixes');
/** Runs a loop now: a manual run-now (no argument) or a watcher's event (`{ reason, checks }`); see inputs.ts. */
export const runNowSignal = defineSignal<[RunNowArgs?]>('runNow');
export const stopSignal = defineSignal('stop');
export const incidentClosedSignal = defineSignal<[IncidentClosed]>('incidentClosed');
export const statusQuery = defineQuery<DaemonStatus>('status');
/** Re-reads the worker's own config file (no argument: a client cannot name another file). */
export const reloadConfigUpdate = defineUpdate<{ patterns: number; source: string; changed: boolean }, [ReloadArgs]>('reloadConfig');
export const sagaStatusQuery = defineQuery<SagaResult>('sagaStatus');
