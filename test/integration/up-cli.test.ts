/**
 * `autofix up` (= npm start) as a person runs it: a real dev server with its own SQLite file and
 * free ports, the worker and the daemon in the foreground; the Web UI answers; `status --json`
 * answers; Ctrl-C stops everything; the next start finds the same daemon. And the faults a person
 * meets (unreachable server, busy port, unwritable data dir, no Temporal CLI and no Go) each end
 * with a one-paragraph error and a non-zero exit.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { DaemonStatus } from '../../src/workflows/definitions';
import { freePort } from '../helpers/net';
import { waitFor } from '../helpers/temporal';

const REPO = path.resolve(__dirname, '../../..');
const CLI = path.join(REPO, 'bin', 'autofix');
const run = promisify(execFile);

/** Runs the CLI; resolves with code, stdout and stderr (never rejects on a non-zero exit). */
async function cli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [CLI, ...args], { env, timeout: 60_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('autofix up', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'autofix-up-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  test('starts server, worker and daemon; stops cleanly on SIGINT; the next start resumes the same daemon', async () => {
    const [port, uiPort] = [await freePort(), await freePort()];
    const config = path.join(tmp, 'error_patterns.json');
    writeFileSync(config, JSON.stringify({ error_patterns: [], daemon: { data_dir: path.join(tmp, 'data'), log_file: path.join(tmp, 'data', 'logs', 'auto_fix.log') }, health_checks: { postgres: { enabled: false }, redis: { enabled: false } } }));
    const env: NodeJS.ProcessEnv = { ...process.env, AUTOFIX_DATA_DIR: path.join(tmp, 'data'), AUTOFIX_TEMPORAL_PORT: String(port), AUTOFIX_UI_PORT: String(uiPort), AUTOFIX_LOG_LEVEL: 'WARN' };
    delete env.TEMPORAL_ADDRESS;
    const start = (): { child: ChildProcess; out: () => string } => {
      let out = '';
      const child = spawn(process.execPath, [CLI, 'up', '--config', config, '--metrics', 'off'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
      return { child, out: () => out };
    };
    const stop = async (child: ChildProcess) => {
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGINT');
      return await exited;
    };
    const clientEnv = { ...process.env, TEMPORAL_ADDRESS: `127.0.0.1:${port}` };

    const first = start();
    try {
      // The two lines are two writes: the second may arrive in a later chunk, so wait for it.
      const webUi = new RegExp(`Web UI: http://127\\.0\\.0\\.1:${uiPort}/namespaces/default/workflows/autofix-daemon`);
      await waitFor('daemon running', async () => first.out().includes('daemon running') && webUi.test(first.out()), 120_000);
      const ui = await fetch(`http://127.0.0.1:${uiPort}/`);
      assert.equal(ui.status, 200);
      const s1 = await waitFor('status', async () => {
        const r = await cli(['status', '--json'], clientEnv);
        const st = r.code === 0 ? (JSON.parse(r.stdout) as DaemonStatus) : undefined;
        return st && st.totals.loops >= 1 ? st : undefined;
      });
      assert.equal(s1.running, true);
      assert.equal(s1.paused, false);
      // Histories, incidents and their payloads are for the worker alone.
      assert.equal(statSync(path.join(tmp, 'data', 'temporal')).mode & 0o777, 0o700);
      assert.equal(statSync(path.join(tmp, 'data', 'temporal', 'dev.db')).mode & 0o777, 0o600);
      assert.equal(typeof s1.iteration, 'number');
      assert.equal(typeof s1.loop, 'number');
      // A second `up` while one runs says so instead of starting a second server on the same file.
      const second = await cli(['up', '--config', config], env);
      assert.notEqual(second.code, 0);
      assert.match(second.stderr, /already running/);
    } finally {
      assert.equal(await stop(first.child), 0, first.out());
    }
    assert.match(first.out(), /stopped/);
    await waitFor('server gone', async () => !(await portOpen(port)), 20_000);

    const again = start();
    try {
      await waitFor('daemon running again', async () => again.out().includes('daemon running'), 120_000);
      const s2 = await waitFor('status again', async () => {
        const r = await cli(['status', '--json'], clientEnv);
        return r.code === 0 ? (JSON.parse(r.stdout) as DaemonStatus) : undefined;
      });
      const r = await cli(['status', '--json'], clientEnv);
      assert.equal(r.code, 0);
      assert.ok(s2.totals.loops >= 1, 'the same daemon, with its totals, survived the restart');
    } finally {
      await stop(again.child);
    }
  });

  test('an unreachable TEMPORAL_ADDRESS is a one-paragraph error, not a hang', async () => {
    const port = await freePort();
    const r = await cli(['status'], { ...process.env, TEMPORAL_ADDRESS: `127.0.0.1:${port}` });
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`cannot reach the Temporal server at 127\\.0\\.0\\.1:${port}.*TEMPORAL_ADDRESS`));
    assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
  });

  test('a gRPC port held by another program: the error names the port, the process and the fix', async () => {
    const holder = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => holder.once('listening', r));
    const port = (holder.address() as net.AddressInfo).port;
    try {
      const env: NodeJS.ProcessEnv = { ...process.env, AUTOFIX_DATA_DIR: path.join(tmp, 'busy'), AUTOFIX_TEMPORAL_PORT: String(port), AUTOFIX_UI_PORT: String(await freePort()) };
      delete env.TEMPORAL_ADDRESS;
      const r = await cli(['up', '--metrics', 'off'], env);
      assert.equal(r.code, 1);
      // The holder (this test process) is named with its pid and command line, read from /proc.
      assert.match(r.stderr, new RegExp(`port ${port} \\(gRPC\\).*already in use by pid ${process.pid} \\([^)]*node`));
    } finally {
      holder.close();
    }
  });

  test('an unwritable data directory: the error names it and the fix', async () => {
    const file = path.join(tmp, 'not-a-dir');
    writeFileSync(file, 'x');
    const env: NodeJS.ProcessEnv = { ...process.env, AUTOFIX_DATA_DIR: path.join(file, 'data') };
    delete env.TEMPORAL_ADDRESS;
    const r = await cli(['up', '--metrics', 'off'], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot create .*not-a-dir.*AUTOFIX_DATA_DIR/);
  });

  test('no Temporal CLI and no Go: provisioning says why and how to supply a binary', async () => {
    const r = await run(process.execPath, [path.join(REPO, 'dist', 'scripts', 'provision-temporal.js')], {
      env: { PATH: '/usr/bin:/bin', HOME: tmp, AUTOFIX_CACHE_DIR: path.join(tmp, 'empty-cache') },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Go is not installed.*TEMPORAL_CLI_PATH=\/path\/to\/temporal/s);
  });
});

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
