/**
 * A remote engine (TEMPORAL_ADDRESS) that goes away: a real `autofix worker` process polls a dev
 * server the test starts; the test kills the server. The worker process itself writes one outage
 * record to alerts.log, /metrics shows the engine unreachable, `autofix status` says since when
 * (no stack trace); when a server answers on that address again, the worker writes one recovery
 * record with the outage's duration and /metrics shows it reachable.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDevServer, type RunningDevServer } from '../../src/temporal/dev-server';
import { freePort } from '../helpers/net';
import { waitFor } from '../helpers/temporal';
import { CLI, cli, engineAlerts } from '../helpers/up';

/** The value of one unlabelled series in a Prometheus text page. */
function metric(page: string, name: string): number | undefined {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(page);
  return m ? Number(m[1]) : undefined;
}

describe('a remote Temporal server that goes away', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'autofix-remote-'));
  const servers: RunningDevServer[] = [];
  after(async () => {
    for (const s of servers) await s.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  test('the worker alerts once when it is gone and once when it is back; status says since when', async () => {
    const temporalCli = process.env.AUTOFIX_TEST_TEMPORAL_CLI;
    assert.ok(temporalCli, 'run with the test runner (AUTOFIX_TEST_TEMPORAL_CLI)');
    const [port, uiPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
    const address = `127.0.0.1:${port}`;
    const first = await startDevServer({ cli: temporalCli, port, uiPort });
    servers.push(first);
    const dataDir = path.join(tmp, 'data');
    const configPath = path.join(tmp, 'error_patterns.json');
    writeFileSync(
      configPath,
      JSON.stringify({
        error_patterns: [],
        auto_fix_config: { notification_channels: ['alerts'] },
        daemon: { data_dir: dataDir, log_file: path.join(dataDir, 'logs', 'auto_fix.log'), engine_outage_alert_seconds: 1 },
      }),
    );
    const env = { ...process.env, TEMPORAL_ADDRESS: address, AUTOFIX_CONFIG: configPath, AUTOFIX_LOG_LEVEL: 'WARN' };
    let out = '';
    const worker = spawn(process.execPath, [CLI, 'worker', '--config', configPath, '--task-queue', 'remote-outage', '--metrics', `127.0.0.1:${metricsPort}`], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    worker.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    worker.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const scrape = async () => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    try {
      await waitFor('the worker sees the engine', async () => metric(await scrape(), 'autofix_engine_reachable') === 1, 60_000);
      const lastPoll = metric(await scrape(), 'autofix_engine_last_successful_poll_timestamp_seconds') as number;
      assert.ok(Math.abs(lastPoll - Date.now() / 1000) < 60, `last successful poll ${lastPoll}`);

      first.child?.kill('SIGKILL');
      await first.exited;
      const down = await waitFor('the outage alert', async () => engineAlerts(dataDir).outage[0], 30_000);
      assert.equal(down.details?.worker_pid, worker.pid, 'written by the worker process');
      assert.equal(down.details?.engine_address, address);
      assert.match(down.message, new RegExp(`^Temporal server unreachable: ${address.replace(/\./g, '\\.')} has not answered the autofix worker since `));
      const page = await scrape();
      assert.equal(metric(page, 'autofix_engine_reachable'), 0);
      assert.ok((metric(page, 'autofix_engine_unreachable_since_timestamp_seconds') as number) > 0);

      const status = await cli(['status'], env);
      assert.equal(status.code, 1);
      assert.match(
        status.stderr,
        new RegExp(`^autofix: cannot reach the Temporal server at ${address.replace(/\./g, '\\.')} since \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d \\(\\d+ s, as the worker pid ${worker.pid} sees it\\)`),
      );
      assert.doesNotMatch(status.stderr, /^\s+at /m, 'no stack trace');

      servers.push(await startDevServer({ cli: temporalCli, port, uiPort }));
      const back = await waitFor('the recovery alert', async () => engineAlerts(dataDir).recovered[0], 30_000);
      assert.match(back.message, /reachable again: .* after an outage of \d+ s/);
      assert.ok((back.details?.outage_seconds as number) >= 1);
      assert.equal(back.details?.unreachable_since, down.details?.unreachable_since);
      await waitFor('metrics: reachable', async () => metric(await scrape(), 'autofix_engine_reachable') === 1, 10_000);
      const all = engineAlerts(dataDir);
      assert.deepEqual([all.outage.length, all.recovered.length], [1, 1]);
      assert.equal(worker.exitCode, null, 'the worker kept running through the outage');
    } finally {
      const exited = new Promise((r) => worker.once('exit', r));
      worker.kill('SIGTERM');
      await exited;
    }
    assert.doesNotMatch(out, /Error: |unhandled/i, out);
  });
});
