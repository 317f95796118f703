/** `redis_connection`: PING Redis (AUTH and db taken from the URL by ioredis). */
import Redis from 'ioredis';
import type { CheckResult, Probe } from './types';
import { errorText } from './types';
import { elapsedMs, withDeadline } from './deadline';

/** host:port of a redis URL, without credentials. */
export function describeRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '6379'}`;
  } catch {
    return 'redis (unparsable URL)';
  }
}

/**
 * Opens one connection, sends PING, disconnects. No retries and no offline queue, so a dead
 * Redis gives one quick failure instead of a reconnect storm; a hung one (accepts TCP, never
 * answers) fails at `timeoutMs`.
 *
 * @example
 *   await probeRedis('redis://:secret@127.0.0.1:6379/0', 5000);
 *   // { status: 'healthy', message: 'PONG', latency_ms: 0.8, target: '127.0.0.1:6379' }
 */
export async function probeRedis(url: string, timeoutMs: number): Promise<CheckResult> {
  const target = describeRedisUrl(url);
  const start = performance.now();
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
    enableReadyCheck: false,
    connectionName: 'autofix-health',
  });
  let lastError: unknown;
  redis.on('error', (e) => (lastError = e)); // kept for the message; an unhandled 'error' would crash
  try {
    const reply = await withDeadline(
      (async () => {
        await redis.connect();
        return redis.ping();
      })(),
      timeoutMs,
      `redis ${target}`,
    );
    return { status: 'healthy', message: reply, latency_ms: elapsedMs(start), target };
  } catch (err) {
    const detail = errorText(err);
    const cause = lastError && !detail.includes(errorText(lastError)) ? ` (${errorText(lastError)})` : '';
    return {
      status: 'unhealthy',
      message: `no PONG: ${detail}${cause}`,
      latency_ms: elapsedMs(start),
      target,
    };
  } finally {
    redis.disconnect(false);
  }
}

/** The registered probe: `health_checks.redis` (url overridable by REDIS_URL). */
export const redisProbe: Probe = {
  name: 'redis',
  section: 'redis',
  check: 'redis_connection',
  applies: () => true,
  run: ({ config, timeoutMs }) => probeRedis(config.health_checks.redis.url, timeoutMs),
};
