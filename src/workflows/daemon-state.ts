/**
 * The daemon's carried state and the pure steps that change it: a new state, folding a loop's
 * result in, one decision per pattern, incidents opening, closing and expiring. No Temporal
 * calls and no clocks (the workflow passes workflow time), so it is tested without a server.
 */
import type { Detection } from '../detection/types';
import { sagaTimeLimitMs } from '../policy';
import type { DaemonView } from '../activities/views';
import type { DaemonInput, DaemonState, HealthSummary, IncidentClosed } from './definitions';

/** A daemon's first state. */
export function newDaemonState(): DaemonState {
  return {
    v: 2,
    iteration: 1,
    cursors: {},
    lastRun: {},
    memory: {},
    openIncidents: {},
    pause: null,
    totals: { loops: 0, detections: 0, events: 0, incidents: 0 },
  };
}

/** The cadence of this run: the input's overrides, else the config's (via its view). */
export function cadence(input: DaemonInput, view: DaemonView): { loopCount: number; intervalMs: number; waitMs: number } {
  return {
    loopCount: input.loopCount ?? view.loopCount,
    intervalMs: (input.loopIntervalSeconds ?? view.loopIntervalSeconds) * 1000,
    waitMs: (input.waitMinutes ?? view.waitMinutes) * 60_000,
  };
}

/** Folds one finished loop into the state. */
export function recordLoop(
  state: DaemonState,
  r: { cursors: DaemonState['cursors']; health?: HealthSummary; detections: Detection[] },
  due: readonly string[],
  now: number,
): void {
  state.cursors = r.cursors;
  for (const c of due) state.lastRun[c] = now;
  if (r.health) state.lastHealth = r.health;
  state.lastLoopAt = now;
  state.totals.loops++;
  state.totals.detections += r.detections.length;
  state.totals.events += r.detections.reduce((n, d) => n + d.count, 0);
}

/** One detection per pattern: the one with the most events (one decision per pattern per loop). */
export function strongestPerPattern(detections: readonly Detection[]): Detection[] {
  const byPattern = new Map<string, Detection>();
  for (const d of detections) {
    const prev = byPattern.get(d.id);
    if (!prev || d.count > prev.count) byPattern.set(d.id, d);
  }
  return [...byPattern.values()];
}

/** Notes an incident started for a pattern. */
export function openIncident(state: DaemonState, patternId: string, incidentId: string, now: number): void {
  (state.memory[patternId] ??= { fixes: [] }).fixes.push(now);
  state.openIncidents[patternId] = { id: incidentId, since: now };
  state.totals.incidents++;
}

/** Forgets a pattern's open incident when its saga says it ended. */
export function closeIncident(state: DaemonState, c: IncidentClosed): void {
  if (state.openIncidents[c.patternId]?.id === c.incidentId) delete state.openIncidents[c.patternId];
}

/**
 * Forgets open incidents whose end was never heard (a saga terminated by hand, say) once they are
 * older than any saga could run under this config, so their pattern is not blocked forever.
 * Returns the forgotten ones.
 */
export function expireOpenIncidents(state: DaemonState, view: DaemonView, now: number): Array<{ patternId: string; id: string }> {
  const expired: Array<{ patternId: string; id: string }> = [];
  for (const [patternId, open] of Object.entries(state.openIncidents)) {
    const actions = view.patterns.find((p) => p.id === patternId)?.actions ?? 1;
    if (now - open.since > sagaTimeLimitMs(view.sagaLimits, actions)) {
      expired.push({ patternId, id: open.id });
      delete state.openIncidents[patternId];
    }
  }
  return expired;
}
