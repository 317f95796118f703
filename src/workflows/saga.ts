/**
 * `remediationSaga`: one incident's fix. Pins the config version it runs under (the daemon's,
 * else the worker's current one) and gets the pattern's plan from the worker; then runs the
 * actions in order, each an activity with the config's retry policy; backs up before every action
 * that changes anything and registers the restore as a compensation; verifies; on failure runs
 * the compensations newest first (logging, not rethrowing, a compensation's own error), then
 * alerts. Its input names the incident; the worker's config decides what the actions are.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  getExternalWorkflowHandle,
  log,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { Activities, IncidentArg } from '../activities';
import type { BackupRef } from '../backup';
import { FailureType, NON_RETRYABLE_TYPES } from '../errors';
import {
  incidentClosedSignal,
  pauseFixesSignal,
  resumeFixesSignal,
  sagaStatusQuery,
  type ConfigRef,
  type IncidentOutcome,
  type SagaInput,
  type SagaPlan,
  type SagaResult,
  type SagaStep,
} from './definitions';
import { parseInput, sagaInputSchema } from './inputs';
import { AutofixOutcome, AutofixSeverity, AutofixTarget } from './search-attributes';

// Planning, verification, compensation and alerts get their own short, patient policy.
const support = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { maximumAttempts: 5, initialInterval: '1 second', nonRetryableErrorTypes: NON_RETRYABLE_TYPES },
});

/** What one saga knows while it runs. */
interface Saga {
  input: SagaInput;
  /** Set by the pauseFixes/resumeFixes signals (forwarded by the daemon). */
  paused: boolean;
  result: SagaResult;
}

/** A saga once the worker has pinned its config version and given its plan. */
type PlannedSaga = Saga & { configRef: ConfigRef; plan: SagaPlan; incident: IncidentArg };

/** The message of a failure, unwrapping the activity wrapper. */
function failureMessage(err: unknown): string {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) return `${cause.type ?? 'Error'}: ${cause.message}`;
  return cause instanceof Error ? cause.message : String(cause);
}

/** The message of an action that refused because its live probe found the service healthy. */
function serviceHealthyMessage(err: unknown): string | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure && cause.type === FailureType.ServiceHealthy ? cause.message : undefined;
}

/** The saga workflow. See the module comment. */
export async function remediationSaga(raw: SagaInput): Promise<SagaResult> {
  const input = parseInput(sagaInputSchema, raw, 'remediationSaga input');
  const d = input.detection;
  const saga: Saga = {
    input,
    paused: input.paused === true,
    result: { incidentId: input.incidentId, patternId: input.patternId, outcome: 'skipped', steps: [], compensations: [], startedAt: new Date().toISOString(), endedAt: '' },
  };
  setHandler(pauseFixesSignal, () => void (saga.paused = true));
  setHandler(resumeFixesSignal, () => void (saga.paused = false));
  setHandler(sagaStatusQuery, () => saga.result);

  const pinned = await support.planSaga.executeWithOptions({ summary: `plan ${input.patternId}` }, [
    { ...(input.configRef ? { configRef: input.configRef } : {}), patternId: input.patternId, ...(d.file ? { file: d.file } : {}) },
  ]);
  const { plan } = pinned;
  // The incident as the activities get it: ids and where it was seen (small: one short sample).
  const incident: IncidentArg = {
    incidentId: input.incidentId,
    patternId: input.patternId,
    host: input.host,
    source: d.source,
    count: d.count,
    ...(d.file !== undefined ? { file: d.file } : {}),
    ...(d.first_line !== undefined ? { firstLine: d.first_line } : {}),
    ...(d.last_line !== undefined ? { lastLine: d.last_line } : {}),
    ...(d.samples[0] ? { sample: d.samples[0].slice(0, 160) } : {}),
  };
  const planned: PlannedSaga = Object.assign(saga, pinned, { incident });
  planned.result.config = pinned.configRef;
  upsertSearchAttributes([{ key: AutofixSeverity, value: plan.severity }, ...(plan.target ? [{ key: AutofixTarget, value: plan.target }] : [])]);

  if (planned.paused) return await finish(planned, 'skipped', 'fixes are paused');
  // The config's dry_run wins over the input: a client may ask for a dry run, never for a real one.
  if (input.dryRun || plan.dryRun) {
    await dryRun(planned);
    return await finish(planned, 'skipped', 'dry run: nothing was changed');
  }
  const compensations: BackupRef[] = [];
  const stopped = await runActions(planned, compensations);
  // A live probe found the service healthy: nothing was interrupted, nothing needs verifying.
  // People hear of it: something claimed a fault the service's own check does not see.
  if (planned.result.steps.at(-1)?.status === 'skipped') return await finish(planned, 'skipped', stopped, { alert: true });
  const failure = stopped ?? (await verify(planned));
  if (!failure) return await finish(planned, 'fixed');
  await compensate(planned, compensations);
  const compensated = compensations.length > 0 && planned.result.compensations.every((c) => c.ok);
  return await finish(planned, compensated ? 'failed_compensated' : 'failed', failure);
}

/** The retry policy of the pattern's actions, from the config's plan. */
function actionActivities(plan: SagaPlan) {
  return proxyActivities<Activities>({
    startToCloseTimeout: `${plan.retry.action_timeout_seconds} seconds`,
    retry: {
      maximumAttempts: plan.retry.max_retries,
      initialInterval: `${plan.retry.retry_delay} seconds`,
      backoffCoefficient: 2,
      nonRetryableErrorTypes: NON_RETRYABLE_TYPES,
    },
  });
}

/** Records what each action would do; a refusal is reported as what would happen. */
async function dryRun(saga: PlannedSaga): Promise<void> {
  for (const [index, spec] of saga.plan.actions.entries()) {
    try {
      const plan = await support.planAction.executeWithOptions({ summary: `dry run #${index} ${spec.type}` }, [{ configRef: saga.configRef, incident: saga.incident, actionIndex: index }]);
      saga.result.steps.push({ index, type: spec.type, status: 'planned', summary: plan.steps.join('; ') || 'nothing to do' });
    } catch (err) {
      const error = failureMessage(err);
      saga.result.steps.push({ index, type: spec.type, status: 'failed', summary: `would fail: ${error}`, error });
    }
  }
}

/** Runs the actions in order (backup first); returns why it stopped early, if it did. */
async function runActions(saga: PlannedSaga, compensations: BackupRef[]): Promise<string | undefined> {
  const acts = actionActivities(saga.plan);
  for (const [index, spec] of saga.plan.actions.entries()) {
    if (saga.paused) return 'fixes were paused during the fix';
    const step: SagaStep = { index, type: spec.type, status: 'done', summary: '' };
    saga.result.steps.push(step);
    const args = { configRef: saga.configRef, incident: saga.incident, actionIndex: index };
    try {
      if (saga.plan.backupBeforeFix && spec.mutates) {
        const backup = await acts.backupForAction.executeWithOptions({ summary: `back up before #${index} ${spec.type}` }, [args]);
        if (backup) {
          compensations.unshift(backup);
          step.backup = backup.dir;
        }
      }
      const r = await acts.runAction.executeWithOptions({ summary: `#${index} ${spec.type}${spec.description ? `: ${spec.description}` : ''}` }, [args]);
      step.summary = r.summary;
    } catch (err) {
      const healthy = serviceHealthyMessage(err);
      if (healthy) {
        step.status = 'skipped';
        step.summary = healthy;
        return healthy;
      }
      step.status = 'failed';
      step.error = failureMessage(err);
      step.summary = `failed: ${step.error}`;
      return `action ${index} (${spec.type}) failed: ${step.error}`;
    }
  }
  return undefined;
}

/** Re-checks that the incident's cause is gone; returns why not, if not. */
async function verify(saga: PlannedSaga): Promise<string | undefined> {
  try {
    saga.result.verification = await support.verifyIncident.executeWithOptions(
      { summary: `verify ${saga.input.patternId} is gone`, startToCloseTimeout: `${Math.max(saga.plan.retry.verify_timeout_seconds, 30) + 30} seconds` },
      [{ configRef: saga.configRef, incident: saga.incident }],
    );
    return saga.result.verification.ok ? undefined : `verification failed: ${saga.result.verification.message}`;
  } catch (err) {
    const message = failureMessage(err);
    saga.result.verification = { ok: false, message };
    return `verification failed: ${message}`;
  }
}

/** Restores the backups newest first; a compensation's own failure is recorded, not rethrown. */
async function compensate(saga: PlannedSaga, backups: BackupRef[]): Promise<void> {
  for (const backup of backups) {
    try {
      const r = await support.restoreBackup.executeWithOptions({ summary: `compensate: restore ${backup.dir.split('/').slice(-2).join('/')}` }, [{ configRef: saga.configRef, backup }]);
      saga.result.compensations.push({ backup: backup.dir, ok: true, message: `restored ${r.restored.length} path(s)` });
    } catch (err) {
      saga.result.compensations.push({ backup: backup.dir, ok: false, message: failureMessage(err) });
      log.error('compensation failed', { backup: backup.dir, error: failureMessage(err) });
    }
  }
}

/** Ends the saga: outcome in the result and search attributes, the completion line, an alert, the daemon told. */
async function finish(saga: PlannedSaga, outcome: IncidentOutcome, reason?: string, opts: { alert?: boolean } = {}): Promise<SagaResult> {
  const { input, result } = saga;
  result.outcome = outcome;
  if (reason) result.reason = reason;
  result.endedAt = new Date().toISOString();
  upsertSearchAttributes([{ key: AutofixOutcome, value: outcome }]);
  const { incidentId, patternId, startedAt, endedAt } = result;
  // One activity closes the incident: completion line, metrics and alert. The alert carries an
  // outline; the whole story is in this history (`autofix incident show`).
  await support.recordOutcome.executeWithOptions({ summary: `close: ${outcome}` }, [
    {
      configRef: saga.configRef,
      result: {
        incidentId,
        patternId,
        outcome,
        ...(reason ? { reason: reason.slice(0, 200) } : {}),
        seconds: (Date.parse(endedAt) - Date.parse(startedAt)) / 1000,
        ...(opts.alert ? { alert: true } : {}),
        steps: result.steps.map((s) => `#${s.index} ${s.type}: ${s.status}`),
        ...(result.verification ? { verification: result.verification.message.slice(0, 200) } : {}),
      },
    },
  ]);
  if (input.daemonWorkflowId) {
    try {
      await getExternalWorkflowHandle(input.daemonWorkflowId).signal(incidentClosedSignal, { patternId: input.patternId, incidentId: input.incidentId, outcome, at: Date.now() });
    } catch (err) {
      log.warn('could not tell the daemon the incident closed', { error: String(err) });
    }
  }
  return result;
}

