/**
 * `database_connection`: connect to PostgreSQL and run `SELECT 1` (what pg_isready tells, plus a
 * login and a query). A failure says whether the server is down or answering but refusing us
 * (see ./availability).
 */
import { Client, DatabaseError } from 'pg';
import { pgClientConfig } from './pg-config';
import type { CheckResult, Probe } from './types';
import { errorText } from './types';
import { elapsedMs, withDeadline } from './deadline';
import { classifySocketError, failureHeadline, type ConnectionFailure } from './availability';
import { probeKind } from '../policy/checks';

/** host:port/db of a connection URL, without credentials (safe for messages and logs). */
export function describeDbUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '5432'}${u.pathname}`;
  } catch {
    return 'postgres (unparsable URL)';
  }
}

/** A SQLSTATE: five digits or upper-case letters, sent only by a server (in a DatabaseError). */
const SQLSTATE = /^[0-9A-Z]{5}$/;
/** node-postgres's own errors for a connection that ended or stalled before the server answered. */
const PG_NO_ANSWER = /^(?:Connection terminated|timeout expired|Query read timeout)/;

/**
 * Why a connection attempt failed: any SQLSTATE is the server answering (`refusing`: 28P01 bad
 * password, 28000 no role / no pg_hba entry, 3D000 no database, 53300 too many clients, 57P03
 * starting up / recovery / shutting down, …); a failed connect/read/write, a connection closed
 * before the server spoke, or no answer in time is `down`; anything else (bad URL, DNS, TLS) is
 * `probe_error`.
 *
 * @example
 *   classifyPgError(Object.assign(new Error('sorry, too many clients already'), { code: '53300' }));
 *   // { kind: 'refusing', code: '53300' }
 */
export function classifyPgError(err: unknown): ConnectionFailure {
  const code = (err as { code?: unknown } | null)?.code;
  // A DatabaseError is a parsed ErrorResponse message: the server is up and said no.
  if (err instanceof DatabaseError && typeof code === 'string' && SQLSTATE.test(code)) return { kind: 'refusing', code };
  const socket = classifySocketError(err);
  if (socket) return socket;
  if (err instanceof Error && PG_NO_ANSWER.test(err.message)) return { kind: 'down', code: /timeout/i.test(err.message) ? 'timeout' : 'closed' };
  return { kind: 'probe_error', code: typeof code === 'string' ? code : err instanceof Error ? err.name : 'error' };
}

/**
 * Connects, runs `SELECT 1` and closes. Healthy with the seed's message "accepting connections";
 * unhealthy otherwise, with `failure` telling a server that is down (refused, no socket, no
 * answer within `timeoutMs`) from one that answers but refuses us (auth, too many clients,
 * recovery): see ./availability.
 *
 * @example
 *   await probePostgres('postgresql://root@127.0.0.1:5432/test', 5000);
 *   // { status: 'healthy', message: 'accepting connections', latency_ms: 3.2, target: '127.0.0.1:5432/test' }
 *   await probePostgres('postgresql://app:wrong@127.0.0.1:5432/app', 5000);
 *   // { status: 'unhealthy', message: 'accepting connections but refusing this one: password authentication failed for user "app"',
 *   //   failure: { kind: 'refusing', code: '28P01' }, ... }
 */
export async function probePostgres(url: string, timeoutMs: number): Promise<CheckResult> {
  const target = describeDbUrl(url);
  const start = performance.now();
  // pg's own timeouts bound each step; withDeadline bounds the whole (DNS, TLS, auth included).
  const client = new Client(
    pgClientConfig(url, {
      connectionTimeoutMillis: timeoutMs,
      query_timeout: timeoutMs,
      statement_timeout: timeoutMs,
      application_name: 'autofix-health',
    }),
  );
  client.on('error', () => undefined); // a dying connection emits 'error'; the awaited calls report it
  try {
    await withDeadline(
      (async () => {
        await client.connect();
        await client.query('SELECT 1');
      })(),
      timeoutMs,
      `postgres ${target}`,
    );
    return { status: 'healthy', message: 'accepting connections', latency_ms: elapsedMs(start), target };
  } catch (err) {
    const failure = classifyPgError(err);
    return {
      status: 'unhealthy',
      message: `${failureHeadline(failure.kind)}: ${errorText(err)}`,
      latency_ms: elapsedMs(start),
      target,
      failure,
    };
  } finally {
    closeClient(client);
  }
}

/** Ends the client without waiting on a server that may never answer the goodbye. */
function closeClient(client: Client): void {
  const stream = (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
  client.end().catch(() => undefined);
  // end() waits for the server to close; a stopped server never does, so drop the socket soon after.
  const t = setTimeout(() => stream?.destroy(), 200);
  t.unref();
}

/** The registered probe: `health_checks.postgres` (url overridable by DATABASE_URL). */
export const postgresProbe: Probe = {
  ...probeKind('postgres'),
  applies: () => true,
  run: ({ config, timeoutMs }) => probePostgres(config.health_checks.postgres.url, timeoutMs),
};
