/**
 * The trust boundary, attacked with the plain `temporal` CLI (what anyone who reaches the
 * namespace can run): a client may ask for a fix of something the worker's config names, but
 * a config, a config path, a forged config reference, an unknown pattern or a file outside the
 * watched ones in an input is refused — and nothing runs.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { WorkflowFailedError } from '@temporalio/client';
import { makeSandbox, type Sandbox } from '../helpers/sandbox';
import { startTestWorker, temporalAddress, type TestTemporal } from '../helpers/temporal';
import { remediationSaga } from '../../src/workflows/saga';
import type { SagaResult } from '../../src/workflows/definitions';

const run = promisify(execFile);

function temporalCli(): string {
  const cli = process.env.AUTOFIX_TEST_TEMPORAL_CLI;
  if (!cli) throw new Error('AUTOFIX_TEST_TEMPORAL_CLI is not set: run the tests with `npm test`');
  return cli;
}

describe('trust boundary: inputs name, never define', () => {
  let sb: Sandbox;
  let t: TestTemporal;
  let uploads: string;
  const canary = path.join(os.tmpdir(), `autofix-canary-${process.pid}-${Date.now()}`);

  before(async () => {
    sb = makeSandbox();
    uploads = path.join(sb.dir, 'uploads');
    sb.writeConfig({
      error_patterns: [
        { id: 'fs_not_found', name: 'missing dir', pattern: 'FileNotFoundError', severity: 'warning', auto_fix: true, actions: [{ type: 'create_missing_dirs' }] },
        { id: 'json_parse', name: 'JSON', pattern: 'JSONDecodeError', severity: 'error', auto_fix: true, sources: ['log', 'json'], actions: [{ type: 'backup_and_fix_json' }] },
      ],
      managed: { roots: [sb.dir], directories: { uploads } },
    });
    t = await startTestWorker({ configPath: sb.configPath });
  });
  after(async () => {
    await t.close();
    sb.cleanup();
  });

  /** Starts a workflow with the plain CLI and returns its failure (or result) and its history. */
  async function startWithCli(type: string, id: string, input: unknown): Promise<{ error?: string; history: string }> {
    const base = ['--address', temporalAddress(), '--workflow-id', id];
    await run(temporalCli(), ['workflow', 'start', '--type', type, '--task-queue', t.taskQueue, ...base, '--input', JSON.stringify(input)]);
    let error: string | undefined;
    try {
      await t.client.workflow.getHandle(id).result();
    } catch (err) {
      assert.ok(err instanceof WorkflowFailedError, String(err));
      let e: { message?: string; cause?: unknown } = err;
      while (e.cause) e = e.cause as typeof e;
      error = `${(e as { type?: string }).type ?? ''}: ${e.message}`;
    }
    const { stdout } = await run(temporalCli(), ['workflow', 'show', ...base, '--output', 'json'], { maxBuffer: 16 * 1024 * 1024 });
    return { ...(error ? { error } : {}), history: stdout };
  }

  const detection = { id: 'fs_not_found', name: 'missing dir', severity: 'warning' as const, count: 1, source: 'log' as const, samples: ['x'] };

  test('the old saga input, with a config whose restart argv would create a file, is refused and nothing runs', async () => {
    const evil = {
      incidentId: 'incident-evil-1',
      patternId: 'redis_connection',
      severity: 'critical',
      detection: { ...detection, id: 'redis_connection' },
      host: '',
      startedBy: 'cli',
      config: {
        source: '/tmp/evil.json',
        error_patterns: [{ id: 'redis_connection', name: 'r', pattern: 'x', severity: 'critical', auto_fix: true, actions: [{ type: 'service_restart', service: 'redis' }] }],
        services: { redis: { restart: ['touch', canary] } },
        auto_fix_config: { max_retries: 1, retry_delay: 1, action_timeout_seconds: 10, verify_timeout_seconds: 5, backup_before_fix: false },
      },
    };
    const r = await startWithCli('remediationSaga', `incident-evil-${Date.now()}`, evil);
    assert.match(r.error ?? '', /InvalidInputError: remediationSaga input refused: \$: field\(s\) severity, config not accepted/);
    assert.equal(existsSync(canary), false, 'the crafted argv never ran');
    assert.doesNotMatch(r.history, /ActivityTaskScheduled|ACTIVITY_TASK_SCHEDULED/, 'no activity was even scheduled');
  });

  test('the same attack in the new shape, with a forged config reference, is refused by the worker', async () => {
    const r = await startWithCli('remediationSaga', `incident-forged-${Date.now()}`, {
      incidentId: 'incident-forged-1',
      patternId: 'fs_not_found',
      detection,
      host: '',
      startedBy: 'cli',
      configRef: { name: 'evil.json', digest: 'a'.repeat(64) },
    });
    assert.match(r.error ?? '', /UnknownConfigError: config aaaaaaaaaaaa… is not one this worker served/);
    assert.equal(existsSync(uploads), false, 'no action ran');
  });

  test('a pattern the worker\'s config does not name is refused', async () => {
    const r = await startWithCli('remediationSaga', `incident-unknown-${Date.now()}`, { incidentId: 'incident-unknown-1', patternId: 'redis_connection', detection: { ...detection, id: 'redis_connection' }, host: '', startedBy: 'cli' });
    assert.match(r.error ?? '', /InvalidInputError: pattern "redis_connection" is not in the worker's config/);
  });

  test('a detected file the config does not watch is refused, and its content never reaches the history', async () => {
    const r = await startWithCli('remediationSaga', `incident-passwd-${Date.now()}`, {
      incidentId: 'incident-passwd-1',
      patternId: 'json_parse',
      detection: { id: 'json_parse', name: 'JSON', severity: 'error', count: 1, source: 'json', file: '/etc/passwd', samples: ['x'] },
      host: '',
      startedBy: 'cli',
    });
    assert.equal(r.error, undefined, 'the saga itself ends normally');
    assert.match(r.history, /\/etc\/passwd is not a file the worker's config watches \(watch.json_files\)/);
    assert.doesNotMatch(r.history, /root:x:0:0/);
  });

  test('a daemon started with a config path of its own is refused', async () => {
    const r = await startWithCli('autoFixDaemon', `daemon-evil-${Date.now()}`, { configPath: '/etc/passwd', loopCount: 1 });
    assert.match(r.error ?? '', /InvalidInputError: autoFixDaemon input refused: \$: field\(s\) configPath not accepted/);
    assert.doesNotMatch(r.history, /root:x:0:0/);
  });

  test('reloadConfig with a path is rejected before it reaches the history', async () => {
    const id = `daemon-reload-evil-${Date.now()}`;
    const base = ['--address', temporalAddress(), '--workflow-id', id];
    await run(temporalCli(), ['workflow', 'start', '--type', 'autoFixDaemon', '--task-queue', t.taskQueue, ...base, '--input', JSON.stringify({ loopCount: 1000, loopIntervalSeconds: 5, waitMinutes: 1 })]);
    try {
      const out = await run(temporalCli(), ['workflow', 'update', 'execute', ...base, '--name', 'reloadConfig', '--input', JSON.stringify({ path: '/etc/passwd' })]).then(
        (r) => ({ code: 0, text: r.stdout + r.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, text: e.stdout + e.stderr }),
      );
      assert.notEqual(out.code, 0);
      assert.match(out.text, /a path cannot be sent/);
      assert.doesNotMatch(out.text, /root:x:0:0/);
      const { stdout } = await run(temporalCli(), ['workflow', 'show', ...base, '--output', 'json'], { maxBuffer: 16 * 1024 * 1024 });
      assert.doesNotMatch(stdout, /etc\/passwd/, 'a rejected update leaves no trace in the history');
    } finally {
      await t.client.workflow.getHandle(id).terminate('test done');
    }
  });

  test('a saga runs under the config version it names, even after the file changed', async () => {
    const fix = (id: string, configRef?: SagaResult['config']) =>
      t.client.workflow.execute(remediationSaga, {
        workflowId: `incident-fs_not_found-${id}-${Date.now()}`,
        taskQueue: t.taskQueue,
        args: [{ incidentId: `incident-${id}`, patternId: 'fs_not_found', detection, host: '', startedBy: 'cli', ...(configRef ? { configRef } : {}) }],
      });
    const v1 = await fix('v1');
    assert.equal(v1.outcome, 'fixed');
    const before = readFileSync(sb.configPath, 'utf8');
    const v2dir = path.join(sb.dir, 'uploads-v2');
    const edited = JSON.parse(before) as { managed: { directories: Record<string, string> } };
    edited.managed.directories = { uploads: v2dir };
    writeFileSync(sb.configPath, JSON.stringify(edited));
    rmSync(uploads, { recursive: true, force: true });
    try {
      const pinned = await fix('pinned', v1.config);
      assert.deepEqual(pinned.config, v1.config);
      assert.equal(existsSync(uploads), true, 'the pinned (first) version ran');
      assert.equal(existsSync(v2dir), false);
      const current = await fix('current');
      assert.notEqual(current.config?.digest, v1.config?.digest);
      assert.equal(existsSync(v2dir), true, 'without a reference, the current file decides');
    } finally {
      writeFileSync(sb.configPath, before);
    }
  });

  test('what the worker keeps for itself is private: backups, state and config versions', async () => {
    const mode = (p: string) => statSync(p).mode & 0o777;
    assert.equal(mode(path.join(sb.dataDir, 'config')), 0o700);
    for (const f of readdirSync(path.join(sb.dataDir, 'config'))) assert.equal(mode(path.join(sb.dataDir, 'config', f)), 0o600);
    assert.equal(mode(path.join(sb.dataDir, 'state')), 0o700);
    assert.equal(mode(path.join(sb.dataDir, 'state', 'alerts-sent.json')), 0o600);
    assert.equal(mode(path.join(sb.dataDir, 'backups')), 0o700);
  });

  test('asking for a fix the config names works through the same CLI', async () => {
    const r = await startWithCli('remediationSaga', `incident-fs_not_found-${Date.now()}`, { incidentId: 'incident-ok-1', patternId: 'fs_not_found', detection, host: '', startedBy: 'cli' });
    assert.equal(r.error, undefined, r.error);
    assert.equal(existsSync(uploads), true, 'the configured directory was created');
  });
});
