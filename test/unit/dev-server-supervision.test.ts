/**
 * The pieces of `up`'s supervision that need no Temporal server: restart pacing, reading why a
 * start failed (texts the real server printed for a corrupt, an incomplete and a full database),
 * finding servers on a database from /proc, and the kernel-held instance lock (real processes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { briefFailure, classifyStartFailure, DatabaseCorruptError, describeHolders, DiskFullError, explainOutput } from '../../src/temporal/dev-server';
import { nextRestartDelay } from '../../src/temporal/supervisor';
import { dbFileArg, serversOnDatabase } from '../../src/temporal/server-processes';
import { acquireInstanceLock, AlreadyRunningError } from '../../src/temporal/instance-lock';
import { waitFor } from '../helpers/temporal';

void test('restart delays: 0.5 s doubling to 30 s, back to 0.5 s after a stable minute', () => {
  const seq: number[] = [];
  let d: number | undefined;
  for (let i = 0; i < 9; i++) seq.push((d = nextRestartDelay(d, 5_000)));
  assert.deepEqual(seq, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  assert.equal(nextRestartDelay(30_000, 60_000), 500, 'a server that ran a minute resets the pace');
  assert.equal(nextRestartDelay(30_000, 59_999), 30_000);
  assert.equal(nextRestartDelay(undefined, 0, { initialMs: 100, maxMs: 150 }), 100);
  assert.equal(nextRestartDelay(100, 0, { initialMs: 100, maxMs: 150 }), 150);
});

// Lines printed by `temporal server start-dev` (CLI 1.5.1, server 1.29.1) in each case.
const CORRUPT = 'time=2026-12-01T00:12:11.657 level=ERROR msg="failed starting server: failed creating namespaces: error creating namespace \\"default\\": file is not a database (26)"';
const MALFORMED = 'time=2026-12-01T00:12:11.695 level=ERROR msg="failed starting server: failed creating namespaces: error creating namespace \\"default\\": database disk image is malformed (11)"';
const INCOMPLETE = 'time=2026-12-01T00:12:00.825 level=ERROR msg="failed starting server: failed creating namespaces: error creating namespace \\"default\\": SQL logic error: no such table: namespaces (1)"';
const FULL =
  'time=2026-12-01T00:12:21.156 level=ERROR msg="failed starting server: failed setting up schema: error executing statement \\"CREATE INDEX by_batcher_user ON executions_visibility (namespace_id);\\": database or disk is full (13)"';

void test('a failed start is read: corrupt, incomplete and full databases are permanent failures that say what to do', () => {
  for (const text of [CORRUPT, MALFORMED, INCOMPLETE]) {
    const e = classifyStartFailure(`some warning\n${text}\n`, '/srv/data/temporal/dev.db');
    assert.ok(e instanceof DatabaseCorruptError, text);
    assert.equal(e.permanent, true);
    assert.match(e.message, /^the Temporal database \/srv\/data\/temporal\/dev\.db is corrupt or incomplete \(.*(not a database|malformed|no such table).*\)\. Move it aside/);
  }
  const full = classifyStartFailure(FULL, '/srv/d.db');
  assert.ok(full instanceof DiskFullError);
  assert.match(full.message, /disk holding \/srv\/d\.db is full, .*database or disk is full \(13\).*Free space/);
  assert.ok(full.message.length < 600, 'the quote is trimmed around the cause');
  assert.equal(classifyStartFailure('time=... level=ERROR msg="something else"'), undefined);
});

void test('a failed start in one line names its reason: the panic, else the last error line, else the last line; no output is said', () => {
  const head = 'the Temporal dev server exited with code 1 before it answered. Its output:';
  const panic = `${head}\n${explainOutput(`panic: boom\n\ngoroutine 1 [running]:\n${'\tframe\n'.repeat(20)}`)}`;
  assert.equal(briefFailure(panic), `${head} panic: boom`);
  const errors = `${head}\n${explainOutput(`${CORRUPT}\ntime=x level=WARN msg="later, not the reason"`)}`;
  assert.equal(briefFailure(errors), `${head} ${CORRUPT}`);
  assert.equal(briefFailure(`${head}\n${explainOutput('one line\nthe last line\n')}`), `${head} the last line`);
  assert.equal(explainOutput(' \n'), '(it printed nothing)');
  assert.equal(briefFailure(`${head}\n${explainOutput('')}`), `${head} (it printed nothing)`);
  assert.equal(briefFailure('did not answer'), 'did not answer');
  assert.ok(briefFailure(`${head}\n${'x'.repeat(5000)}`).length <= 401, 'a long line is cut');
});

void test('the --db-filename of a dev server argv, in each spelling', () => {
  assert.equal(dbFileArg(['temporal', 'server', 'start-dev', '--db-filename', 'a.db']), 'a.db');
  assert.equal(dbFileArg(['temporal', 'server', 'start-dev', '-f', '/x/a.db', '--port', '1']), '/x/a.db');
  assert.equal(dbFileArg(['temporal', 'server', 'start-dev', '--db-filename=/y.db']), '/y.db');
  assert.equal(dbFileArg(['temporal', 'server', 'start-dev']), undefined, 'in-memory');
  assert.equal(dbFileArg(['sqlite3', '--db-filename', 'a.db']), undefined, 'not a dev server');
});

void test('process descriptions cannot forge output lines', () => {
  const text = describeHolders([{ pid: 7, startTime: 1, uid: 65534, user: 'nobody', cmdline: 'evil\n[autofix] daemon running\u001b[2J' }]);
  assert.equal(text, 'pid 7 (nobody: evil\\x0a[autofix] daemon running\\x1b[2J)');
});

function sleeper(args: string[], cwd: string): ChildProcess {
  return spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', ...args], { cwd, stdio: 'ignore' });
}

void test('servers on a database are found from /proc, relative paths resolved against their cwd', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'autofix-srv-'));
  const mine = sleeper(['server', 'start-dev', '--db-filename', 'dev.db'], dir);
  const other = sleeper(['server', 'start-dev', '--db-filename', 'other.db'], dir);
  try {
    const found = await waitFor('the fake server', async () => {
      const f = await serversOnDatabase(path.join(dir, 'dev.db'));
      return f.length ? f : undefined;
    });
    assert.deepEqual(
      found.map((p) => p.pid),
      [mine.pid],
    );
    assert.equal(found[0]?.uid, process.getuid?.());
    assert.match(found[0]?.cmdline ?? '', /start-dev --db-filename dev\.db$/);
  } finally {
    mine.kill('SIGKILL');
    other.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('the instance lock: a second holder is refused naming the first; kill -9 of the first frees it at once', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'autofix-lock-'));
  const db = path.join(dir, 'temporal', 'dev.db');
  const lockJs = path.resolve(__dirname, '../../src/temporal/instance-lock.js');
  const holder = spawn(process.execPath, ['-e', `require(${JSON.stringify(lockJs)}).acquireInstanceLock(${JSON.stringify(db)}).then(() => { console.log('locked'); setInterval(() => {}, 1000); })`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await new Promise<void>((resolve) => holder.stdout?.once('data', () => resolve()));
    await assert.rejects(acquireInstanceLock(db), (e: Error) => {
      assert.ok(e instanceof AlreadyRunningError);
      assert.deepEqual(
        e.holders.map((h) => h.pid),
        [holder.pid],
      );
      assert.match(e.message, new RegExp(`already running with the database ${db.replace(/[.]/g, '\\.')}: pid ${holder.pid} \\(root: .*node -e`));
      return true;
    });
    // The same database through a symlinked directory is the same lock.
    await assert.rejects(acquireInstanceLock(path.join(dir, 'temporal', '..', 'temporal', 'dev.db')), AlreadyRunningError);
    holder.kill('SIGKILL');
    await new Promise((r) => holder.once('exit', r));
    const lock = await acquireInstanceLock(db); // no stale state survives the holder
    await lock.release();
    const again = await acquireInstanceLock(db);
    await again.release();
  } finally {
    holder.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
