/**
 * Pure decision logic of the daemon: which checks are due, whether a detection may be fixed
 * (pause, cooldown, flap guard), and incident ids. No I/O, no Temporal imports, no clocks: the
 * caller passes `now` (workflow time in the daemon), so everything here is deterministic.
 */
import type { Config } from '../config/schema';

/**
 * Returns the checks whose interval has elapsed since they last ran.
 *
 * @example dueChecks({ postgres: 0 }, { postgres: 60 }, 61_000) // → ['postgres']
 */
export function dueChecks(
  lastRun: Partial<Record<string, number>>,
  intervalsSeconds: Partial<Record<string, number>>,
  now: number,
): string[] {
  const due: string[] = [];
  for (const [name, interval] of Object.entries(intervalsSeconds)) {
    if (interval === undefined) continue;
    const last = lastRun[name];
    // A 1 s slack absorbs timer jitter, so a 60 s check on 30 s loops runs every other loop.
    if (last === undefined || now - last >= interval * 1000 - 1000) due.push(name);
  }
  return due;
}

/**
 * The checks one loop runs, and those it records as run on schedule.
 *
 * A scheduled loop runs the due checks; an event loop (woken between scheduled loops by a
 * watcher) runs only the every-loop checks (interval 0: `json`). Both add the checks the wake
 * named (`forced`, e.g. `redis` right after the redis-server process died) that the config has.
 * Only the scheduled ones are recorded, so forced checks never move the periodic schedule: the
 * backstop cadence is the same with or without events.
 *
 * @example loopChecks({ redis: 0 }, { json: 0, redis: 60 }, 5_000, { scheduled: false, forced: ['redis'] })
 *   // → { run: ['json', 'redis'], record: ['json'] }
 */
export function loopChecks(
  lastRun: Partial<Record<string, number>>,
  intervalsSeconds: Partial<Record<string, number>>,
  now: number,
  o: { scheduled: boolean; forced?: readonly string[] },
): { run: string[]; record: string[] } {
  const periodic = o.scheduled ? intervalsSeconds : Object.fromEntries(Object.entries(intervalsSeconds).filter(([, s]) => s === 0));
  const record = dueChecks(lastRun, periodic, now);
  const extra = (o.forced ?? []).filter((c, i, all) => intervalsSeconds[c] !== undefined && !record.includes(c) && all.indexOf(c) === i);
  return { run: [...record, ...extra], record };
}

/**
 * The longest a saga of `actions` actions can run under these settings (every attempt timing out,
 * every backoff taken, then verification) plus 10 minutes of slack.
 */
export function sagaTimeLimitMs(
  a: Pick<Config['auto_fix_config'], 'action_timeout_seconds' | 'max_retries' | 'retry_delay' | 'verify_timeout_seconds'>,
  actions: number,
): number {
  const perAction = a.action_timeout_seconds * a.max_retries + a.retry_delay * 2 ** a.max_retries;
  return (Math.max(1, actions) * perAction + a.verify_timeout_seconds + 600) * 1000;
}

/** The pause state carried by the daemon. */
export interface PauseState {
  reason?: string;
  /** Epoch ms since when fixes are paused. */
  since: number;
  /** Epoch ms when the pause ends by itself; absent = until resumed. */
  until?: number;
}

/** True when fixes are paused at `now` (an expired timed pause no longer counts). */
export function isPaused(pause: PauseState | null | undefined, now: number): boolean {
  return !!pause && (pause.until === undefined || now < pause.until);
}

/** Per-pattern memory of fixes, carried across continue-as-new. */
export interface FixMemory {
  /** Epoch ms of fixes started within the flap window (newest last). */
  fixes: number[];
  /** Epoch ms the pattern was last detected. */
  lastDetected?: number;
  /** Epoch ms the flap guard tripped; absent = not tripped. */
  trippedAt?: number;
}

export interface FlapGuardSettings {
  max_fixes: number;
  window_minutes: number;
  reset_after_minutes: number;
}

/** Why a detection is not fixed now, or 'fix' when it may be. */
export type FixDecision =
  | { action: 'fix' }
  | { action: 'skip'; reason: 'auto_fix_off' | 'paused' | 'cooldown' | 'flapping' | 'in_progress' | 'no_actions' }
  | { action: 'trip'; reason: 'flapping'; fixesInWindow: number };

export interface FixDecisionInput {
  autoFix: boolean;
  hasActions: boolean;
  paused: boolean;
  inProgress: boolean;
  memory: FixMemory | undefined;
  cooldownSeconds: number;
  flap: FlapGuardSettings;
  now: number;
}

/**
 * Decides whether a detection starts a fix. Order matters: a paused or disabled pattern never
 * counts toward the flap guard; a fix in progress is never doubled; the cooldown holds after
 * every fix; more than `max_fixes` fixes within the window trips the guard (Monit's restart limit)
 * instead of starting another.
 */
export function decideFix(i: FixDecisionInput): FixDecision {
  if (!i.autoFix) return { action: 'skip', reason: 'auto_fix_off' };
  if (!i.hasActions) return { action: 'skip', reason: 'no_actions' };
  if (i.paused) return { action: 'skip', reason: 'paused' };
  if (i.inProgress) return { action: 'skip', reason: 'in_progress' };
  const mem = i.memory;
  if (mem?.trippedAt !== undefined) return { action: 'skip', reason: 'flapping' };
  const last = mem?.fixes[mem.fixes.length - 1];
  if (last !== undefined && i.now - last < i.cooldownSeconds * 1000) return { action: 'skip', reason: 'cooldown' };
  const inWindow = fixesInWindow(mem, i.flap, i.now);
  if (inWindow >= i.flap.max_fixes) return { action: 'trip', reason: 'flapping', fixesInWindow: inWindow };
  return { action: 'fix' };
}

/** Number of fixes started within the flap window ending at `now`. */
export function fixesInWindow(mem: FixMemory | undefined, flap: FlapGuardSettings, now: number): number {
  if (!mem) return 0;
  const from = now - flap.window_minutes * 60_000;
  return mem.fixes.filter((t) => t > from).length;
}

/**
 * Ages the memory: drops fixes older than the flap window and resets a tripped guard after
 * `reset_after_minutes` without a detection (the counter reset Monit lacks). Returns a new object.
 */
export function ageFixMemory(mem: FixMemory, flap: FlapGuardSettings, now: number): FixMemory {
  const from = now - flap.window_minutes * 60_000;
  let fixes = mem.fixes.filter((t) => t > from);
  let trippedAt = mem.trippedAt;
  if (trippedAt !== undefined) {
    const quietSince = Math.max(mem.lastDetected ?? trippedAt, trippedAt);
    if (now - quietSince >= flap.reset_after_minutes * 60_000) {
      // A reset starts the count afresh; otherwise the old fixes would trip it again at once.
      trippedAt = undefined;
      fixes = [];
    }
  }
  const out: FixMemory = { fixes };
  if (mem.lastDetected !== undefined) out.lastDetected = mem.lastDetected;
  if (trippedAt !== undefined) out.trippedAt = trippedAt;
  return out;
}

/**
 * The deterministic incident id of a pattern at a time: one per pattern per cooldown bucket, so
 * a second start for the same incident (after a crash or replay) is refused by Temporal.
 *
 * @example incidentId('http_5xx', Date.UTC(2025,11,28,10,30), 300) // 'incident-http_5xx-20251228T103000Z'
 */
export function incidentId(patternId: string, now: number, bucketSeconds: number, host?: string): string {
  const size = Math.max(1, Math.round(bucketSeconds)) * 1000;
  const stamp = new Date(Math.floor(now / size) * size).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return host ? `incident-${host}-${patternId}-${stamp}` : `incident-${patternId}-${stamp}`;
}
