/**
 * Reads an incident saga's history into a timeline a person can follow: detection, each action
 * with its attempts and result, backups, verification, compensations, alerts, outcome.
 */
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import type { SagaInput, SagaResult } from '../../workflows/definitions';

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

function decode<T>(p: Payloads, i = 0): T | undefined {
  const payload = p?.payloads?.[i];
  return payload ? (defaultPayloadConverter.fromPayload(payload) as T) : undefined;
}

function timeOf(e: HistoryEvent): string {
  const t = e.eventTime;
  if (!t) return '';
  return new Date(Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6)).toISOString();
}

/** The action an activity worked on (e.g. "action #1 kill_process_on_port"), or its type. */
function stepName(type: string, args: unknown[], input: SagaInput | undefined): string {
  const index = typeof args[2] === 'number' ? args[2] : undefined;
  if (index === undefined) return type;
  const action = input?.config.error_patterns.find((p) => p.id === input.patternId)?.actions[index]?.type ?? '';
  const what = { runAction: 'action', backupForAction: 'backup before', planAction: 'dry-run' }[type] ?? type;
  return `${what} #${index} ${action}`.trim();
}

/** One line for a completed activity, by activity type. */
function describeResult(type: string, args: unknown[], result: unknown, input: SagaInput | undefined): { step: string; detail: string } {
  const index = typeof args[2] === 'number' ? args[2] : undefined;
  const action = index !== undefined ? input?.config.error_patterns.find((p) => p.id === input.patternId)?.actions[index]?.type : undefined;
  const r = result as Record<string, unknown> | null | undefined;
  switch (type) {
    case 'runAction':
      return { step: `action #${index} ${action ?? ''}`.trim(), detail: String(r?.summary ?? 'done') };
    case 'backupForAction':
      return { step: `backup before #${index} ${action ?? ''}`.trim(), detail: r ? `${String(r.dir)} (${String(r.entries)} entries)` : 'nothing to back up' };
    case 'planAction':
      return { step: `dry-run #${index} ${action ?? ''}`.trim(), detail: ((r?.steps as string[] | undefined) ?? []).join('; ') || 'nothing to do' };
    case 'verifyIncident':
      return { step: 'verification', detail: `${r?.ok ? 'ok' : 'FAILED'}: ${String(r?.message ?? '')}` };
    case 'restoreBackup':
      return { step: 'compensation', detail: `restored ${((r?.restored as unknown[] | undefined) ?? []).length} path(s) from ${String((args[0] as { dir?: string } | undefined)?.dir ?? '')}` };
    case 'recordOutcome':
      return { step: 'recorded', detail: `outcome ${String(r?.outcome ?? (args[1] as { outcome?: string } | undefined)?.outcome ?? '')} logged and counted` };
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
  const scheduled = new Map<string, { type: string; args: unknown[]; attempt: number }>();
  for (const e of history.events ?? []) {
    const time = timeOf(e);
    const push = (step: string, detail: string) => t.events.push({ time, step, detail });
    if (e.workflowExecutionStartedEventAttributes) {
      const input = decode<SagaInput>(e.workflowExecutionStartedEventAttributes.input);
      if (input) {
        t.input = input;
        const d = input.detection;
        push('detected', `${d.name} (${d.id}, ${d.severity}) ×${d.count}${d.file ? ` in ${d.file}${d.first_line ? `:${d.first_line}` : ''}` : ''}${d.samples[0] ? ` — ${d.samples[0]}` : ''}`);
        if (input.retryOf) push('retry of', input.retryOf);
        if (input.dryRun) push('mode', 'dry run');
      }
    } else if (e.activityTaskScheduledEventAttributes) {
      const a = e.activityTaskScheduledEventAttributes;
      const args: unknown[] = (a.input?.payloads ?? []).map((_, i) => decode(a.input, i));
      scheduled.set(String(e.eventId), { type: a.activityType?.name ?? '?', args, attempt: 1 });
    } else if (e.activityTaskStartedEventAttributes) {
      const s = scheduled.get(String(e.activityTaskStartedEventAttributes.scheduledEventId));
      if (s) s.attempt = e.activityTaskStartedEventAttributes.attempt ?? 1;
    } else if (e.activityTaskCompletedEventAttributes) {
      const a = e.activityTaskCompletedEventAttributes;
      const s = scheduled.get(String(a.scheduledEventId));
      if (s) {
        const d = describeResult(s.type, s.args, decode(a.result), t.input);
        push(d.step, `${d.detail}${s.attempt > 1 ? ` (attempt ${s.attempt})` : ''}`);
      }
    } else if (e.activityTaskFailedEventAttributes) {
      const a = e.activityTaskFailedEventAttributes;
      const s = scheduled.get(String(a.scheduledEventId));
      const f = a.failure;
      const type = f?.applicationFailureInfo?.type ?? f?.cause?.applicationFailureInfo?.type;
      push(`${s ? stepName(s.type, s.args, t.input) : 'activity'} FAILED`, `${type ? `${type}: ` : ''}${f?.message ?? ''} (after ${s?.attempt ?? 1} attempt(s))`);
    } else if (e.activityTaskTimedOutEventAttributes) {
      const s = scheduled.get(String(e.activityTaskTimedOutEventAttributes.scheduledEventId));
      push(`${s?.type ?? 'activity'} TIMED OUT`, `after ${s?.attempt ?? 1} attempt(s)`);
    } else if (e.workflowExecutionSignaledEventAttributes) {
      push('signal', e.workflowExecutionSignaledEventAttributes.signalName ?? '');
    } else if (e.workflowExecutionCompletedEventAttributes) {
      const r = decode<SagaResult>(e.workflowExecutionCompletedEventAttributes.result);
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
  return t;
}
