/**
 * Reads an incident saga's history into a timeline a person can follow: detection, each action
 * with its attempts and result, backups, verification, compensations, alerts, outcome.
 */
import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import type { SagaInput, SagaPlan, SagaResult } from '../../workflows/definitions';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
type Payloads = temporal.api.common.v1.IPayloads | null | undefined;

export interface TimelineEvent {
  time: string;
  step: string;
  detail: string;
}

export interface Timeline {
  incidentId: string;
  status: string;
  taskQueue: string;
  outcome?: string;
  input?: SagaInput;
  result?: SagaResult;
  events: TimelineEvent[];
}

/**
 * Decodes the first payload with the client's data converter, payload codecs included, so a
 * deployment that encrypts payloads still reads its incidents.
 */
async function decode<T>(client: Client, p: Payloads): Promise<T | undefined> {
  const payload = p?.payloads?.[0];
  if (!payload) return undefined;
  const dc = client.options.loadedDataConverter;
  let ps = [payload];
  for (const codec of [...dc.payloadCodecs].reverse()) ps = await codec.decode(ps);
  return ps[0] ? (dc.payloadConverter.fromPayload(ps[0]) as T) : undefined;
}

function timeOf(e: HistoryEvent): string {
  const t = e.eventTime;
  if (!t) return '';
  return new Date(Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6)).toISOString();
}

/** The one object argument of a saga activity, decoded by field name. */
interface ActivityArg {
  actionIndex?: number;
  backup?: { dir?: string };
  result?: { outcome?: string };
}

/** The action an activity worked on (e.g. "action #1 kill_process_on_port"), or its type. */
function stepName(type: string, arg: ActivityArg | undefined, plan: SagaPlan | undefined): string {
  const index = arg?.actionIndex;
  if (index === undefined) return type;
  const action = plan?.actions[index]?.type ?? '';
  const what = { runAction: 'action', backupForAction: 'backup before', planAction: 'dry-run' }[type] ?? type;
  return `${what} #${index} ${action}`.trim();
}

/** One line for a completed activity, by activity type. */
function describeResult(type: string, arg: ActivityArg | undefined, result: unknown, plan: SagaPlan | undefined): { step: string; detail: string } {
  const r = result as Record<string, unknown> | null | undefined;
  switch (type) {
    case 'planSaga': {
      const p = (r?.plan ?? {}) as Partial<SagaPlan>;
      return { step: 'plan', detail: `${(p.actions ?? []).map((a) => a.type).join(' → ') || 'no actions'} (config ${String((r?.configRef as { digest?: string } | undefined)?.digest ?? '').slice(0, 12)})` };
    }
    case 'runAction':
      return { step: stepName(type, arg, plan), detail: String(r?.summary ?? 'done') };
    case 'backupForAction':
      if (!r) return { step: stepName(type, arg, plan), detail: 'nothing to back up' };
      return {
        step: stepName(type, arg, plan),
        detail: `${String(r.dir)} (${String(r.entries)} entries${r.mode === 'manifest' ? `; names, sizes and sha256 only: ${String(r.reason ?? '')}` : ''}${r.keepsDeletions ? '; frees space: never undone' : ''})`,
      };
    case 'planAction':
      return { step: stepName(type, arg, plan), detail: ((r?.steps as string[] | undefined) ?? []).join('; ') || 'nothing to do' };
    case 'verifyIncident':
      return { step: 'verification', detail: `${r?.ok ? 'ok' : 'FAILED'}: ${String(r?.message ?? '')}` };
    case 'restoreBackup':
      return {
        step: 'compensation',
        detail: `restored ${((r?.restored as unknown[] | undefined) ?? []).length} path(s) from ${String(arg?.backup?.dir ?? '')}${((r?.notes as string[] | undefined) ?? []).map((n) => `; ${n}`).join('')}`,
      };
    case 'recordOutcome': {
      const channels = ((r?.channels as Array<{ channel: string; status: string }> | undefined) ?? []).map((c) => `${c.channel}=${c.status}`).join(', ');
      // No channel: the outcome is not an alert (a fix that worked or was skipped).
      return { step: 'recorded', detail: `outcome ${String(arg?.result?.outcome ?? '')} logged and counted; alert: ${r?.deduplicated ? 'already sent' : channels || 'none'}` };
    }
    case 'notify': {
      const channels = ((r?.channels as Array<{ channel: string; status: string }> | undefined) ?? []).map((c) => `${c.channel}=${c.status}`).join(', ');
      return { step: 'alert', detail: r?.deduplicated ? 'duplicate, not sent again' : channels || 'sent' };
    }
    default:
      return { step: type, detail: JSON.stringify(result)?.slice(0, 200) ?? '' };
  }
}

/** Builds the timeline of incident `id` from its history. */
export async function incidentTimeline(client: Client, id: string): Promise<Timeline> {
  const handle = client.workflow.getHandle(id);
  const desc = await handle.describe();
  const history = await handle.fetchHistory();
  const t: Timeline = { incidentId: id, status: desc.status.name, taskQueue: desc.taskQueue, events: [] };
  const scheduled = new Map<string, { type: string; arg: ActivityArg | undefined; attempt: number }>();
  let plan: SagaPlan | undefined;
  for (const e of history.events ?? []) {
    const time = timeOf(e);
    const push = (step: string, detail: string) => t.events.push({ time, step, detail });
    if (e.workflowExecutionStartedEventAttributes) {
      const input = await decode<SagaInput>(client, e.workflowExecutionStartedEventAttributes.input);
      if (input) {
        t.input = input;
        push('detected', ''); // filled in at the end: the worker's plan names the pattern
        if (input.retryOf) push('retry of', input.retryOf);
        if (input.dryRun) push('mode', 'dry run');
      }
    } else if (e.activityTaskScheduledEventAttributes) {
      const a = e.activityTaskScheduledEventAttributes;
      scheduled.set(String(e.eventId), { type: a.activityType?.name ?? '?', arg: await decode<ActivityArg>(client, a.input), attempt: 1 });
    } else if (e.activityTaskStartedEventAttributes) {
      const s = scheduled.get(String(e.activityTaskStartedEventAttributes.scheduledEventId));
      if (s) s.attempt = e.activityTaskStartedEventAttributes.attempt ?? 1;
    } else if (e.activityTaskCompletedEventAttributes) {
      const a = e.activityTaskCompletedEventAttributes;
      const s = scheduled.get(String(a.scheduledEventId));
      if (s) {
        const result = await decode(client, a.result);
        if (s.type === 'planSaga') plan = (result as { plan?: SagaPlan } | undefined)?.plan;
        const d = describeResult(s.type, s.arg, result, plan);
        push(d.step, `${d.detail}${s.attempt > 1 ? ` (attempt ${s.attempt})` : ''}`);
      }
    } else if (e.activityTaskFailedEventAttributes) {
      const a = e.activityTaskFailedEventAttributes;
      const s = scheduled.get(String(a.scheduledEventId));
      const f = a.failure;
      const type = f?.applicationFailureInfo?.type ?? f?.cause?.applicationFailureInfo?.type;
      push(`${s ? stepName(s.type, s.arg, plan) : 'activity'} FAILED`, `${type ? `${type}: ` : ''}${f?.message ?? ''} (after ${s?.attempt ?? 1} attempt(s))`);
    } else if (e.activityTaskTimedOutEventAttributes) {
      const s = scheduled.get(String(e.activityTaskTimedOutEventAttributes.scheduledEventId));
      push(`${s?.type ?? 'activity'} TIMED OUT`, `after ${s?.attempt ?? 1} attempt(s)`);
    } else if (e.workflowExecutionSignaledEventAttributes) {
      push('signal', e.workflowExecutionSignaledEventAttributes.signalName ?? '');
    } else if (e.workflowExecutionCompletedEventAttributes) {
      const r = await decode<SagaResult>(client, e.workflowExecutionCompletedEventAttributes.result);
      if (r) {
        t.result = r;
        t.outcome = r.outcome;
        push('outcome', `${r.outcome}${r.reason ? ` — ${r.reason}` : ''}`);
      }
    } else if (e.workflowExecutionFailedEventAttributes) {
      push('workflow FAILED', e.workflowExecutionFailedEventAttributes.failure?.message ?? '');
    } else if (e.workflowExecutionTerminatedEventAttributes) {
      push('terminated', e.workflowExecutionTerminatedEventAttributes.reason ?? '');
    }
  }
  const detected = t.events.find((e) => e.step === 'detected');
  if (detected && t.input) detected.detail = describeDetection(t.input.detection, plan);
  return t;
}

/** The detection line: the pattern's name and severity from the worker's plan, else from the daemon. */
function describeDetection(d: SagaInput['detection'], plan: SagaPlan | undefined): string {
  const name = plan?.name ?? d.name ?? d.id;
  const severity = plan?.severity ?? d.severity ?? '?';
  const where = d.file ? ` in ${d.file}${d.first_line ? `:${d.first_line}` : ''}` : '';
  return `${d.count === 0 ? 'manual fix: ' : ''}${name} (${d.id}, ${severity}) ×${d.count}${where}${d.samples[0] ? ` — ${d.samples[0]}` : ''}`;
}
