/**
 * Redis keys as a backup: cache_clear DUMPs each key (value and remaining TTL) into a file of its
 * backup folder before removing it, and compensation RESTOREs them.
 *
 * Removal is a compare-and-delete in one Lua script: a key is UNLINKed only if its DUMP is still
 * the one saved (and fsynced), so a value the app wrote in between is never lost. Restore never
 * replaces a key that exists again (the app's newer value wins) and gives each key what was left
 * of its TTL (absolute expiry; a key whose TTL ran out meanwhile stays gone).
 */
import { promises as fsp } from 'node:fs';
import type Redis from 'ioredis';
import IORedis from 'ioredis';

/** One saved key, as a line of the dump file. */
interface DumpLine {
  /** Key name. */
  k: string;
  /** DUMP payload, base64. */
  v: string;
  /** Absolute expiry, epoch ms; 0 = none. */
  exp: number;
}

/** Deletes each key whose DUMP equals the saved one (ARGV[i]); returns how many it deleted. */
const COMPARE_AND_UNLINK = `
local n = 0
for i, k in ipairs(KEYS) do
  if redis.call('DUMP', k) == ARGV[i] then n = n + redis.call('UNLINK', k) end
end
return n`;

/** A connection that fails fast (the callers report the failure; nothing is queued offline). */
export function connectRedis(url: string): Redis {
  const r = new IORedis(url, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 5000 });
  r.on('error', () => undefined); // reported through the failing command instead
  return r;
}

/** Totals of a dump-and-remove pass. */
export interface DumpTotals {
  keys: number;
  bytes: number;
  removed: number;
  /** Keys changed by the app between DUMP and removal: left in place. */
  changed: number;
}

/**
 * DUMPs `keys` with their TTLs, appends them to `file` (fsynced), then removes each one that
 * still holds what was saved. Keys that vanished meanwhile are skipped.
 *
 * @example await dumpAndRemove(redis, ['cache:a', 'cache:b'], '/var/lib/autofix/backups/…/redis.jsonl', totals);
 */
export async function dumpAndRemove(redis: Redis, keys: readonly string[], file: string, totals: DumpTotals): Promise<void> {
  if (keys.length === 0) return;
  const p = redis.pipeline();
  for (const k of keys) p.dumpBuffer(k).pttl(k);
  const replies = (await p.exec()) ?? [];
  const now = Date.now();
  const saved: Array<{ k: string; v: Buffer }> = [];
  const lines: string[] = [];
  keys.forEach((k, i) => {
    const v = replies[2 * i]?.[1] as Buffer | null;
    const ttl = Number(replies[2 * i + 1]?.[1] ?? -2);
    if (!v || ttl === -2) return; // gone meanwhile
    saved.push({ k, v });
    const line: DumpLine = { k, v: v.toString('base64'), exp: ttl > 0 ? now + ttl : 0 };
    lines.push(JSON.stringify(line));
    totals.bytes += v.length;
  });
  if (saved.length === 0) return;
  const fh = await fsp.open(file, 'a', 0o600);
  try {
    await fh.appendFile(lines.join('\n') + '\n');
    await fh.sync(); // saved on disk before anything is removed
  } finally {
    await fh.close();
  }
  totals.keys += saved.length;
  const removed = Number(await redis.eval(COMPARE_AND_UNLINK, saved.length, ...saved.map((s) => s.k), ...saved.map((s) => s.v)));
  totals.removed += removed;
  totals.changed += saved.length - removed;
}

/**
 * RESTOREs every key of a dump file under `prefix` that does not exist again, with its remaining
 * TTL. Returns how many were restored and notes on the others.
 */
export async function restoreRedisDump(url: string, file: string, prefix: string): Promise<{ restored: number; notes: string[] }> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { restored: 0, notes: [] }; // the action removed no key
    throw e;
  }
  const lines = text.split('\n').filter((l) => l.length > 0);
  const redis = connectRedis(url);
  let restored = 0;
  let newer = 0;
  let expired = 0;
  try {
    await redis.connect();
    for (const raw of lines) {
      const d = JSON.parse(raw) as DumpLine;
      if (typeof d.k !== 'string' || !d.k.startsWith(prefix)) throw new Error(`${file}: key ${JSON.stringify(d.k)} is not under the prefix ${JSON.stringify(prefix)}; the dump was tampered with`);
      if (d.exp !== 0 && d.exp <= Date.now()) {
        expired++;
        continue;
      }
      try {
        await redis.restore(d.k, d.exp, Buffer.from(d.v, 'base64'), 'ABSTTL');
        restored++;
      } catch (e) {
        if (!/BUSYKEY/.test((e as Error).message)) throw e;
        newer++;
      }
    }
  } finally {
    redis.disconnect();
  }
  const notes = [];
  if (newer > 0) notes.push(`redis: ${newer} key(s) exist again with newer values; left as they are`);
  if (expired > 0) notes.push(`redis: ${expired} key(s) whose TTL ran out meanwhile stay gone`);
  return { restored, notes };
}
