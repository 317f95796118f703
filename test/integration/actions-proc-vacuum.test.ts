/**
 * database_vacuum on the shared PostgreSQL's `test` database, on a table of its own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from 'pg';
import { databaseVacuum, vacuumStatement } from '../../src/actions/database-vacuum';
import { makeConfig, makeCtx, tempDir } from './actions-proc-fixtures';

const URL = process.env.AUTOFIX_TEST_PG_URL ?? 'postgresql://root@127.0.0.1:5432/test';

void test('vacuumStatement quotes each part of a table name', () => {
  assert.equal(vacuumStatement(), 'VACUUM (ANALYZE, SKIP_LOCKED)');
  assert.equal(vacuumStatement(['public.Users', 'jobs']), 'VACUUM (ANALYZE, SKIP_LOCKED) "public"."Users", "jobs"');
});

void test('database_vacuum vacuums the listed table (vacuum_count moves)', async () => {
  const table = `autofix_vacuum_${process.pid}_${Date.now()}`;
  const client = new Client({ connectionString: URL });
  await client.connect();
  try {
    await client.query(`CREATE TABLE ${table} (id int primary key, v text)`);
    await client.query(`INSERT INTO ${table} SELECT g, repeat('x', 100) FROM generate_series(1, 2000) g`);
    await client.query(`DELETE FROM ${table} WHERE id % 2 = 0`);
    const stats = async () =>
      (await client.query<{ n: string; last: Date | null; an: string }>(
        'SELECT vacuum_count AS n, last_vacuum AS last, analyze_count AS an FROM pg_stat_user_tables WHERE relname = $1',
        [table],
      )).rows[0];
    const before = await stats();
    assert.equal(before?.n, '0');

    const ctx = makeCtx(makeConfig(tempDir(), { health_checks: { postgres: { url: URL } } }));
    const spec = { type: 'database_vacuum' as const, tables: [`public.${table}`], statement_timeout_seconds: 60 };
    const plan = await databaseVacuum.plan(ctx, spec);
    assert.match(plan.steps[0] ?? '', /VACUUM \(ANALYZE, SKIP_LOCKED\) "public"\."autofix_vacuum_/);
    const r = await databaseVacuum.run(ctx, spec);
    assert.deepEqual(r.changed, [`table:public.${table}`]);
    // The live evidence: the database answered, and the statistics' dead rows of that one table.
    assert.match(r.summary, /^confirmed: postgresql:\/\/\S+ answers; \d+ dead rows in 1 table\(s\) per pg_stat_user_tables; VACUUM/);

    // The statistics collector reports asynchronously; ask for a fresh snapshot until it shows.
    let after = await stats();
    for (let i = 0; i < 50 && after?.n === '0'; i++) {
      await new Promise((res) => setTimeout(res, 100));
      await client.query('SELECT pg_stat_clear_snapshot()');
      after = await stats();
    }
    assert.equal(after?.n, '1');
    assert.ok(after?.last instanceof Date);
    assert.equal(after?.an, '1');
  } finally {
    await client.query(`DROP TABLE IF EXISTS ${table}`);
    await client.end();
  }
});

void test('database_vacuum of a missing table is a non-retryable ConfigError', async () => {
  const ctx = makeCtx(makeConfig(tempDir(), { health_checks: { postgres: { url: URL } } }));
  await assert.rejects(
    databaseVacuum.run(ctx, { type: 'database_vacuum', tables: ['autofix_no_such_table'], statement_timeout_seconds: 10 }),
    (e: Error & { type?: string }) => e.type === 'ConfigError' && /does not exist/.test(e.message),
  );
});
