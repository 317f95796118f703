/**
 * cache_clear: empties the configured cache directories (their contents, never the directory
 * itself), and with `redis: true` UNLINKs the Redis keys under `managed.redis_cache_prefix`
 * (SCAN + UNLINK; never FLUSHALL/FLUSHDB, which would take sessions and queues with it).
 *
 * The directories are reached and walked through fds from the pinned managed roots, and every
 * entry is removed by name inside the directory it was found in, only while it still is what the
 * walk saw (src/fs-safe): swapping a subdirectory for a symlink mid-way removes the link at most.
 * Files with several hard links are left (a backup does not copy them).
 */
import path from 'node:path';
import type Redis from 'ioredis';
import type { ActionSpec } from '../config/schema';
import { connectRedis, dumpAndRemove, type DumpTotals } from '../backup/redis';
import { readManifest } from '../backup/manifest';
import { isHardLinked, openBelow, removalOf, removeEntries, walkTree, withRoots, type DirHandle, type Roots, type Tree } from '../fs-safe';
import { configError } from '../safety/errors';
import type { ActionContext, ActionDefinition } from './types';

type Spec = Extract<ActionSpec, { type: 'cache_clear' }>;

/** At most this many deleted key names are kept in the result (the count is always exact). */
const MAX_KEY_NAMES = 200;

/**
 * A Redis MATCH pattern for keys starting with `prefix`: glob metacharacters (`* ? [ ] \`) in the
 * prefix are escaped so they match themselves.
 *
 * @example redisMatchFor('cache:v[1]') // 'cache:v\\[1\\]*'
 */
export function redisMatchFor(prefix: string): string {
  return prefix.replace(/[*?[\]\\^]/g, '\\$&') + '*';
}

/** One configured cache directory, located (all of them before anything is walked). */
interface CacheDir {
  path: string;
  dir?: DirHandle;
}

/** Pins every configured cache directory; one outside the roots refuses the whole action. */
async function openCacheDirs(roots: Roots, configured: readonly string[]): Promise<CacheDir[]> {
  const located = [];
  for (const d of configured) located.push(await roots.locate(d));
  const out: CacheDir[] = [];
  try {
    for (const loc of located) {
      if (!loc.root.dir) {
        out.push({ path: loc.path });
        continue;
      }
      const below = await openBelow(loc.root.dir, loc.rel).catch((e: unknown) => ((e as { type?: string }).type === 'RefusedError' ? undefined : Promise.reject(e)));
      if (below && below.rest.length > 0) await below.dir.close();
      out.push({ path: loc.path, dir: below?.rest.length === 0 ? below.dir : undefined });
    }
  } catch (e) {
    await closeCacheDirs(out);
    throw e;
  }
  return out;
}

async function closeCacheDirs(dirs: CacheDir[]): Promise<void> {
  for (const d of dirs) await d.dir?.close();
}

/** Pins the roots and the cache directories for `use`. */
function withCacheDirs<T>(ctx: ActionContext, use: (dirs: CacheDir[]) => Promise<T>): Promise<T> {
  return withRoots(ctx.config.managed.roots, async (roots) => {
    const dirs = await openCacheDirs(roots, ctx.config.managed.cache_dirs);
    try {
      return await use(dirs);
    } finally {
      await closeCacheDirs(dirs);
    }
  });
}

/** What emptying removes: everything walked but hard-linked files (and the directories holding them). */
function removable(tree: Tree) {
  return tree.entries.filter((e) => !isHardLinked(e)).map(removalOf);
}

function redisPrefix(ctx: ActionContext, spec: Spec): string | undefined {
  if (!spec.redis) return undefined;
  const prefix = ctx.config.managed.redis_cache_prefix;
  if (prefix === undefined) return undefined;
  // An empty prefix would MATCH every key: that is a FLUSHDB by another name.
  if (prefix.length === 0) throw configError('managed.redis_cache_prefix is empty; expected a key prefix such as "cache:"');
  return prefix;
}

/** What the Redis part of a run did. */
interface RedisOutcome {
  count: number;
  keys: string[];
  /** Keys DUMPed into the backup first (compensation RESTOREs them). */
  dumped?: DumpTotals;
  /** Keys left because the dump bound was reached during the run. */
  leftOver?: number;
}

/** Visits every key under `prefix` in SCAN batches (the literal prefix re-checked). */
async function scanPrefix(redis: Redis, prefix: string, signal: AbortSignal, visit: (batch: string[]) => Promise<boolean>): Promise<void> {
  let cursor = '0';
  do {
    signal.throwIfAborted();
    const [next, batch] = await redis.scan(cursor, 'MATCH', redisMatchFor(prefix), 'COUNT', 500);
    cursor = next;
    // MATCH is a glob; check the literal prefix too, so no other key is ever touched.
    const mine = batch.filter((k) => k.startsWith(prefix));
    if (mine.length > 0 && !(await visit(mine))) return;
  } while (cursor !== '0');
}

/** Counts the keys under `prefix` and their approximate size (MEMORY USAGE), up to just past the bounds. */
async function measureRedisKeys(url: string, prefix: string, bounds: { keys: number; bytes: number }, signal: AbortSignal): Promise<{ keys: number; bytes: number; over: boolean }> {
  const redis = connectRedis(url);
  const m = { keys: 0, bytes: 0, over: false };
  try {
    await redis.connect();
    await scanPrefix(redis, prefix, signal, async (batch) => {
      const p = redis.pipeline();
      for (const k of batch) p.memory('USAGE', k);
      for (const [, n] of (await p.exec()) ?? []) m.bytes += Number(n ?? 0);
      m.keys += batch.length;
      m.over = m.keys > bounds.keys || m.bytes > bounds.bytes;
      return !m.over;
    });
  } finally {
    redis.disconnect();
  }
  return m;
}

/**
 * Removes every key under `prefix`. With `dumpFile` (the backup holds the Redis part), each batch
 * is DUMPed into it and removed only while unchanged, up to the bounds: past them the rest is
 * left in place (the plan said the clear was reversible; it stays so). Without, keys are UNLINKed.
 */
async function clearRedisKeys(url: string, prefix: string, signal: AbortSignal, dump?: { file: string; bounds: { keys: number; bytes: number } }): Promise<RedisOutcome> {
  const redis = connectRedis(url);
  const out: RedisOutcome = { count: 0, keys: [] };
  const totals: DumpTotals = { keys: 0, bytes: 0, removed: 0, changed: 0 };
  try {
    await redis.connect();
    await scanPrefix(redis, prefix, signal, async (batch) => {
      if (dump && (totals.keys + batch.length > dump.bounds.keys || totals.bytes > dump.bounds.bytes)) {
        out.leftOver = (out.leftOver ?? 0) + batch.length;
        return true; // keep counting what is left
      }
      const before = totals.removed;
      if (dump) await dumpAndRemove(redis, batch, dump.file, totals);
      out.count += dump ? totals.removed - before : await redis.unlink(...batch);
      out.keys.push(...batch.slice(0, Math.max(0, MAX_KEY_NAMES - out.keys.length)));
      return true;
    });
  } finally {
    redis.disconnect();
  }
  if (dump) out.dumped = totals;
  return out;
}

/** This run's backup of the step, when it holds the Redis part (the plan found the clear reversible). */
async function redisDumpFile(ctx: ActionContext): Promise<string | undefined> {
  if (!ctx.backup) return undefined;
  const m = await readManifest(ctx.backup.step).catch(() => undefined);
  return m?.redis ? path.join(ctx.backup.step, m.redis.file) : undefined;
}

function redisBounds(ctx: ActionContext): { keys: number; bytes: number } {
  return { keys: ctx.config.backups.redis_max_keys, bytes: ctx.config.backups.redis_max_mb * 1024 * 1024 };
}

/** Empties configured cache directories and (optionally) Redis cache keys under a prefix. */
export const cacheClear: ActionDefinition<Spec> = {
  type: 'cache_clear',
  mutates: true,
  async plan(ctx, spec) {
    const steps: string[] = [];
    const present = await withCacheDirs(ctx, async (dirs) => {
      for (const d of dirs) {
        if (!d.dir) {
          steps.push(`skip ${d.path}: no such directory`);
          continue;
        }
        const tree = await walkTree(d.dir, { signal: ctx.signal });
        const entries = removable(tree);
        const bytes = tree.entries.reduce((n, e) => n + (e.kind === 'file' && !isHardLinked(e) ? e.stat.size : 0), 0);
        const linked = tree.entries.length - entries.length;
        steps.push(
          `empty ${d.path}: remove ${entries.length} entries (${bytes} bytes)` +
            (tree.otherMounts.length ? `; skip mounts ${tree.otherMounts.join(', ')}` : '') +
            (linked ? `; keep ${linked} file(s) with several hard links` : ''),
        );
      }
      return dirs.filter((d) => d.dir).map((d) => d.path);
    });
    const prefix = redisPrefix(ctx, spec);
    let reversible = false;
    if (prefix !== undefined) {
      const bounds = redisBounds(ctx);
      const m = await measureRedisKeys(ctx.config.health_checks.redis.url, prefix, bounds, ctx.signal);
      reversible = !m.over;
      const what = `UNLINK Redis keys matching ${JSON.stringify(redisMatchFor(prefix))} (SCAN, no FLUSH)`;
      steps.push(
        reversible
          ? `${what}: ${m.keys} key(s), ~${m.bytes} bytes, DUMPed into the backup first (compensation RESTOREs them with their TTLs)`
          : `${what}: not reversible — more than backups.redis_max_keys (${bounds.keys}) keys or backups.redis_max_mb (${ctx.config.backups.redis_max_mb}) MB; the values are not kept`,
      );
    } else if (spec.redis) steps.push('skip Redis: managed.redis_cache_prefix is not set');
    return { steps, targets: present.map((p) => ({ path: p })), ...(reversible && prefix !== undefined ? { redisPrefix: prefix } : {}) };
  },
  async run(ctx, spec) {
    const prefix = redisPrefix(ctx, spec);
    const changed: string[] = [];
    const kept: string[] = [];
    const present: string[] = [];
    const missing: string[] = [];
    await withCacheDirs(ctx, async (dirs) => {
      for (const d of dirs) {
        if (!d.dir) {
          missing.push(d.path);
          continue;
        }
        present.push(d.path);
        const tree = await walkTree(d.dir, { signal: ctx.signal });
        const r = await removeEntries(d.dir, tree.dirs, removable(tree), { signal: ctx.signal });
        const linked = tree.entries.filter((e) => isHardLinked(e)).map((e) => e.path);
        changed.push(...r.removed);
        kept.push(...tree.otherMounts, ...linked, ...r.kept);
        ctx.log('INFO', `cache_clear: emptied ${d.path} (${r.removed.length} removed, ${r.kept.length + linked.length + tree.otherMounts.length} kept)`);
      }
    });
    let redis: RedisOutcome | undefined;
    if (prefix !== undefined) {
      const file = await redisDumpFile(ctx);
      redis = await clearRedisKeys(ctx.config.health_checks.redis.url, prefix, ctx.signal, file ? { file, bounds: redisBounds(ctx) } : undefined);
      const kept = redis.dumped ? `, DUMPed into the backup first${redis.dumped.changed ? `; ${redis.dumped.changed} changed meanwhile and kept` : ''}` : ', not kept (not reversible)';
      ctx.log('INFO', `cache_clear: unlinked ${redis.count} Redis key(s) under ${JSON.stringify(prefix)}${kept}`);
      if (redis.leftOver) ctx.log('WARNING', `cache_clear: ${redis.leftOver} Redis key(s) left in place: past the dump bound (backups.redis_max_keys/redis_max_mb) they could not be kept`);
    } else if (spec.redis) ctx.log('WARNING', 'cache_clear: redis requested but managed.redis_cache_prefix is not set; Redis left alone');
    const summary =
      `emptied ${present.length} cache dir(s) (${changed.length} entries removed)` +
      (redis ? `, unlinked ${redis.count} Redis key(s)${redis.dumped ? ' (DUMPed to the backup)' : ''}${redis.leftOver ? `, ${redis.leftOver} left past the dump bound` : ''}` : '');
    return {
      type: 'cache_clear',
      summary,
      changed: [...changed, ...(redis?.keys.map((k) => `redis:${k}`) ?? [])],
      details: {
        dirs: present,
        missing_dirs: missing,
        kept,
        redis_prefix: prefix,
        redis_deleted: redis?.count ?? 0,
        redis_keys: redis?.keys ?? [],
        ...(redis?.dumped ? { redis_dumped: redis.dumped } : {}),
        ...(redis?.leftOver ? { redis_left: redis.leftOver } : {}),
      },
    };
  },
};
