/**
 * alert: notifies people about the incident (alerts.log always, plus the configured channels;
 * see ../notify). Deduplicated per incident so an activity retry does not send twice. A failing
 * channel does not fail the action: the result lists each channel's outcome.
 */
import type { ActionSpec } from '../config/schema';
import type { ActionContext, ActionDefinition } from './types';
import { selectChannels, sendNotification, type NotificationAlert } from '../notify';

type Spec = Extract<ActionSpec, { type: 'alert' }>;

/** The notification for this incident: the action's message, else the pattern's name and count. */
export function alertFor(ctx: ActionContext, spec: Spec): NotificationAlert {
  const { incident } = ctx;
  const d = incident.detection;
  const where = d.file ? ` in ${d.file}${d.first_line ? `:${d.first_line}` : ''}` : '';
  return {
    severity: incident.severity,
    message: spec.message ?? `${d.name} (${incident.patternId}) detected ${d.count} time(s)${where} on ${incident.host}`,
    incidentId: incident.incidentId,
    patternId: incident.patternId,
    dedupeKey: `alert:${incident.incidentId}:${spec.message ?? ''}`,
    details: { host: incident.host, source: d.source, file: d.file, count: d.count, samples: d.samples.slice(0, 3) },
  };
}

export const alert: ActionDefinition<Spec> = {
  type: 'alert',
  mutates: false,
  async plan(ctx, spec) {
    const a = alertFor(ctx, spec);
    const { run, skipped } = selectChannels(ctx.config, a);
    return {
      steps: [`notify (${run.join(', ')}): ${a.message}`, ...skipped.map((s) => `skip ${s.channel}: ${s.reason ?? ''}`)],
      targets: [],
    };
  },
  async run(ctx, spec) {
    const result = await sendNotification(ctx.config, alertFor(ctx, spec));
    const summary = result.deduplicated
      ? 'alert already sent for this incident'
      : `alert: ${result.channels.map((c) => `${c.channel} ${c.status}`).join(', ')}`;
    return { type: 'alert', summary, changed: [], details: { ...result } };
  },
};
