/**
 * database_vacuum: `VACUUM (ANALYZE)` on the database of `health_checks.postgres.url`, or on
 * the listed tables only, bounded by `statement_timeout`. Connection errors are plain Errors
 * (retried); a missing table is a non-retryable ConfigError.
 */
import { ApplicationFailure } from '@temporalio/common';
import { Client, escapeIdentifier } from 'pg';
import { pgClientConfig } from '../pg-config';
import type { ActionSpec } from '../../config/schema';
import type { ActionDefinition } from './types';

type Spec = Extract<ActionSpec, { type: 'database_vacuum' }>;

/**
 * The VACUUM statement for `tables` (each part of `schema.table` quoted separately).
 *
 * @example
 *   vacuumStatement(['public.users']) // 'VACUUM (ANALYZE) "public"."users"'
 */
export function vacuumStatement(tables: string[] = []): string {
  const list = tables.map((t) => t.split('.').map(escapeIdentifier).join('.')).join(', ');
  return list ? `VACUUM (ANALYZE) ${list}` : 'VACUUM (ANALYZE)';
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
    try {
      await client.connect();
      // SET does not take bind parameters; the value is a validated number.
      await client.query(`SET statement_timeout = ${Math.round(spec.statement_timeout_seconds * 1000)}`);
      await client.query(sql);
    } catch (e) {
      const err = e as Error & { code?: string };
      if (err.code === '42P01') {
        throw ApplicationFailure.nonRetryable(`database_vacuum: ${err.message} (tables ${JSON.stringify(spec.tables)} on ${redact(url)})`, 'ConfigError');
      }
      throw new Error(`database_vacuum on ${redact(url)}: ${err.message}`);
    } finally {
      await client.end().catch(() => undefined);
    }
    ctx.log('INFO', `database_vacuum: ${sql} done in ${Date.now() - started} ms`);
    return {
      type: 'database_vacuum',
      summary: `${sql} on ${redact(url)} finished in ${Date.now() - started} ms`,
      changed: spec.tables?.length ? spec.tables.map((t) => `table:${t}`) : ['database'],
      details: { sql, ms: Date.now() - started },
    };
  },
};
