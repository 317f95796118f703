/**
 * database_vacuum: `VACUUM (ANALYZE, SKIP_LOCKED)` on the database of `health_checks.postgres.url`,
 * or on the listed tables only, bounded by `statement_timeout`. Connection errors are plain Errors
 * (retried); a missing table is a non-retryable ConfigError.
 *
 * Why confirming means only "the database answers": VACUUM interrupts nothing. A plain VACUUM
 * (never FULL here) takes SHARE UPDATE EXCLUSIVE locks, which reads and writes never wait for;
 * SKIP_LOCKED makes it skip a table whose lock is not free at once instead of queueing for it
 * (a queued VACUUM would make later DDL on that table wait behind it); no session is ended. Its
 * cost is I/O, bounded by statement_timeout and by the cooldown and flap guard. So the live probe
 * is the connection itself (no answer: retried, nothing run), and the dead rows the statistics
 * count are recorded as evidence, not required: a crash resets those statistics, and a VACUUM
 * with nothing to do only reads the visibility map.
 */
import { configFailure } from '../errors';
import { Client, escapeIdentifier } from 'pg';
import { pgClientConfig } from '../probes/pg-config';
import type { ActionSpec } from '../config/schema';
import type { ActionDefinition } from './types';

type Spec = Extract<ActionSpec, { type: 'database_vacuum' }>;

/**
 * The VACUUM statement for `tables` (each part of `schema.table` quoted separately).
 *
 * @example
 *   vacuumStatement(['public.users']) // 'VACUUM (ANALYZE, SKIP_LOCKED) "public"."users"'
 */
export function vacuumStatement(tables: string[] = []): string {
  const list = tables.map((t) => t.split('.').map(escapeIdentifier).join('.')).join(', ');
  return list ? `VACUUM (ANALYZE, SKIP_LOCKED) ${list}` : 'VACUUM (ANALYZE, SKIP_LOCKED)';
}

/** Dead rows the statistics count in `tables` (all user tables when none), as evidence. */
async function deadRows(client: Client, tables: string[] = []): Promise<{ dead: number; tables: number }> {
  const where = tables.length ? `WHERE schemaname || '.' || relname = ANY($1) OR (relname = ANY($1) AND schemaname = current_schema())` : '';
  const r = await client.query<{ dead: string; n: string }>(`SELECT coalesce(sum(n_dead_tup), 0) AS dead, count(*) AS n FROM pg_stat_user_tables ${where}`, tables.length ? [tables] : []);
  return { dead: Number(r.rows[0]?.dead ?? 0), tables: Number(r.rows[0]?.n ?? 0) };
}

/** The URL with any password hidden, for logs and summaries. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparsable url>';
  }
}

export const databaseVacuum: ActionDefinition<Spec> = {
  type: 'database_vacuum',
  mutates: true,
  async plan(ctx, spec) {
    return {
      steps: [`${vacuumStatement(spec.tables)} on ${redact(ctx.config.health_checks.postgres.url)} (statement_timeout ${spec.statement_timeout_seconds} s)`],
      targets: [],
    };
  },
  async run(ctx, spec) {
    const url = ctx.config.health_checks.postgres.url;
    const sql = vacuumStatement(spec.tables);
    const client = new Client(pgClientConfig(url, { connectionTimeoutMillis: 10_000 }));
    client.on('error', () => undefined);
    const started = Date.now();
    let evidence = '';
    try {
      await client.connect();
      const stats = await deadRows(client, spec.tables);
      evidence = `confirmed: ${redact(url)} answers; ${stats.dead} dead rows in ${stats.tables} table(s) per pg_stat_user_tables`;
      ctx.log('INFO', `database_vacuum: ${evidence}`);
      // SET does not take bind parameters; the value is a validated number.
      await client.query(`SET statement_timeout = ${Math.round(spec.statement_timeout_seconds * 1000)}`);
      await client.query(sql);
    } catch (e) {
      const err = e as Error & { code?: string };
      if (err.code === '42P01') {
        throw configFailure(`database_vacuum: ${err.message} (tables ${JSON.stringify(spec.tables)} on ${redact(url)})`);
      }
      throw new Error(`database_vacuum on ${redact(url)}: ${err.message}`);
    } finally {
      await client.end().catch(() => undefined);
    }
    ctx.log('INFO', `database_vacuum: ${sql} done in ${Date.now() - started} ms`);
    return {
      type: 'database_vacuum',
      summary: `${evidence}; ${sql} finished in ${Date.now() - started} ms`,
      changed: spec.tables?.length ? spec.tables.map((t) => `table:${t}`) : ['database'],
      details: { sql, evidence, ms: Date.now() - started },
    };
  },
};
