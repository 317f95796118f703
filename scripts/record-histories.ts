/**
 * Records the replay fixtures in test/histories/: runs real scenarios of the daemon and of
 * sagas (fixed, compensated, failed, paused, dry-run, continued-as-new, one-shot, woken by the
 * worker's watchers) on a fresh in-memory dev server with the real worker, then exports each
 * history with the real `temporal workflow show --output json`.
 *
 *   npm run build && node dist/scripts/record-histories.js [NAME...] [--overwrite]
 *
 * A fixture that exists is kept: the stored histories are what older workflow code recorded,
 * and the replay test proves the current code still runs them. After a workflow change, record
 * the new shape under a new name (add a scenario below); `--overwrite` re-records the named (or
 * all) fixtures and is only for a deliberate reset.
 */
import { execFile } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { ensureTemporalCli } from '../src/temporal/provision';
import { startDevServer } from '../src/temporal/dev-server';
import { createAutofixWorker } from '../src/worker';
import { loadConfig } from '../src/config/load';
import { runNowSignal, statusQuery, type SagaInput } from '../src/workflows/definitions';
import { EVENT_LOOPS_PATCH } from '../src/workflows/daemon';
import { freePort } from '../src/util/net';

const OUT = path.resolve(__dirname, '../../test/histories');

const ALL = [
  'saga-fixed',
  'saga-failed-compensated',
  'saga-failed',
  'saga-skipped-paused',
  'saga-dry-run',
  'daemon-continued-as-new',
  'daemon-one-shot',
  'daemon-woken',
] as const;
type Fixture = (typeof ALL)[number];

/** The fixtures to record: the named ones (else all), minus those that exist unless --overwrite. */
function chosen(argv: string[]): Fixture[] {
  const overwrite = argv.includes('--overwrite');
  const names = argv.filter((a) => !a.startsWith('--'));
  for (const n of names) if (!(ALL as readonly string[]).includes(n)) throw new Error(`unknown fixture ${n} (known: ${ALL.join(', ')})`);
  const wanted = names.length ? (names as Fixture[]) : [...ALL];
  return wanted.filter((n) => {
    const keep = !overwrite && existsSync(path.join(OUT, `${n}.json`));
    if (keep) process.stdout.write(`kept ${n} (exists; --overwrite to record it again)\n`);
    return !keep;
  });
}

async function main(): Promise<void> {
  const todo = new Set(chosen(process.argv.slice(2)));
  if (todo.size === 0) return;
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
      daemon: { data_dir: path.join(dir, 'data'), log_file: path.join(dir, 'data', 'logs', 'auto_fix.log') },
      watch: { logs: [appLog] },
      health_checks: {
        postgres: { enabled: false },
        redis: { enabled: false },
        disk: { enabled: false },
        memory: { enabled: false },
        // A check that is never due (once an hour) and always passes: the daemon-woken scenario forces it.
        ports: { interval_seconds: 3600, expect_listening: [{ port: Number(server.address.split(':').pop()), name: 'temporal' }] },
      },
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
    const p = loadConfig(configPath).error_patterns.find((x) => x.id === patternId)!;
    const input: SagaInput = {
      incidentId: `incident-${patternId}-${extra.dryRun ? 'dryrun' : extra.paused ? 'paused' : 'run'}`,
      patternId,
      detection: { id: patternId, name: p.name, severity: p.severity, count: 1, source: 'log', file: appLog, first_line: 1, last_line: 1, samples: ['recorded'] },
      host: 'recorder',
      startedBy: 'cli',
      ...extra,
    };
    return client.workflow.execute('remediationSaga', { workflowId: input.incidentId, taskQueue, args: [input] }).then(() => input.incidentId);
  };
  mkdirSync(OUT, { recursive: true });
  await worker.runUntil(async () => {
    if (todo.has('saga-fixed')) await exportHistory('saga-fixed', await saga('http_5xx'));
    if (todo.has('saga-failed-compensated')) await exportHistory('saga-failed-compensated', await saga('disk_full'));
    if (todo.has('saga-failed')) await exportHistory('saga-failed', await saga('port_in_use'));
    if (todo.has('saga-skipped-paused')) await exportHistory('saga-skipped-paused', await saga('http_5xx', { paused: true }));
    if (todo.has('saga-dry-run')) await exportHistory('saga-dry-run', await saga('disk_full', { dryRun: true }));
    if (todo.has('daemon-continued-as-new')) await recordContinuedAsNew();
    if (todo.has('daemon-one-shot')) await recordOneShot();
    if (todo.has('daemon-woken')) await recordWoken();
  });

  /** Daemon: loops with detections, a pause/resume, a reload, then continue-as-new. */
  async function recordContinuedAsNew(): Promise<void> {
    const h = await client.workflow.start('autoFixDaemon', { workflowId: 'daemon-recorded', taskQueue, args: [{ loopCount: 4, loopIntervalSeconds: 0.3, waitMinutes: 0.005 }] });
    writeFileSync(appLog, '127.0.0.1 - - [28/Dec/2025 10:30:00] "GET / HTTP/1.1" 500 -\n');
    await new Promise((r) => setTimeout(r, 500));
    await h.signal('pauseFixes', { reason: 'recording', minutes: 1 });
    await h.executeUpdate('reloadConfig', { args: [{}] });
    // An edit of the worker's file, noticed by the next loop (the daemon switches to the new version).
    const edited = JSON.parse(readFileSync(configPath, 'utf8')) as { auto_fix_config: { cooldown_period: number } };
    edited.auto_fix_config.cooldown_period = 2;
    writeFileSync(configPath, JSON.stringify(edited));
    await h.signal('resumeFixes');
    await h.signal('runNow');
    for (;;) {
      const d = await client.workflow.getHandle('daemon-recorded', h.firstExecutionRunId).describe();
      if (d.status.name !== 'RUNNING') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    await exportHistory('daemon-continued-as-new', 'daemon-recorded', h.firstExecutionRunId);
    await h.terminate('recorded');
  }

  /** Daemon, one-shot (the seed's manual run). */
  async function recordOneShot(): Promise<void> {
    const once = `daemon-once-recorded`;
    writeFileSync(appLog, '127.0.0.1 - - [28/Dec/2025 10:31:00] "GET / HTTP/1.1" 503 -\n');
    await client.workflow.execute('autoFixDaemon', { workflowId: once, taskQueue, args: [{ once: true }] });
    await exportHistory('daemon-one-shot', once);
  }

  /**
   * Daemon woken by events between its loops: the worker's own log watcher hears an error line
   * (an event loop and its incident), a watcher-style runNow forces a check that is not due, a
   * manual runNow cuts a rest short, then continue-as-new. Loops 4 s apart, so the events land
   * in the rests.
   */
  async function recordWoken(): Promise<void> {
    const id = 'daemon-woken-recorded';
    const h = await client.workflow.start('autoFixDaemon', { workflowId: id, taskQueue, args: [{ loopCount: 3, loopIntervalSeconds: 4, waitMinutes: 0.02 }] });
    const status = () => h.query(statusQuery);
    const resting = async (loops: number) => {
      for (;;) {
        const s = await status().catch(() => undefined);
        if (s && s.phase !== 'detecting' && s.phase !== 'starting' && s.totals.loops >= loops) return s;
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await resting(1);
    appendFileSync(appLog, '127.0.0.1 - - [28/Dec/2025 10:32:00] "GET / HTTP/1.1" 502 -\n');
    await resting(2);
    await h.signal(runNowSignal, { reason: 'process', checks: ['ports'] });
    await resting(3);
    await h.signal(runNowSignal);
    for (;;) {
      const d = await client.workflow.getHandle(id, h.firstExecutionRunId).describe();
      if (d.status.name !== 'RUNNING') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    await exportHistory('daemon-woken', id, h.firstExecutionRunId);
    await h.terminate('recorded');
    // Decoded payloads: the patch marker must be there, or the events did not land in a rest.
    const text = readFileSync(path.join(OUT, 'daemon-woken.json'), 'utf8').replace(/"data":\s*"([A-Za-z0-9+/=]+)"/g, (_, b64: string) => Buffer.from(b64, 'base64').toString('utf8'));
    if (!text.includes(EVENT_LOOPS_PATCH)) throw new Error(`daemon-woken has no ${EVENT_LOOPS_PATCH} patch marker: the events did not land in a rest; record it again`);
  }
  await wconn.close();
  await connection.close();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}

main().catch((err: Error) => {
  process.stderr.write(`recording failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
