/**
 * `autofix up` keeps its embedded Temporal dev server alive (real `up` processes, real dev
 * servers on their own SQLite files and free ports, real kill -9):
 * - a killed server is back within 15 s, the worker reconnects by itself, the daemon's loop
 *   counter advances, and alerts.log has one outage and one recovery record from the worker;
 * - five kills in a row are survived (and a left-over pid file naming a live process does not
 *   stop `up` from starting: the lock is held by the kernel, not by a file);
 * - a server left running on the database (as after a kill of its `up`): the next `up` stops
 *   that stray server and supervises its own on the same database;
 * - a port taken by another process when the server must restart: `up` exits 1 naming the port
 *   and the process (pid and command line).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { waitFor } from '../helpers/temporal';
import { Connection } from '@temporalio/client';
import { freePort } from '../helpers/net';
import { CLI, cli, engineAlerts, loopsAbove, loopsOf, startUp, type UpProcess } from '../helpers/up';

/** A daemon that loops every 0.5 s, probes nothing external, and alerts to alerts.log only. */
const FAST = {
  auto_fix_config: { notification_channels: ['alerts'] },
  daemon: { loop_interval_seconds: 0.5, wait_minutes: 0.01, engine_outage_alert_seconds: 0.1 },
  health_checks: { postgres: { enabled: false }, redis: { enabled: false }, disk: { enabled: false }, memory: { enabled: false } },
};

/** True while `pid` runs (a zombie waiting to be reaped by init counts as gone). */
const alive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
};

/** Kills the server `up` runs and waits until `up` reports a new one and the daemon loops again. */
async function killServerAndRecover(up: UpProcess, timeoutMs: number): Promise<{ oldPid: number; newPid: number }> {
  const oldPid = up.serverPid() as number;
  const loops = await loopsAbove(up, 0, 30_000);
  process.kill(oldPid, 'SIGKILL');
  const newPid = await waitFor('a new server pid', async () => {
    const p = up.serverPid();
    return p !== oldPid ? p : undefined;
  }, timeoutMs, 100);
  await loopsAbove(up, loops, timeoutMs);
  return { oldPid, newPid: newPid as number };
}

describe('autofix up supervises its Temporal server', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'autofix-supervise-'));
  const ups: UpProcess[] = [];
  after(async () => {
    for (const up of ups) await up.stop();
    rmSync(tmp, { recursive: true, force: true });
  });
  const dirFor = (name: string) => {
    const d = path.join(tmp, name);
    mkdirSync(d, { recursive: true });
    return d;
  };

  test('kill -9 of the server: back within 15 s, the loop counter advances, one outage and one recovery alert', async () => {
    const up = await startUp(dirFor('one'), FAST);
    ups.push(up);
    const { oldPid, newPid } = await killServerAndRecover(up, 15_000);
    assert.notEqual(newPid, oldPid);
    assert.ok(!alive(oldPid));
    assert.match(up.out(), new RegExp(`dev server \\(pid ${oldPid}\\) stopped \\(killed by SIGKILL\\) after .*; restarting it in 0\\.5 s`));
    assert.match(up.out(), new RegExp(`Temporal dev server restarted on 127\\.0\\.0\\.1:${up.port} \\(pid ${newPid}, restart 1\\)`));
    // The worker (the `up` process itself) reported the outage and the recovery, once each.
    const alerts = await waitFor('the recovery alert', async () => {
      const a = engineAlerts(up.dataDir);
      return a.recovered.length ? a : undefined;
    }, 15_000);
    await new Promise((r) => setTimeout(r, 1500)); // no second alert follows
    const settled = engineAlerts(up.dataDir);
    assert.equal(settled.outage.length, 1, JSON.stringify(settled));
    assert.equal(settled.recovered.length, 1, JSON.stringify(settled));
    const [outage, recovered] = [alerts.outage[0], alerts.recovered[0]];
    assert.equal(outage?.severity, 'critical');
    assert.match(outage?.message ?? '', new RegExp(`^Temporal server unreachable: 127\\.0\\.0\\.1:${up.port} has not answered`));
    assert.equal(outage?.details?.worker_pid, up.child.pid);
    assert.match(recovered?.message ?? '', /reachable again: .* after an outage of \d+ s/);
    assert.equal(typeof recovered?.details?.outage_seconds, 'number');
    assert.equal(recovered?.details?.unreachable_since, outage?.details?.unreachable_since);
  });

  test('five kills in a row are survived; a stale pid file naming a live process does not block the start', async () => {
    const dir = dirFor('five');
    // What an earlier `up` left (pid files of the old scheme) pointing at a live, unrelated process.
    mkdirSync(path.join(dir, 'data', 'temporal'), { recursive: true });
    writeFileSync(path.join(dir, 'data', 'autofix-up.pid'), String(process.pid));
    writeFileSync(path.join(dir, 'data', 'temporal', 'dev.db.pid'), JSON.stringify({ pid: process.pid, address: '127.0.0.1:1', uiUrl: 'http://127.0.0.1:1' }));
    const up = await startUp(dir, FAST);
    ups.push(up);
    const pids = [up.serverPid()];
    for (let i = 1; i <= 5; i++) {
      // Backoff 0.5, 1, 2, 4, 8 s: the fifth restart comes 8 s after its kill.
      const { newPid } = await killServerAndRecover(up, 30_000);
      pids.push(newPid);
      assert.match(up.out(), new RegExp(`restart ${i}\\)`));
    }
    assert.equal(new Set(pids).size, 6, 'six different servers, one after the other');
    assert.equal(up.child.exitCode, null, 'up is still running');
    const n = (await loopsOf(up)) as number;
    await loopsAbove(up, n, 15_000);
    // The backoff grew to 8 s. A restart attempt may itself fail on a loaded machine (the server
    // exits before it answers); then the same backoff step shows as "trying again in 8 s".
    assert.match(up.out(), /(?:restarting it|trying again) in 8 s/);
  });

  test('SIGTERM while the worker starts: up still stops its server and exits 0', async () => {
    // Stopped the moment its server answers, before the worker and the daemon are up.
    const up = await startUp(dirFor('early-stop'), FAST, {}, { readyAt: 'Temporal dev server on' });
    ups.push(up);
    const serverPid = up.serverPid() as number;
    up.child.kill('SIGTERM');
    assert.equal(await up.exited, 0, up.out());
    assert.match(up.out(), /stopping \(SIGTERM\)…\n(?:.*\n)*\[autofix\] stopped\n/);
    await waitFor('the server gone', async () => !alive(serverPid), 10_000);
  });

  test('the worker cannot start (its metrics address is taken): up exits 1 saying why, and stops its server', async () => {
    const taken = net.createServer().listen(0, '127.0.0.1');
    await once(taken, 'listening');
    const metrics = `127.0.0.1:${(taken.address() as net.AddressInfo).port}`;
    try {
      const up = await startUp(dirFor('no-worker'), FAST, {}, { readyAt: 'Temporal dev server on', args: ['--metrics', metrics] });
      ups.push(up);
      const serverPid = up.serverPid() as number;
      // Before, the server it supervised kept `up` alive after the error: it never exited.
      const code = await Promise.race([up.exited, new Promise((r) => setTimeout(() => r('still running'), 60_000))]);
      assert.equal(code, 1, up.out());
      assert.match(up.out(), new RegExp(`cannot serve metrics on ${metrics.replace(/\./g, '\\.')}`));
      await waitFor('the server gone', async () => !alive(serverPid), 10_000);
    } finally {
      taken.close();
    }
  });

  test('a server left running on the database (an earlier up was killed): the next up stops it and supervises its own', async () => {
    const dir = dirFor('stray');
    const first = await startUp(dir, FAST);
    assert.equal(await first.stop(), 0);
    // What a killed `up` can leave behind: a dev server on the same database, nobody watching it.
    const temporalCli = process.env.AUTOFIX_TEST_TEMPORAL_CLI as string;
    const db = path.join(first.dataDir, 'temporal', 'dev.db');
    let stray = 0;
    for (let attempt = 1; !stray; attempt++) {
      // Other tests start servers too: a port picked free may be taken meanwhile; then pick again.
      const [port, uiPort] = [await freePort(), await freePort()];
      const proc = spawn(temporalCli, ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--ui-port', String(uiPort), '--db-filename', db], { stdio: 'ignore' });
      const up = await waitFor('the stray server answers or exits', async () => {
        if (proc.exitCode !== null) return 'exited';
        return (await fetch(`http://127.0.0.1:${uiPort}/`).catch(() => undefined))?.ok ? 'serving' : undefined;
      }, 90_000);
      if (up === 'serving') stray = proc.pid as number;
      else assert.ok(attempt < 3, 'the stray server could not start three times');
    }
    const second = await startUp(dir, FAST);
    ups.push(second);
    assert.match(second.out(), new RegExp(`left running on .*dev\\.db by an earlier start \\(pid ${stray}\\) is stopped`));
    assert.ok(!alive(stray));
    await loopsAbove(second, 0, 30_000);
    // Now supervised: a kill is repaired.
    await killServerAndRecover(second, 15_000);
  });

  test('a port taken by another process when the server must restart: up exits 1 naming the port and the process', async () => {
    const up = await startUp(dirFor('taken'), FAST);
    ups.push(up);
    // A program that grabs the gRPC port the moment it is free (it is busy while the server runs).
    const grab = `const s=require('net').createServer();const t=()=>s.listen(${up.port},'127.0.0.1');s.on('error',()=>setTimeout(t,5));s.on('listening',()=>console.log('bound'));t();`;
    const holder = spawn(process.execPath, ['-e', grab, 'squatter'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      await new Promise((r) => setTimeout(r, 200));
      process.kill(up.serverPid() as number, 'SIGKILL');
      const code = await waitFor('up exits', async () => (up.child.exitCode !== null ? { code: up.child.exitCode } : undefined), 60_000);
      assert.equal(code.code, 1, up.out());
      assert.match(
        up.out(),
        new RegExp(`autofix: the Temporal dev server cannot be kept running: port ${up.port} \\(gRPC\\) on 127\\.0\\.0\\.1 is already in use by pid ${holder.pid} \\([^:]+: .*node -e const s=require`),
      );
    } finally {
      holder.kill('SIGKILL');
    }
  });

  test('autofix server (the ExecStart of the systemd unit) keeps the server alive alone; a second one on its database is refused', async () => {
    const dir = dirFor('server');
    const [port, uiPort] = [await freePort(), await freePort()];
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      AUTOFIX_DATA_DIR: path.join(dir, 'data'),
      AUTOFIX_TEMPORAL_PORT: String(port),
      AUTOFIX_UI_PORT: String(uiPort),
      TEMPORAL_ADDRESS: '127.0.0.1:1', // ignored: `server` always runs its own
      ...(process.env.AUTOFIX_TEST_TEMPORAL_CLI ? { TEMPORAL_CLI_PATH: process.env.AUTOFIX_TEST_TEMPORAL_CLI } : {}),
    };
    let out = '';
    const server = spawn(process.execPath, [CLI, 'server'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    server.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    server.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => server.once('exit', (c) => r(c)));
    try {
      await waitFor('server serving', async () => out.includes(`serving 127.0.0.1:${port}`), 60_000);
      const first = Number(/\(pid (\d+)\)/.exec(out)?.[1]);
      process.kill(first, 'SIGKILL');
      await waitFor('restarted', async () => /restarted on .* \(pid \d+, restart 1\)/.test(out), 15_000);
      const conn = await Connection.connect({ address: `127.0.0.1:${port}` });
      try {
        const ns = await conn.workflowService.describeNamespace({ namespace: 'default' });
        assert.equal(ns.namespaceInfo?.name, 'default', 'the restarted server serves the same database');
      } finally {
        await conn.close();
      }
      const second = await cli(['server'], env);
      assert.equal(second.code, 1);
      assert.match(second.stderr, new RegExp(`already running with the database .*dev\\.db: pid ${server.pid} `));
    } finally {
      server.kill('SIGTERM');
    }
    assert.equal(await exited, 0, out);
    assert.match(out, /stopped/);
  });
});

