/**
 * `remediationSaga`: one incident's fix. Runs the pattern's actions in order, each an activity
 * with the config's retry policy; backs up before every action that changes anything and
 * registers the restore as a compensation; verifies; on failure runs the compensations newest
 * first (logging, not rethrowing, a compensation's own error), then alerts.
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
import type { Activities } from '../activities';
import type { BackupRef } from '../activities/backup';
import {
  incidentClosedSignal,
  pauseFixesSignal,
  resumeFixesSignal,
  sagaStatusQuery,
  type IncidentOutcome,
  type SagaInput,
  type SagaResult,
  type SagaStep,
} from './definitions';
import { AutofixOutcome, AutofixTarget, incidentSearchAttributes } from './search-attributes';

/** Error types that no retry can fix; the retry policy never repeats them. */
export const NON_RETRYABLE = ['UnsafePathError', 'RefusedError', 'ConfigError', 'BadParamsError'];

/** The message of a failure, unwrapping the activity wrapper. */
function failureMessage(err: unknown): string {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) return `${cause.type ?? 'Error'}: ${cause.message}`;
  return cause instanceof Error ? cause.message : String(cause);
}

/** The saga workflow. See the module comment. */
export async function remediationSaga(input: SagaInput): Promise<SagaResult> {
  const cfg = input.config;
  const afc = cfg.auto_fix_config;
  const actions = cfg.error_patterns.find((p) => p.id === input.patternId)?.actions ?? [];
  const acts = proxyActivities<Activities>({
    startToCloseTimeout: `${afc.action_timeout_seconds} seconds`,
    retry: {
      maximumAttempts: afc.max_retries,
      initialInterval: `${afc.retry_delay} seconds`,
      backoffCoefficient: 2,
      nonRetryableErrorTypes: NON_RETRYABLE,
    },
  });
  // Verification, compensation and alerts get their own short, patient policies.
  const support = proxyActivities<Activities>({
    startToCloseTimeout: `${Math.max(afc.verify_timeout_seconds, 30)} seconds`,
    retry: { maximumAttempts: 5, initialInterval: '1 second', nonRetryableErrorTypes: NON_RETRYABLE },
  });

  let paused = input.paused === true;
  const result: SagaResult = {
    incidentId: input.incidentId,
    patternId: input.patternId,
    outcome: 'skipped',
    steps: [],
    compensations: [],
    startedAt: new Date().toISOString(),
    endedAt: '',
  };
  setHandler(pauseFixesSignal, () => {
    paused = true;
  });
  setHandler(resumeFixesSignal, () => {
    paused = false;
  });
  setHandler(sagaStatusQuery, () => result);

  const targets = actions.flatMap((a) => ('service' in a ? [a.service] : []));
  upsertSearchAttributes([
    ...incidentSearchAttributes(input.patternId, input.severity, input.host),
    ...(targets.length || input.detection.file ? [{ key: AutofixTarget, value: targets[0] ?? input.detection.file ?? '' }] : []),
  ]);

  const finish = async (outcome: IncidentOutcome, reason?: string): Promise<SagaResult> => {
    result.outcome = outcome;
    if (reason) result.reason = reason;
    result.endedAt = new Date().toISOString();
    upsertSearchAttributes([{ key: AutofixOutcome, value: outcome }]);
    await support.recordOutcome.executeWithOptions({ summary: `record outcome ${outcome}` }, [cfg, result]);
    const severity = outcome === 'fixed' || outcome === 'skipped' ? 'warning' : 'critical';
    await support.notify.executeWithOptions({ summary: `alert: ${outcome}` }, [
      cfg,
      {
        severity,
        message: `incident ${input.incidentId} (${input.patternId}): ${outcome}${reason ? ` — ${reason}` : ''}`,
        incidentId: input.incidentId,
        patternId: input.patternId,
        dedupeKey: `${input.incidentId}-${outcome}`,
        details: { steps: result.steps, verification: result.verification },
      },
    ]);
    if (input.daemonWorkflowId) {
      try {
        await getExternalWorkflowHandle(input.daemonWorkflowId).signal(incidentClosedSignal, {
          patternId: input.patternId,
          incidentId: input.incidentId,
          outcome,
          at: Date.now(),
        });
      } catch (err) {
        log.warn('could not tell the daemon the incident closed', { error: String(err) });
      }
    }
    return result;
  };

  if (paused) return await finish('skipped', 'fixes are paused');
  if (input.dryRun) {
    for (const [index, spec] of actions.entries()) {
      try {
        const plan = await support.planAction.executeWithOptions(
          { summary: `dry run #${index} ${spec.type}` },
          [cfg, input, index],
        );
        result.steps.push({
          index,
          type: spec.type,
          status: 'planned',
          summary: plan.steps.join('; ') || 'nothing to do',
        });
      } catch (err) {
        // A dry run reports a refusal as what would happen; it never fails the incident.
        const error = failureMessage(err);
        result.steps.push({
          index,
          type: spec.type,
          status: 'failed',
          summary: `would fail: ${error}`,
          error,
        });
      }
    }
    return await finish('skipped', 'dry run: nothing was changed');
  }

  const compensations: BackupRef[] = [];
  let failure: string | undefined;
  for (const [index, spec] of actions.entries()) {
    if (paused) {
      failure = 'fixes were paused during the fix';
      break;
    }
    const step: SagaStep = { index, type: spec.type, status: 'done', summary: '' };
    result.steps.push(step);
    try {
      if (afc.backup_before_fix) {
        const backup = await acts.backupForAction.executeWithOptions(
          { summary: `back up before #${index} ${spec.type}` },
          [cfg, input, index],
        );
        if (backup) {
          compensations.unshift(backup);
          step.backup = backup.dir;
        }
      }
      const r = await acts.runAction.executeWithOptions(
        { summary: `#${index} ${spec.type}${spec.description ? `: ${spec.description}` : ''}` },
        [cfg, input, index],
      );
      step.summary = r.summary;
    } catch (err) {
      step.status = 'failed';
      step.error = failureMessage(err);
      step.summary = `failed: ${step.error}`;
      failure = `action ${index} (${spec.type}) failed: ${step.error}`;
      break;
    }
  }
  if (!failure) {
    try {
      result.verification = await support.verifyIncident.executeWithOptions(
        { summary: `verify ${input.patternId} is gone` },
        [cfg, input],
      );
      if (!result.verification.ok) failure = `verification failed: ${result.verification.message}`;
    } catch (err) {
      const message = failureMessage(err);
      result.verification = { ok: false, message };
      failure = `verification failed: ${message}`;
    }
  }
  if (!failure) return await finish('fixed');

  for (const ref of compensations) {
    try {
      const r = await support.restoreBackup.executeWithOptions(
        { summary: `compensate: restore ${ref.dir}` },
        [ref],
      );
      result.compensations.push({
        backup: ref.dir,
        ok: true,
        message: `restored ${r.restored.length} path(s)`,
      });
    } catch (err) {
      result.compensations.push({ backup: ref.dir, ok: false, message: failureMessage(err) });
      log.error('compensation failed', { backup: ref.dir, error: failureMessage(err) });
    }
  }
  const compensated = compensations.length > 0 && result.compensations.every((c) => c.ok);
  return await finish(compensated ? 'failed_compensated' : 'failed', failure);
}
