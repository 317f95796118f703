/**
 * Delivery state of alerts, per key and per channel, in `<data_dir>/state/alerts-sent.json`
 * (0600 in a 0700 folder). It makes alerts at-least-once per channel:
 *
 * - before sending, the alert and the channels still owed are recorded as pending;
 * - a channel is recorded as sent only AFTER it succeeded;
 * - a failed channel stays pending with a backoff; `sendNotification` on a retry, and the
 *   detection loop (`retryPendingAlerts`), send only the channels still owed.
 *
 * So a crash or a failing channel never loses an alert (at worst a channel gets it twice: the
 * crash came after the send and before the record), and a key whose channels all succeeded is
 * never sent again within the TTL. A delivery in flight holds a lease on its key (`nextAt` is
 * pushed past the time a delivery can take): the detection loop, which runs beside the sagas in
 * the same worker, must not take an alert that is being sent right now for one whose send
 * failed. Bounded: entries older than the TTL are forgotten (a pending alert is then given up,
 * and says so), and at most MAX_KEYS of the newest are kept.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writePrivateJson } from '../util/private-dir';
import { serialize } from '../logging/rotating-append';
import type { ChannelName, NotificationAlert } from './types';

const MAX_KEYS = 1000;
/** A key is suppressed (and a pending alert retried) this long after it was first sent. @default 24 h */
export const DEDUPE_TTL_MS = 24 * 60 * 60 * 1000;
/** Backoff of a failed channel: 5 s, doubling, at most 10 min. */
const BACKOFF_BASE_MS = 5000;
const BACKOFF_MAX_MS = 10 * 60 * 1000;
/** How long a delivery in flight keeps its key from the retry loop when the caller does not say. */
export const DEFAULT_LEASE_MS = 2 * 60 * 1000;

/** What is owed for one key. */
export interface Pending {
  alert: NotificationAlert;
  /** Channels that must still get it. */
  channels: ChannelName[];
  attempts: number;
  /** Not retried by the detection loop before this time (epoch ms). */
  nextAt: number;
  lastError?: string;
}

/** The delivery state of one key. */
export interface KeyState {
  /** First seen (epoch ms): the TTL counts from here. */
  at: number;
  /** Channels that succeeded, and when. */
  sent: Partial<Record<ChannelName, number>>;
  /** Recorded by an older autofix (a key only): every channel counts as sent. */
  all?: boolean;
  pending?: Pending;
}

type State = Record<string, KeyState>;

/** The state file under `data_dir`. */
export function dedupeFile(dataDir: string): string {
  return path.join(dataDir, 'state', 'alerts-sent.json');
}

async function load(file: string): Promise<State> {
  try {
    const raw: unknown = JSON.parse(await readFile(file, 'utf8'));
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return {};
    const out: State = {};
    for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
      if (typeof v === 'number') out[k] = { at: v, sent: {}, all: true }; // the older format: "reserved at"
      else if (v && typeof v === 'object' && typeof (v as KeyState).at === 'number') out[k] = v as KeyState;
    }
    return out;
  } catch {
    // A missing or corrupt state file only costs a possible duplicate alert.
    return {};
  }
}

async function save(file: string, state: State, now: number): Promise<void> {
  const kept = Object.entries(state)
    .filter(([, s]) => now - s.at < DEDUPE_TTL_MS)
    .sort((a, b) => b[1].at - a[1].at)
    .slice(0, MAX_KEYS);
  await writePrivateJson(file, Object.fromEntries(kept));
}

/** Runs `fn` on the state, serialised within this process, and saves it when `fn` says so. */
function update<T>(dataDir: string, fn: (state: State, now: number) => { result: T; changed: boolean }): Promise<T> {
  const file = dedupeFile(dataDir);
  return serialize(file, async () => {
    const state = await load(file);
    const now = Date.now();
    const { result, changed } = fn(state, now);
    if (changed) await save(file, state, now);
    return result;
  });
}

/** True when `channel` got the alert of `s` (within the TTL). */
export function wasSent(s: KeyState | undefined, channel: ChannelName, now = Date.now()): boolean {
  if (!s || now - s.at >= DEDUPE_TTL_MS) return false;
  return s.all === true || s.sent[channel] !== undefined;
}

/**
 * Records that `channels` owe `alert` (keyed by its dedupeKey) and returns which of them were
 * already sent within the TTL (not to be sent again). The key is leased to the caller for
 * `leaseMs`: a crash mid-delivery leaves it owed, retried once the lease has passed.
 *
 * @example const done = await beginDelivery(dataDir, 'inc-1-fixed', alert, ['alerts', 'webhook']);
 */
export function beginDelivery(
  dataDir: string,
  key: string,
  alert: NotificationAlert,
  channels: readonly ChannelName[],
  leaseMs = DEFAULT_LEASE_MS,
): Promise<Set<ChannelName>> {
  return update(dataDir, (state, now) => {
    let s = state[key];
    if (s && now - s.at >= DEDUPE_TTL_MS) s = undefined;
    const done = new Set(channels.filter((c) => wasSent(s, c, now)));
    const owed = channels.filter((c) => !done.has(c));
    if (owed.length === 0) return { result: done, changed: false };
    s ??= { at: now, sent: {} };
    const before = s.pending;
    const nextAt = Math.max(before?.nextAt ?? 0, now + leaseMs);
    s.pending = { alert, channels: [...new Set([...(before?.channels ?? []), ...owed])], attempts: before?.attempts ?? 0, nextAt };
    state[key] = s;
    return { result: done, changed: true };
  });
}

/** Records that `channel` got the alert of `key` (called right after it succeeded). */
export function recordSent(dataDir: string, key: string, channel: ChannelName): Promise<void> {
  return update(dataDir, (state, now) => {
    const s = (state[key] ??= { at: now, sent: {} });
    s.sent[channel] = now;
    if (s.pending) {
      s.pending.channels = s.pending.channels.filter((c) => c !== channel);
      if (s.pending.channels.length === 0) delete s.pending;
    }
    return { result: undefined, changed: true };
  });
}

/**
 * Ends one delivery attempt: channels that failed stay owed, retried after a backoff; channels
 * that were skipped (no longer configured) are no longer owed.
 */
export function endDelivery(dataDir: string, key: string, failed: ReadonlyMap<ChannelName, string>, dropped: readonly ChannelName[]): Promise<void> {
  return update(dataDir, (state, now) => {
    const p = state[key]?.pending;
    if (!p) return { result: undefined, changed: false };
    p.channels = p.channels.filter((c) => !dropped.includes(c));
    if (p.channels.length === 0) delete state[key]!.pending;
    else if (failed.size > 0) {
      p.attempts++;
      p.nextAt = now + Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (p.attempts - 1));
      p.lastError = [...failed].map(([c, why]) => `${c}: ${why}`).join('; ').slice(0, 500);
    }
    return { result: undefined, changed: true };
  });
}

/** One owed alert, due for a retry. */
export interface DueAlert {
  key: string;
  pending: Pending;
}

/**
 * Owed alerts whose backoff has passed (at most `limit`, oldest first), each leased to the caller
 * for `leaseMs` (a second retrier does not take it meanwhile), and those past the TTL, which are
 * given up (removed) and returned in `expired`.
 */
export function takeDuePending(dataDir: string, limit: number, leaseMs = DEFAULT_LEASE_MS): Promise<{ due: DueAlert[]; expired: DueAlert[] }> {
  return update(dataDir, (state, now) => {
    const due: DueAlert[] = [];
    const expired: DueAlert[] = [];
    for (const [key, s] of Object.entries(state).sort((a, b) => a[1].at - b[1].at)) {
      if (!s.pending) continue;
      if (now - s.at >= DEDUPE_TTL_MS) {
        expired.push({ key, pending: s.pending });
        delete s.pending;
      } else if (s.pending.nextAt <= now && due.length < limit) {
        due.push({ key, pending: { ...s.pending } });
        s.pending.nextAt = now + leaseMs;
      }
    }
    return { result: { due, expired }, changed: expired.length + due.length > 0 };
  });
}

/** The delivery state of every key (for operators and tests). */
export async function readDeliveryState(dataDir: string): Promise<Record<string, KeyState>> {
  return load(dedupeFile(dataDir));
}

/**
 * Runs `fn` unless it already completed for `key` (recorded after it succeeds, so a crash in
 * between runs it again: at least once). For side effects that go with an alert, such as a
 * saga's completion line, that an activity retry must not repeat.
 */
export async function runOnce(dataDir: string, key: string, fn: () => Promise<void>): Promise<boolean> {
  const mark = `once:${key}`;
  const seen = await load(dedupeFile(dataDir));
  if (wasSent(seen[mark], 'log')) return false;
  await fn();
  await recordSent(dataDir, mark, 'log');
  return true;
}
