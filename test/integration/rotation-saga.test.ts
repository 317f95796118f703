/**
 * Create-mode rotation through the saga on the dev server, under a real writer appending numbered
 * lines: through a compensated rotation (a later action fails) and through a SIGKILL of the
 * worker in the middle of a rotation (between the move and the writer's reopen), every number
 * the writer wrote is found exactly once across the live log and its generations.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { SagaInput, SagaResult } from '../../src/workflows/definitions';
import { makeSandbox, type Sandbox } from '../helpers/sandbox';
import { startTestWorker, waitFor, type TestTemporal } from '../helpers/temporal';
import { WRITER_SCRIPT, accountFor, numbersIn, startWriter, type Writer } from '../helpers/numbered-writer';

const REPO = path.resolve(__dirname, '../../..');
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('create-mode rotation in a saga loses no line', () => {
  let sb: Sandbox;
  let t: TestTemporal;
  let log: string;
  let writer: Writer | undefined;
  let worker: ChildProcess | undefined;

  before(async () => {
    sb = makeSandbox();
    log = path.join(sb.dir, 'logs', 'app.log');
    t = await startTestWorker({ configPath: sb.configPath });
  });
  after(async () => {
    worker?.kill('SIGKILL');
    await writer?.stop();
    await t.close();
    sb.cleanup();
  });

  const pattern = (actions: unknown[]) => ({ id: 'disk_full', name: 'ディスク容量不足', pattern: 'No space left on device', severity: 'critical', auto_fix: true, actions });
  const input = (): SagaInput => ({
    incidentId: `incident-disk_full-rot-${randomUUID().slice(0, 8)}`,
    patternId: 'disk_full',
    detection: { id: 'disk_full', name: 'ディスク容量不足', severity: 'critical', count: 1, source: 'log', samples: ['OSError: [Errno 28] No space left on device'] },
    host: 'testhost',
    startedBy: 'cli',
  });

  test('a compensated rotation: the later action fails, the rotation stays, every number exactly once', async () => {
    writer = await startWriter(log, 1500);
    sb.writeConfig({
      error_patterns: [pattern([{ type: 'log_rotate', files: [log], max_bytes: 20_000, keep: 30 }, { type: 'service_restart', service: 'broken' }])],
      managed: { roots: [sb.dir], log_rotate: { copy_truncate: false, reopen: { service: 'writer', signal: 'HUP' }, reopen_wait_seconds: 5 } },
      services: {
        writer: { process_match: `.*${escape(path.basename(WRITER_SCRIPT))} ${escape(log)} .*`, confirm: false },
        broken: { restart: ['/bin/false'], confirm: false },
      },
      auto_fix_config: { max_retries: 1, retry_delay: 1, notification_channels: ['log', 'alerts'] },
    });
    await new Promise((r) => setTimeout(r, 500));
    const i = input();
    const r = (await t.client.workflow.execute('remediationSaga', { workflowId: i.incidentId, taskQueue: t.taskQueue, args: [i] })) as SagaResult;
    assert.equal(r.outcome, 'failed_compensated', JSON.stringify(r, null, 2));
    assert.equal(r.steps[0]?.status, 'done');
    await new Promise((res) => setTimeout(res, 500)); // the writer goes on in the new log
    const last = await writer.stop();
    writer = undefined;
    assert.deepEqual(accountFor(numbersIn(path.dirname(log), 'app.log'), last), { missing: [], duplicates: [] });
    assert.ok(existsSync(`${log}.1.gz`), 'the rotation stayed done');
  });

  test('SIGKILL of the worker between the move and the reopen: the retry completes the rotation, every number exactly once', async () => {
    const dir = path.join(sb.dir, 'logs2');
    const log2 = path.join(dir, 'app.log');
    mkdirSync(dir);
    writer = await startWriter(log2, 1500);
    const taskQueue = `rot-crash-${randomUUID().slice(0, 8)}`;
    sb.writeConfig({
      error_patterns: [pattern([{ type: 'log_rotate', files: [log2], max_bytes: 20_000, keep: 30 }])],
      // The reopen step takes 3 s (the window in which the worker is killed); it goes on without it.
      managed: { roots: [sb.dir], log_rotate: { copy_truncate: false, postrotate: ['/bin/sh', '-c', `sleep 3; kill -HUP ${writer.pid}`], reopen_wait_seconds: 10 } },
      auto_fix_config: { max_retries: 3, retry_delay: 1, action_timeout_seconds: 20, notification_channels: ['log', 'alerts'] },
    });
    const startWorker = () =>
      spawn(process.execPath, [path.join(REPO, 'bin', 'autofix'), 'worker', '--task-queue', taskQueue, '--config', sb.configPath, '--metrics', 'off'], {
        env: { ...process.env, AUTOFIX_LOG_LEVEL: 'ERROR' },
        stdio: 'ignore',
      });
    await new Promise((r) => setTimeout(r, 500));
    worker = startWorker();
    const i = input();
    const handle = await t.client.workflow.start('remediationSaga', { workflowId: i.incidentId, taskQueue, args: [i], workflowTaskTimeout: '2s' });
    // The seed's line, then its details (`  incident=… pattern=… action=0`) on the next one.
    const starts = () => readFileSync(path.join(sb.dataDir, 'logs', 'auto_fix.log'), 'utf8').split(/修復アクション実行: log_rotate\n[^\n]*incident=/).slice(1).filter((rest) => rest.startsWith(`${i.incidentId} `)).length;
    await waitFor('the log moved, the writer not yet told', async () => existsSync(`${log2}.1`) && starts() >= 1, 30_000, 20);
    assert.equal(existsSync(`${log2}.1.gz`), false, 'killed before compression');
    worker.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
    worker = startWorker();
    const r = (await handle.result()) as SagaResult;
    assert.equal(r.outcome, 'fixed', JSON.stringify(r, null, 2));
    await new Promise((res) => setTimeout(res, 500));
    const last = await writer.stop();
    writer = undefined;
    assert.deepEqual(accountFor(numbersIn(dir, 'app.log'), last), { missing: [], duplicates: [] });
    assert.ok(starts() >= 2, 'the action ran again after the kill');
  });
});
