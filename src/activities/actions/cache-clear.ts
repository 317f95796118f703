/**
 * cache_clear: empties the configured cache directories (their contents, never the directory
 * itself), and with `redis: true` UNLINKs the Redis keys under `managed.redis_cache_prefix`
 * (SCAN + UNLINK; never FLUSHALL/FLUSHDB, which would take sessions and queues with it).
 */
import type { Stats } from 'node:fs';
import { promises as fsp } from 'node:fs';
import Redis from 'ioredis';
import type { ActionSpec } from '../../config/schema';
import { configError, errnoCode } from '../safety/errors';
import { resolveAllInsideRoots } from '../safety/paths';
import { emptyDirectory, walkTree } from '../safety/walk';
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

async function existingDirs(dirs: string[]): Promise<{ present: string[]; missing: string[] }> {
  const present: string[] = [];
  const missing: string[] = [];
  for (const d of dirs) {
    const st: Stats | undefined = await fsp.lstat(d).catch((e: unknown) => (errnoCode(e) === 'ENOENT' ? undefined : Promise.reject(e)));
    (st?.isDirectory() ? present : missing).push(d);
  }
  return { present, missing };
}

function redisPrefix(ctx: ActionContext, spec: Spec): string | undefined {
  if (!spec.redis) return undefined;
  const prefix = ctx.config.managed.redis_cache_prefix;
  if (prefix === undefined) return undefined;
  // An empty prefix would MATCH every key: that is a FLUSHDB by another name.
  if (prefix.length === 0) throw configError('managed.redis_cache_prefix is empty; expected a key prefix such as "cache:"');
  return prefix;
}

/** SCANs and UNLINKs every key under `prefix`; always disconnects. */
async function unlinkRedisKeys(url: string, prefix: string, signal: AbortSignal): Promise<{ count: number; keys: string[] }> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 5000 });
  redis.on('error', () => undefined); // reported through the failing command instead
  const keys: string[] = [];
  let count = 0;
  try {
    await redis.connect();
    let cursor = '0';
    do {
      signal.throwIfAborted();
      const [next, batch] = await redis.scan(cursor, 'MATCH', redisMatchFor(prefix), 'COUNT', 500);
      cursor = next;
      // MATCH is a glob; check the literal prefix too, so no other key is ever touched.
      const mine = batch.filter((k) => k.startsWith(prefix));
      if (mine.length > 0) {
        count += await redis.unlink(...mine);
        keys.push(...mine.slice(0, Math.max(0, MAX_KEY_NAMES - keys.length)));
      }
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return { count, keys };
}

/** Empties configured cache directories and (optionally) Redis cache keys under a prefix. */
export const cacheClear: ActionDefinition<Spec> = {
  type: 'cache_clear',
  mutates: true,
  async plan(ctx, spec) {
    const dirs = await resolveAllInsideRoots(ctx.config.managed.cache_dirs, ctx.config.managed.roots);
    const { present, missing } = await existingDirs(dirs);
    const steps: string[] = [];
    for (const d of present) {
      const { entries, otherMounts } = await walkTree(d, { signal: ctx.signal });
      const bytes = entries.reduce((n, e) => n + (e.kind === 'file' ? e.stat.size : 0), 0);
      steps.push(`empty ${d}: remove ${entries.length} entries (${bytes} bytes)${otherMounts.length ? `; skip mounts ${otherMounts.join(', ')}` : ''}`);
    }
    for (const d of missing) steps.push(`skip ${d}: no such directory`);
    const prefix = redisPrefix(ctx, spec);
    if (prefix !== undefined) steps.push(`UNLINK Redis keys matching ${JSON.stringify(redisMatchFor(prefix))} (SCAN, no FLUSH)`);
    else if (spec.redis) steps.push('skip Redis: managed.redis_cache_prefix is not set');
    return { steps, targets: present.map((p) => ({ path: p })) };
  },
  async run(ctx, spec) {
    const dirs = await resolveAllInsideRoots(ctx.config.managed.cache_dirs, ctx.config.managed.roots);
    const prefix = redisPrefix(ctx, spec);
    const { present, missing } = await existingDirs(dirs);
    const changed: string[] = [];
    const kept: string[] = [];
    for (const d of present) {
      const r = await emptyDirectory(d, { signal: ctx.signal });
      changed.push(...r.removed);
      kept.push(...r.kept);
      ctx.log('INFO', `cache_clear: emptied ${d} (${r.removed.length} removed, ${r.kept.length} kept)`);
    }
    let redis: { count: number; keys: string[] } | undefined;
    if (prefix !== undefined) {
      redis = await unlinkRedisKeys(ctx.config.health_checks.redis.url, prefix, ctx.signal);
      ctx.log('INFO', `cache_clear: unlinked ${redis.count} Redis key(s) under ${JSON.stringify(prefix)}`);
    } else if (spec.redis) ctx.log('WARNING', 'cache_clear: redis requested but managed.redis_cache_prefix is not set; Redis left alone');
    const summary = `emptied ${present.length} cache dir(s) (${changed.length} entries removed)` + (redis ? `, unlinked ${redis.count} Redis key(s)` : '');
    return {
      type: 'cache_clear',
      summary,
      changed: [...changed, ...(redis?.keys.map((k) => `redis:${k}`) ?? [])],
      details: { dirs: present, missing_dirs: missing, kept, redis_prefix: prefix, redis_deleted: redis?.count ?? 0, redis_keys: redis?.keys ?? [] },
    };
  },
};
