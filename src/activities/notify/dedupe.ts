/**
 * Remembers which alert keys were already sent, in `<data_dir>/state/alerts-sent.json`, so an
 * activity retry or a repeated detection does not notify people twice. Bounded: keys older than
 * the TTL are forgotten, and at most MAX_KEYS of the newest are kept.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { serialize } from '../logging/rotating-append';

const MAX_KEYS = 1000;
/** A key is suppressed this long after it was sent. @default 24 h */
export const DEDUPE_TTL_MS = 24 * 60 * 60 * 1000;

type Seen = Record<string, number>;

/** The state file under `data_dir`. */
export function dedupeFile(dataDir: string): string {
  return path.join(dataDir, 'state', 'alerts-sent.json');
}

async function load(file: string): Promise<Seen> {
  try {
    const raw: unknown = JSON.parse(await readFile(file, 'utf8'));
    return raw && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Seen) : {};
  } catch {
    // A missing or corrupt state file only costs a possible duplicate alert.
    return {};
  }
}

async function save(file: string, seen: Seen, now: number, ttlMs: number): Promise<void> {
  const kept = Object.entries(seen)
    .filter(([, t]) => typeof t === 'number' && now - t < ttlMs)
    .sort((a, b) => b[1] - a[1])
    .slice(0, MAX_KEYS);
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(Object.fromEntries(kept)), { mode: 0o640 });
  await rename(tmp, file);
}

/**
 * Atomically (within this process) checks `key` and reserves it. True when the caller should
 * send; false when the key was sent within the TTL.
 */
export function reserveKey(dataDir: string, key: string, now = Date.now(), ttlMs = DEDUPE_TTL_MS): Promise<boolean> {
  const file = dedupeFile(dataDir);
  return serialize(file, async () => {
    const seen = await load(file);
    const t = seen[key];
    if (t !== undefined && now - t < ttlMs) return false;
    seen[key] = now;
    await save(file, seen, now, ttlMs);
    return true;
  });
}

/** Forgets `key` (after every channel failed, so a retry may send it). */
export function releaseKey(dataDir: string, key: string): Promise<void> {
  const file = dedupeFile(dataDir);
  return serialize(file, async () => {
    const seen = await load(file);
    if (!(key in seen)) return;
    delete seen[key];
    await save(file, seen, Date.now(), DEDUPE_TTL_MS);
  });
}
