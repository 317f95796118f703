/**
 * Refreshes the replay fixtures in test/histories/: runs real scenarios of the daemon and of
 * sagas (fixed, compensated, failed, paused, dry-run, continued-as-new, one-shot) on a fresh
 * in-memory dev server with the real worker, then exports each history with the real
 * `temporal workflow show --output json`. Run after an intended workflow change (see README):
 *
 *   npm run build && node dist/scripts/record-histories.js
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { ensureTemporalCli } from '../src/temporal/provision';
import { startDevServer } from '../src/temporal/dev-server';
import { createAutofixWorker } from '../src/worker';
import { loadConfig } from '../src/config/load';
import type { SagaInput } from '../src/workflows/definitions';
import { freePort } from '../src/util/net';

const OUT = path.resolve(__dirname, '../../test/histories');

async function main(): Promise<void> {
  const cli = await ensureTemporalCli();
  const server = await startDevServer({ cli, port: await freePort(), uiPort: await freePort() });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'autofix-record-'));
  const appLog = path.join(dir, 'app.log');
  const bigLog = path.join(dir, 'big.log');
  const configPath = path.join(dir, 'error_patterns.json');
  writeFileSync(appLog, '');
  writeFileSync(bigLog, 'x'.repeat(8192) + '\n');
  writeFileSync(
    configPath,
    JSON.stringify({
      error_patterns: [
        { id: 'http_5xx', name: 'HTTP 5xx', pattern: '" 5\\d\\d ', severity: 'error', auto_fix: true, actions: [{ type: 'alert' }] },
        { id: 'disk_full', name: 'disk full', pattern: 'No space left', severity: 'critical', auto_fix: true, actions: [{ type: 'log_rotate', files: [bigLog], max_bytes: 1024 }, { type: 'kill_process_on_port', port: 1 }] },
        { id: 'port_in_use', name: 'port in use', pattern: 'EADDRINUSE', severity: 'error', auto_fix: true, actions: [{ type: 'kill_process_on_port', port: 1 }] },
      ],
      auto_fix_config: { max_retries: 2, retry_delay: 1, cooldown_period: 1, notification_channels: ['log', 'alerts'] },
      daemon: { data_dir: path.join(dir, 'data') },
      watch: { logs: [appLog] },
      health_checks: { postgres: { enabled: false }, redis: { enabled: false }, disk: { enabled: false }, memory: { enabled: false } },
      managed: { roots: [dir] },
    }),
  );
  const taskQueue = 'record';
  const { worker, connection: wconn } = await createAutofixWorker({ address: server.address, taskQueue, configPath, host: 'recorder' });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  const exportHistory = async (name: string, workflowId: string, runId?: string) => {
    const args = ['workflow', 'show', '--address', server.address, '-w', workflowId, '--output', 'json', ...(runId ? ['-r', runId] : [])];
    const { stdout } = await promisify(execFile)(cli, args, { maxBuffer: 64 * 1024 * 1024 });
    writeFileSync(path.join(OUT, `${name}.json`), JSON.stringify({ workflowId, history: JSON.parse(stdout) }, null, 1) + '\n');
    process.stdout.write(`recorded ${name} (${workflowId})\n`);
  };
  const saga = (patternId: string, extra: Partial<SagaInput> = {}) => {
    const cfg = loadConfig(configPath);
    const p = cfg.error_patterns.find((x) => x.id === patternId)!;
    const input: SagaInput = {
      incidentId: `incident-${patternId}-${extra.dryRun ? 'dryrun' : extra.paused ? 'paused' : 'run'}`,
      patternId,
      severity: p.severity,
      detection: { id: patternId, name: p.name, severity: p.severity, count: 1, source: 'log', file: appLog, first_line: 1, last_line: 1, samples: ['recorded'] },
      config: cfg,
      host: 'recorder',
      startedBy: 'cli',
      ...extra,
    };
    return client.workflow.execute('remediationSaga', { workflowId: input.incidentId, taskQueue, args: [input] }).then(() => input.incidentId);
  };
  mkdirSync(OUT, { recursive: true });
  await worker.runUntil(async () => {
    await exportHistory('saga-fixed', await saga('http_5xx'));
    await exportHistory('saga-failed-compensated', await saga('disk_full'));
    await exportHistory('saga-failed', await saga('port_in_use'));
    await exportHistory('saga-skipped-paused', await saga('http_5xx', { paused: true }));
    await exportHistory('saga-dry-run', await saga('disk_full', { dryRun: true }));

    // Daemon: loops with detections, a pause/resume, a reload, then continue-as-new.
    const h = await client.workflow.start('autoFixDaemon', { workflowId: 'daemon-recorded', taskQueue, args: [{ configPath, loopCount: 4, loopIntervalSeconds: 0.3, waitMinutes: 0.005 }] });
    writeFileSync(appLog, '127.0.0.1 - - [28/Dec/2025 10:30:00] "GET / HTTP/1.1" 500 -\n');
    await new Promise((r) => setTimeout(r, 500));
    await h.signal('pauseFixes', { reason: 'recording', minutes: 1 });
    await h.executeUpdate('reloadConfig', { args: [{}] });
    await h.signal('resumeFixes');
    await h.signal('runNow');
    for (;;) {
      const d = await client.workflow.getHandle('daemon-recorded', h.firstExecutionRunId).describe();
      if (d.status.name !== 'RUNNING') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    await exportHistory('daemon-continued-as-new', 'daemon-recorded', h.firstExecutionRunId);
    await h.terminate('recorded');

    const once = `daemon-once-recorded`;
    writeFileSync(appLog, '127.0.0.1 - - [28/Dec/2025 10:31:00] "GET / HTTP/1.1" 503 -\n');
    await client.workflow.execute('autoFixDaemon', { workflowId: once, taskQueue, args: [{ configPath, once: true }] });
    await exportHistory('daemon-one-shot', once);
  });
  await wconn.close();
  await connection.close();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}

main().catch((err: Error) => {
  process.stderr.write(`recording failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
