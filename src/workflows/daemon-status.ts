/**
 * The daemon's `status` answer, built from its carried state and its live loop position. Pure:
 * workflow code calls it from the query handler with workflow time.
 */
import type { Config } from '../config/schema';
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
export function buildStatus(state: DaemonState, pos: LoopPosition, now: number): DaemonStatus {
  // The config is still loading during the first moments of a new daemon.
  const cfg = state.config as Config | undefined;
  const paused = isPaused(state.pause, now);
  const cooldowns: Record<string, string> = {};
  const flapping: string[] = [];
  for (const [id, mem] of Object.entries(state.memory)) {
    const last = mem.fixes[mem.fixes.length - 1];
    const until = last !== undefined && cfg ? last + cfg.auto_fix_config.cooldown_period * 1000 : 0;
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
    phase: cfg ? pos.phase : 'starting',
    ...(state.lastLoopAt ? { lastLoopAt: iso(state.lastLoopAt) } : {}),
    ...(pos.nextLoopAt ? { nextLoopAt: iso(pos.nextLoopAt) } : {}),
    openIncidents: { ...state.openIncidents },
    cooldowns,
    flapping,
    ...(state.lastHealth ? { lastHealth: state.lastHealth } : {}),
    totals: state.totals,
    config: cfg?.source ?? '',
    ...(pos.host ? { host: pos.host } : {}),
  };
}
