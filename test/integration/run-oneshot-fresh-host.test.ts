/**
 * `autofix run` (the seed's one-shot `python auto_fix_daemon.py`) on a host where no Temporal
 * server runs and TEMPORAL_ADDRESS is unset: it runs its one loop on a temporary in-memory dev
 * server (the real CLI) and stops it when the run ends, or when the run is stopped by a signal.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DaemonSummary } from '../../src/workflows/definitions';
import { canConnect } from '../../src/util/net';
import { freePort } from '../helpers/net';
import { cli, CLI } from '../helpers/up';
import { waitFor } from '../helpers/temporal';

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

  test('SIGTERM during the run stops the temporary server, then the run exits as signalled', async () => {
    const child = spawn(process.execPath, [CLI, 'run', '--config', config], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (NOTE.test(err)) child.kill('SIGTERM'); // at once: the worker is not up yet
    });
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    const port = Number(NOTE.exec(err)?.[2]);
    assert.ok(port, err);
    assert.equal(code, 143, err);
    await waitFor('the temporary server gone', async () => serversOnPort(port).length === 0, 10_000);
    assert.equal(await canConnect(port), false);
  });
});
