/** `database_connection`: connect to PostgreSQL and run `SELECT 1` (what pg_isready tells, plus a query). */
import { Client } from 'pg';
import { pgClientConfig } from '../pg-config';
import type { CheckResult, Probe } from './types';
import { errorText } from './types';
import { elapsedMs, withDeadline } from './deadline';

/** host:port/db of a connection URL, without credentials (safe for messages and logs). */
export function describeDbUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '5432'}${u.pathname}`;
  } catch {
    return 'postgres (unparsable URL)';
  }
}

/**
 * Connects, runs `SELECT 1` and closes. Healthy with the seed's message "accepting connections";
 * unhealthy on refusal, auth failure or no answer within `timeoutMs`.
 *
 * @example
 *   await probePostgres('postgresql://root@127.0.0.1:5432/test', 5000);
 *   // { status: 'healthy', message: 'accepting connections', latency_ms: 3.2, target: '127.0.0.1:5432/test' }
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
    return {
      status: 'unhealthy',
      message: `not accepting connections: ${errorText(err)}`,
      latency_ms: elapsedMs(start),
      target,
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
  name: 'postgres',
  section: 'postgres',
  check: 'database_connection',
  applies: () => true,
  run: ({ config, timeoutMs }) => probePostgres(config.health_checks.postgres.url, timeoutMs),
};
