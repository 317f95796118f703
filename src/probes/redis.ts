/**
 * `redis_connection`: PING Redis (AUTH and db taken from the URL by ioredis). A failure says
 * whether the server is down or answering but refusing us (see ./availability).
 */
import Redis from 'ioredis';
import type { CheckResult, Probe } from './types';
import { errorText } from './types';
import { elapsedMs, withDeadline } from './deadline';
import { classifySocketError, failureHeadline, type ConnectionFailure } from './availability';
import { probeKind } from '../policy/checks';

/** host:port of a redis URL, without credentials. */
export function describeRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '6379'}`;
  } catch {
    return 'redis (unparsable URL)';
  }
}

/** ioredis's own errors for a connection that ended or stalled before the server answered. */
const REDIS_NO_ANSWER = /^(?:Connection is closed|Stream isn't writeable|Command timed out)/;

/**
 * Why a PING failed, from the errors seen (the awaited one and those the client emitted): an
 * error reply is the server answering (`refusing`; the code is the reply's first word: NOAUTH,
 * WRONGPASS, LOADING, ERR for "max number of clients reached", BUSY, MASTERDOWN, …); else a
 * failed connect/read/write, a closed connection or no answer in time is `down`; anything else
 * (bad URL, DNS, TLS) is `probe_error`.
 *
 * @example
 *   classifyRedisErrors([replyError('WRONGPASS invalid username-password pair')]);
 *   // { kind: 'refusing', code: 'WRONGPASS' }
 */
export function classifyRedisErrors(errors: readonly unknown[]): ConnectionFailure {
  const seen = errors.filter((e): e is Error => e instanceof Error);
  const reply = seen.find((e) => e.name === 'ReplyError');
  if (reply) return { kind: 'refusing', code: /^[A-Z][A-Z_-]*/.exec(reply.message)?.[0] ?? 'ERR' };
  for (const e of seen) {
    const socket = classifySocketError(e);
    if (socket) return socket;
  }
  const closed = seen.find((e) => REDIS_NO_ANSWER.test(e.message));
  if (closed) return { kind: 'down', code: /timed out/.test(closed.message) ? 'timeout' : 'closed' };
  return { kind: 'probe_error', code: seen[0]?.name ?? 'error' };
}

/**
 * Opens one connection, sends PING, disconnects. No retries and no offline queue, so a dead
 * Redis gives one quick failure instead of a reconnect storm; a hung one (accepts TCP, never
 * answers) fails at `timeoutMs`. An unhealthy result carries `failure` (see ./availability).
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
    // No CLIENT SETNAME / SETINFO: ioredis sends them first and swallows their replies, and an
    // error reply Redis sends right after accepting (max number of clients reached) would be
    // lost with them; PING (or AUTH) must be the first command to see it.
    disableClientInfo: true,
  });
  const emitted: unknown[] = [];
  redis.on('error', (e) => emitted.push(e)); // kept for the verdict; an unhandled 'error' would crash
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
    const lastError = emitted.at(-1);
    const cause = lastError && !detail.includes(errorText(lastError)) ? ` (${errorText(lastError)})` : '';
    // The emitted errors come first: AUTH's WRONGPASS explains the NOAUTH that PING then gets.
    const failure = classifyRedisErrors([...emitted, err]);
    return {
      status: 'unhealthy',
      message: `no PONG, ${failureHeadline(failure.kind)}: ${detail}${cause}`,
      latency_ms: elapsedMs(start),
      target,
      failure,
    };
  } finally {
    redis.disconnect(false);
  }
}

/** The registered probe: `health_checks.redis` (url overridable by REDIS_URL). */
export const redisProbe: Probe = {
  ...probeKind('redis'),
  applies: () => true,
  run: ({ config, timeoutMs }) => probeRedis(config.health_checks.redis.url, timeoutMs),
};
