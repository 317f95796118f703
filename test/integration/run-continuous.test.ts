/**
 * `autofix run --continuous` as a user of the seed types it. With no worker serving the queue it
 * runs the worker itself in the foreground (starting the embedded server on a fresh host) with
 * the seed's `--config`, `--log-file`, `--loop-count` and `--wait-minutes`, echoing auto_fix.log;
 * a second one attaches and returns; and a worker that died a moment ago (the server still lists
 * its poller) does not fool it into attaching to nobody.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { canConnect } from '../../src/util/net';
import { freePort } from '../helpers/net';
import { temporalAddress, waitFor } from '../helpers/temporal';

const BIN = path.resolve(__dirname, '../../../bin/autofix');
const SEED_PREFIX = '^\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2} - AutoFixDaemon - \\[INFO\\] - ';
const ITERATION = new RegExp(`${SEED_PREFIX}イテレーション (\\d+) 開始$`, 'gm');
const CYCLE = new RegExp(`${SEED_PREFIX}=== 検知サイクル (\\d+) 開始 ===$`, 'gm');

/** A CLI child process with its output collected. */
function start(args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; out: () => string; exit: Promise<number | null> } {
  let out = '';
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return { child, out: () => out, exit: new Promise((r) => child.once('exit', (code) => r(code))) };
}

/** Terminates a daemon left on the shared test server (no worker serves it any more). */
async function terminate(workflowId: string): Promise<void> {
  const connection = await Connection.connect({ address: temporalAddress() });
  try {
    await new Client({ connection }).workflow.getHandle(workflowId).terminate('test done').catch(() => undefined);
  } finally {
    await connection.close();
  }
}

/** The iteration numbers and the loop numbers (within an iteration) the seed's lines in `text` show. */
const iterations = (text: string) => [...text.matchAll(ITERATION)].map((m) => Number(m[1]));
const loops = (text: string) => [...text.matchAll(CYCLE)].map((m) => Number(m[1]));

describe('autofix run --continuous', () => {
  let dir = '';
  let config = '';
  let appLog = '';
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'autofix-continuous-'));
    appLog = path.join(dir, 'app.log');
    writeFileSync(appLog, '');
    config = path.join(dir, 'error_patterns.json');
    writeFileSync(
      config,
      JSON.stringify({
        error_patterns: [{ id: 'http_5xx', name: 'HTTP 5xxエラー', pattern: '" 5\\d\\d ', severity: 'error', auto_fix: true, actions: [{ type: 'alert' }] }],
        auto_fix_config: { cooldown_period: 1 },
        daemon: { data_dir: path.join(dir, 'data'), log_file: path.join(dir, 'data', 'logs', 'auto_fix.log') },
        watch: { logs: [appLog] },
        health_checks: { postgres: { enabled: false }, redis: { enabled: false }, disk: { enabled: false }, memory: { enabled: false } },
      }),
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('on a fresh host: runs server, worker and daemon here with the seed options; a second one attaches', async () => {
    const [port, uiPort] = [await freePort(), await freePort()];
    const env: NodeJS.ProcessEnv = { ...process.env, AUTOFIX_DATA_DIR: path.join(dir, 'state'), AUTOFIX_TEMPORAL_PORT: String(port), AUTOFIX_UI_PORT: String(uiPort), AUTOFIX_LOG_LEVEL: 'WARN' };
    delete env.TEMPORAL_ADDRESS;
    const logFile = path.join(dir, 'custom', 'custom.log');
    const seed = start(['run', '--continuous', '--config', config, '--log-file', logFile, '--loop-count', '2', '--wait-minutes', '0.02', '--loop-interval', '0.5'], env);
    try {
      await waitFor('third iteration', async () => iterations(seed.out()).some((i) => i >= 3) || (seed.child.exitCode !== null && assert.fail(seed.out())), 120_000);
      assert.match(seed.out(), /no worker serves task queue "autofix": running one here/);
      // --loop-count 2: every iteration is loops 1 and 2, never 3.
      assert.ok(loops(seed.out()).length >= 4 && loops(seed.out()).every((loop) => loop <= 2), seed.out());
      // --log-file: auto_fix.log is there, and alerts.log beside it.
      appendFileSync(appLog, '10.0.0.1 - - [28/Dec/2025:10:30:00 +0000] "GET /x HTTP/1.1" 503 0 "-" "curl"\n');
      await waitFor('alert next to --log-file', async () => existsSync(path.join(dir, 'custom', 'alerts.log')), 30_000);
      assert.match(readFileSync(logFile, 'utf8'), /=== 検知サイクル 1 開始 ===/);
      // A second `run --continuous` attaches to the daemon this one serves, and returns.
      const again = spawnSync(process.execPath, [BIN, 'run', '--continuous', '--json'], { env, encoding: 'utf8', timeout: 60_000 });
      assert.equal(again.status, 0, again.stderr);
      assert.equal((JSON.parse(again.stdout) as { attached: boolean }).attached, true);
      seed.child.kill('SIGINT');
      assert.equal(await seed.exit, 0, seed.out());
      assert.equal(await canConnect(port), false, 'the server it started stopped with it');
    } finally {
      seed.child.kill('SIGKILL');
    }
  });

  test('--attach (scripts, docker-compose) only starts the daemon and returns, even with no worker', async () => {
    const host = `att${Date.now().toString(36)}`;
    const env: NodeJS.ProcessEnv = { ...process.env, TEMPORAL_ADDRESS: temporalAddress() };
    const r = spawnSync(process.execPath, [BIN, 'run', '--continuous', '--attach', '--host', host, '--json'], { env, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { workflowId: string }).workflowId, `autofix-daemon-${host}`);
    assert.match(r.stderr, /no worker polls task queue "autofix-[a-z0-9]+" yet/);
    assert.doesNotMatch(r.stdout, /running one here/);
    await terminate(`autofix-daemon-${host}`);
  });

  test('a worker that just died is not a worker: it runs one here instead of attaching to nobody', async () => {
    const host = `cont${Date.now().toString(36)}`;
    const env: NodeJS.ProcessEnv = { ...process.env, TEMPORAL_ADDRESS: temporalAddress(), AUTOFIX_DATA_DIR: path.join(dir, `state-${host}`), AUTOFIX_LOG_LEVEL: 'WARN', AUTOFIX_METRICS_BIND: '' };
    const worker = start(['worker', '--config', config, '--host', host, '--metrics', 'off'], env);
    await waitFor('worker polling', async () => /worker polling/.test(worker.out()), 60_000);
    // The first run attaches to the live worker…
    const attached = spawnSync(process.execPath, [BIN, 'run', '--continuous', '--host', host, '--loop-interval', '0.5', '--json'], { env, encoding: 'utf8', timeout: 60_000 });
    assert.equal(attached.status, 0, attached.stderr);
    assert.equal((JSON.parse(attached.stdout) as { attached: boolean }).attached, false, 'it started the daemon there');
    // …which then dies without a goodbye; the server keeps listing its poller for a while.
    worker.child.kill('SIGKILL');
    await worker.exit;
    const seed = start(['run', '--continuous', '--host', host], env);
    try {
      await waitFor('runs the worker here', async () => /no worker serves task queue "autofix-[a-z0-9]+": running one here/.test(seed.out()) || (seed.child.exitCode !== null && assert.fail(seed.out())), 60_000);
      await waitFor('loops served here', async () => loops(seed.out()).length >= 2, 60_000);
      seed.child.kill('SIGINT');
      assert.equal(await seed.exit, 0, seed.out());
    } finally {
      seed.child.kill('SIGKILL');
      await terminate(`autofix-daemon-${host}`);
    }
  });
});
