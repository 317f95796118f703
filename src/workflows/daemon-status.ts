/**
 * The daemon's `status` answer, built from its carried state and its live loop position. Pure:
 * workflow code calls it from the query handler with workflow time.
 */
import type { DaemonView } from '../activities/views';
import { isPaused } from '../policy';
import type { DaemonState, DaemonStatus } from './definitions';

/** Where the daemon is right now (not part of the carried state). */
export interface LoopPosition {
  running: boolean;
  loop: number;
  loopCount: number;
  phase: DaemonStatus['phase'];
  nextLoopAt?: number;
  host: string;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Builds the `status` query's answer at `now`. */
export function buildStatus(state: DaemonState, view: DaemonView | undefined, pos: LoopPosition, now: number): DaemonStatus {
  // The worker's config view is still on its way during the first moments of a new daemon.
  const paused = isPaused(state.pause, now);
  const cooldowns: Record<string, string> = {};
  const flapping: string[] = [];
  for (const [id, mem] of Object.entries(state.memory)) {
    const last = mem.fixes[mem.fixes.length - 1];
    const until = last !== undefined && view ? last + view.cooldownSeconds * 1000 : 0;
    if (until > now) cooldowns[id] = iso(until);
    if (mem.trippedAt !== undefined) flapping.push(id);
  }
  return {
    running: pos.running,
    paused,
    ...(paused && state.pause?.reason ? { pauseReason: state.pause.reason } : {}),
    ...(paused && state.pause?.until ? { pausedUntil: iso(state.pause.until) } : {}),
    iteration: state.iteration,
    loop: pos.loop,
    loopCount: pos.loopCount,
    phase: view ? pos.phase : 'starting',
    ...(state.lastLoopAt ? { lastLoopAt: iso(state.lastLoopAt) } : {}),
    ...(pos.nextLoopAt ? { nextLoopAt: iso(pos.nextLoopAt) } : {}),
    openIncidents: Object.fromEntries(Object.entries(state.openIncidents).map(([p, o]) => [p, o.id])),
    cooldowns,
    flapping,
    ...(state.lastHealth ? { lastHealth: state.lastHealth } : {}),
    totals: state.totals,
    config: view?.source ?? '',
    ...(pos.host ? { host: pos.host } : {}),
  };
}
