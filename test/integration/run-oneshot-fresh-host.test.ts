/**
 * `autofix run` (the seed's one-shot `python auto_fix_daemon.py`) on a host where no Temporal
 * server runs and TEMPORAL_ADDRESS is unset: it runs its one loop on a temporary in-memory dev
 * server (the real CLI) and stops it when the run ends, or when the run is stopped by a signal.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import type { DaemonSummary } from '../../src/workflows/definitions';
import { canConnect } from '../../src/util/net';
import { freePort } from '../helpers/net';
import { cli, CLI } from '../helpers/up';
import { temporalAddress, waitFor } from '../helpers/temporal';

const NOTE =
  /no Temporal server answers on 127\.0\.0\.1:(\d+): this run uses a temporary in-memory one on 127\.0\.0\.1:(\d+), stopped when the run ends/;

/** Pids of the processes whose command line holds `--port <port>` (a dev server on that port). */
function serversOnPort(port: number): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').includes(`--port ${port} `);
      } catch {
        return false; // gone meanwhile
      }
    })
    .map(Number);
}

describe('autofix run on a host with no Temporal server', () => {
  let dir = '';
  let config = '';
  let appLog = '';
  let env: NodeJS.ProcessEnv = {};
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'autofix-oneshot-'));
    appLog = path.join(dir, 'app.log');
    writeFileSync(appLog, '127.0.0.1 - - [28/Dec/2025 10:29:00] "GET /old HTTP/1.1" 500 -\n');
    config = path.join(dir, 'error_patterns.json');
    writeFileSync(
      config,
      JSON.stringify({
        error_patterns: [
          {
            id: 'http_5xx',
            name: 'HTTP 5xxエラー',
            pattern: '" 5\\d\\d ',
            severity: 'error',
            auto_fix: true,
            actions: [{ type: 'alert' }],
          },
        ],
        auto_fix_config: { cooldown_period: 1, notification_channels: ['alerts'] },
        daemon: {
          data_dir: path.join(dir, 'data'),
          log_file: path.join(dir, 'data', 'logs', 'auto_fix.log'),
        },
        watch: { logs: [appLog] },
        health_checks: {
          postgres: { enabled: false },
          redis: { enabled: false },
          disk: { enabled: false },
          memory: { enabled: false },
        },
      }),
    );
    // Where `up` would run its server: a port nothing listens on.
    env = { ...process.env, AUTOFIX_TEMPORAL_PORT: String(await freePort()), AUTOFIX_LOG_LEVEL: 'WARN' };
    delete env.TEMPORAL_ADDRESS;
    if (process.env.AUTOFIX_TEST_TEMPORAL_CLI) env.TEMPORAL_CLI_PATH = process.env.AUTOFIX_TEST_TEMPORAL_CLI;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('each run gets a temporary server, detects what is new since the last run, alerts, and leaves no server behind', async () => {
    const first = await cli(['run', '--config', config, '--json'], env, 120_000);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, NOTE);
    assert.deepEqual(
      (JSON.parse(first.stdout) as DaemonSummary).detections,
      [],
      'the line written before the first run is the past',
    );
    appendFileSync(appLog, '127.0.0.1 - - [28/Dec/2025 10:30:00] "GET /a HTTP/1.1" 503 -\n');
    const second = await cli(['run', '--config', config, '--json'], env, 120_000);
    assert.equal(second.code, 0, second.stderr);
    const summary = JSON.parse(second.stdout) as DaemonSummary;
    assert.equal(summary.loops, 1);
    assert.equal(summary.detections[0]?.id, 'http_5xx');
    assert.equal(summary.incidents[0]?.outcome, 'fixed');
    assert.match(readFileSync(path.join(dir, 'data', 'logs', 'alerts.log'), 'utf8'), /HTTP 5xxエラー/);
    for (const r of [first, second]) {
      const port = Number(NOTE.exec(r.stderr)?.[2]);
      assert.equal(await canConnect(port), false, `the temporary server on ${port} stopped`);
      assert.deepEqual(serversOnPort(port), [], `no process left on ${port}`);
    }
  });

  /**
   * Starts a run with `configFile` and sends it `signal` `afterMs` after it says it started its
   * temporary server.
   */
  async function runSignalled(
    signal: NodeJS.Signals,
    configFile = config,
    afterMs = 0,
  ): Promise<{ code: number | null; port: number; err: string }> {
    const child = spawn(process.execPath, [CLI, 'run', '--config', configFile], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    let sent = false;
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (!sent && NOTE.test(err)) {
        sent = true;
        setTimeout(() => child.kill(signal), afterMs);
      }
    });
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    const port = Number(NOTE.exec(err)?.[2]);
    assert.ok(port, err);
    return { code, port, err };
  }

  test('SIGTERM during the run stops the temporary server, then the run exits as signalled', async () => {
    const { code, port, err } = await runSignalled('SIGTERM');
    assert.equal(code, 143, err);
    await waitFor('the temporary server gone', async () => serversOnPort(port).length === 0, 10_000);
    assert.equal(await canConnect(port), false);
  });

  test('kill -9 of the run (or the OOM killer) mid-cycle: the kernel stops the temporary server too', async () => {
    // A health check that hangs keeps the run busy; the server has long finished its start-up
    // output by the kill, so no broken pipe would stop it either.
    const hang = net.createServer(() => undefined).listen(0, '127.0.0.1');
    await once(hang, 'listening');
    const slow = path.join(dir, 'slow.json');
    const base = JSON.parse(readFileSync(config, 'utf8')) as Record<string, Record<string, unknown>>;
    const url = `http://127.0.0.1:${(hang.address() as net.AddressInfo).port}/`;
    writeFileSync(
      slow,
      JSON.stringify({
        ...base,
        health_checks: {
          ...base.health_checks,
          http: { timeout_seconds: 30, endpoints: [{ name: 'hangs', url }] },
        },
      }),
    );
    try {
      const { code, port } = await runSignalled('SIGKILL', slow, 3000);
      assert.equal(code, null, 'killed');
      await waitFor('the orphaned server gone', async () => serversOnPort(port).length === 0, 10_000);
      assert.equal(await canConnect(port), false);
    } finally {
      hang.close();
    }
  });

  test('another program on the local port: the error names AUTOFIX_TEMPORAL_PORT, which the user set, and nothing runs', async () => {
    const web = http.createServer((_req, res) => res.writeHead(404).end('not here'));
    web.listen(0, '127.0.0.1');
    await once(web, 'listening');
    const port = (web.address() as net.AddressInfo).port;
    try {
      const alertsBefore = readFileSync(path.join(dir, 'data', 'logs', 'alerts.log'), 'utf8');
      const r = await cli(
        ['run', '--config', config, '--json'],
        { ...env, AUTOFIX_TEMPORAL_PORT: String(port) },
        60_000,
      );
      assert.equal(r.code, 1, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(
          `on 127\\.0\\.0\\.1:${port} \\(AUTOFIX_TEMPORAL_PORT=${port}\\), but no Temporal server answers there`,
        ),
      );
      assert.doesNotMatch(r.stderr, /Check TEMPORAL_ADDRESS/, 'the user never set TEMPORAL_ADDRESS');
      assert.doesNotMatch(r.stderr, NOTE, 'no temporary server beside a port someone holds');
      assert.equal(r.stdout, '');
      assert.equal(readFileSync(path.join(dir, 'data', 'logs', 'alerts.log'), 'utf8'), alertsBefore);
    } finally {
      web.close();
    }
  });

  test('TLS or an API key without TEMPORAL_ADDRESS: a clear refusal, no temporary server, the key never printed', async () => {
    for (const extra of [{ TEMPORAL_TLS: 'true' }, { TEMPORAL_API_KEY: 'sk-secret-4242' }]) {
      const r = await cli(['run', '--config', config, '--json'], { ...env, ...extra }, 60_000);
      const name = Object.keys(extra)[0] as string;
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`${name} is set for a server TEMPORAL_ADDRESS does not name`));
      assert.doesNotMatch(r.stderr, NOTE);
      assert.doesNotMatch(r.stderr + r.stdout, /sk-secret-4242/);
    }
  });

  test('refused beside a worker of the same config that uses another server: no temporary server, no fix', async () => {
    const workerEnv = { ...env, TEMPORAL_ADDRESS: temporalAddress() };
    const queue = `oneshot-guard-${Date.now().toString(36)}`;
    const worker = spawn(
      process.execPath,
      [CLI, 'worker', '--config', config, '--task-queue', queue, '--metrics', 'off', '--no-watch'],
      { env: workerEnv, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    worker.stdout.on('data', (d: Buffer) => (out += d.toString()));
    worker.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise((r) => worker.once('exit', r));
    try {
      await waitFor(
        'worker polling',
        async () => /worker polling/.test(out) || (worker.exitCode !== null && assert.fail(out)),
        60_000,
      );
      appendFileSync(appLog, '127.0.0.1 - - [28/Dec/2025 10:31:00] "GET /g HTTP/1.1" 502 -\n');
      const alertsBefore = readFileSync(path.join(dir, 'data', 'logs', 'alerts.log'), 'utf8');
      const refused = await cli(['run', '--config', config, '--json'], env, 60_000);
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(
        refused.stderr,
        /an autofix worker of this config \(data directory .*\) runs on this host: pid (\d+)/,
      );
      assert.match(refused.stderr, new RegExp(`pid ${worker.pid} `), 'names the worker');
      assert.doesNotMatch(refused.stderr, NOTE);
      assert.equal(
        readFileSync(path.join(dir, 'data', 'logs', 'alerts.log'), 'utf8'),
        alertsBefore,
        'nothing was fixed or alerted',
      );
    } finally {
      worker.kill('SIGTERM');
      await exited;
    }
    // Once that worker is gone (the kernel drops its presence), the run goes ahead.
    const after = await cli(['run', '--config', config, '--json'], env, 120_000);
    assert.equal(after.code, 0, after.stderr);
    assert.equal((JSON.parse(after.stdout) as DaemonSummary).detections[0]?.id, 'http_5xx');
  });
});
