/**
 * Remediation sagas on the real dev server with real files: compensation restores the original
 * bytes when a later action fails for good (a rotation stays done); dry-run touches nothing; a manual
 * fix while paused is skipped; a corrupt watched JSON file is restored to its last good content by the daemon.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/load';
import { goodVersionsOf } from '../../src/backup/json-good';
import type { SagaInput, SagaResult } from '../../src/workflows/definitions';
import { makeSandbox, type Sandbox } from '../helpers/sandbox';
import { startTestWorker, waitFor, type TestTemporal } from '../helpers/temporal';

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const listing = (dir: string) => readdirSync(dir).sort();

describe('remediation saga safety', () => {
  let sb: Sandbox;
  let t: TestTemporal;
  let bigLog: string;

  before(async () => {
    sb = makeSandbox();
    bigLog = path.join(sb.dir, 'logs', 'big.log');
    sb.writeConfig({
      error_patterns: [
        {
          id: 'disk_full',
          name: 'ディスク容量不足',
          pattern: 'No space left on device',
          severity: 'critical',
          auto_fix: true,
          actions: [
            { type: 'log_rotate', files: [bigLog], max_bytes: 1024, keep: 2 },
            // Port 1 is not in managed.ports: a non-retryable refusal after the rotation.
            { type: 'kill_process_on_port', port: 1 },
          ],
        },
        { id: 'disk_full_ok', name: 'rotate only', pattern: 'never matches here', severity: 'warning', auto_fix: true, actions: [{ type: 'log_rotate', files: [bigLog], max_bytes: 1024, keep: 2 }] },
        {
          id: 'cache_then_fail',
          name: 'cache clear, then a refusal',
          pattern: 'never matches here',
          severity: 'error',
          auto_fix: true,
          actions: [{ type: 'cache_clear' }, { type: 'kill_process_on_port', port: 1 }],
        },
      ],
      managed: { roots: [sb.dir], cache_dirs: [path.join(sb.dir, 'cache')] },
      auto_fix_config: { max_retries: 3, retry_delay: 1, cooldown_period: 1, notification_channels: ['log', 'alerts'] },
    });
    t = await startTestWorker({ configPath: sb.configPath });
  });
  after(async () => {
    await t.close();
    sb.cleanup();
  });

  const runSaga = (patternId: string, extra: Partial<SagaInput> = {}): Promise<SagaResult> => {
    const cfg = loadConfig(sb.configPath);
    const pattern = cfg.error_patterns.find((p) => p.id === patternId)!;
    const input: SagaInput = {
      incidentId: `incident-${patternId}-test-${Date.now()}`,
      patternId,
      detection: { id: patternId, name: pattern.name, severity: pattern.severity, count: 1, source: 'log', samples: ['test'] },
      host: 'testhost',
      startedBy: 'cli',
      ...extra,
    };
    return t.client.workflow.execute('remediationSaga', { workflowId: input.incidentId, taskQueue: t.taskQueue, args: [input] });
  };

  test('an action that fails for good after a change: the backup is restored byte for byte', async () => {
    const cache = path.join(sb.dir, 'cache');
    mkdirSync(path.join(cache, 'sub'), { recursive: true });
    writeFileSync(path.join(cache, 'a.bin'), Buffer.from([0, 1, 2, 255]));
    writeFileSync(path.join(cache, 'sub', 'b.txt'), 'cached page\n');
    const before = { a: sha(path.join(cache, 'a.bin')), b: sha(path.join(cache, 'sub', 'b.txt')) };
    const r = await runSaga('cache_then_fail');
    assert.equal(r.outcome, 'failed_compensated', JSON.stringify(r, null, 2));
    assert.equal(r.steps[0]?.status, 'done');
    assert.ok(r.steps[0]?.backup, 'the clear was backed up first');
    assert.equal(r.steps[1]?.status, 'failed');
    assert.match(r.steps[1]?.error ?? '', /RefusedError/);
    assert.deepEqual(r.compensations.map((c) => c.ok), [true]);
    assert.deepEqual({ a: sha(path.join(cache, 'a.bin')), b: sha(path.join(cache, 'sub', 'b.txt')) }, before, 'original bytes restored');
    assert.ok(existsSync(path.join(r.steps[0]!.backup!, 'manifest.json')), 'the backup keeps its manifest');
  });

  test('a rotation followed by a failure stays done: compensation never puts a new inode under the log, no byte lost', async () => {
    const content = 'x'.repeat(64 * 1024) + '\nlast line\n';
    writeFileSync(bigLog, content);
    const ino = statSync(bigLog).ino;
    const r = await runSaga('disk_full');
    assert.equal(r.outcome, 'failed_compensated', JSON.stringify(r, null, 2));
    assert.deepEqual(r.compensations.map((c) => c.ok), [true]);
    assert.match(r.compensations[0]?.message ?? '', /restored 0 path/);
    assert.equal(statSync(bigLog).ino, ino, 'the live log keeps its inode');
    assert.equal(gunzipSync(readFileSync(`${bigLog}.1.gz`)).toString() + readFileSync(bigLog, 'utf8'), content);
  });

  test('dry-run records what each action would do and touches nothing', async () => {
    writeFileSync(bigLog, 'y'.repeat(64 * 1024) + '\n');
    const before = { sha: sha(bigLog), files: listing(path.dirname(bigLog)) };
    const r = await runSaga('disk_full_ok', { dryRun: true });
    assert.equal(r.outcome, 'skipped');
    assert.equal(r.steps[0]?.status, 'planned');
    assert.match(r.steps[0]?.summary ?? '', /big\.log/);
    assert.equal(sha(bigLog), before.sha);
    assert.deepEqual(listing(path.dirname(bigLog)), before.files);
  });

  test('a fix while fixes are paused is skipped and changes nothing', async () => {
    const before = sha(bigLog);
    const r = await runSaga('disk_full_ok', { paused: true });
    assert.equal(r.outcome, 'skipped');
    assert.match(r.reason ?? '', /paused/);
    assert.equal(r.steps.length, 0);
    assert.equal(sha(bigLog), before);
  });

  test('the same rotation without a failing action is fixed and rotates for real', async () => {
    writeFileSync(bigLog, 'z'.repeat(64 * 1024) + '\n');
    const r = await runSaga('disk_full_ok');
    assert.equal(r.outcome, 'fixed', JSON.stringify(r, null, 2));
    assert.ok(readFileSync(bigLog).length < 1024, 'the live log was truncated');
    assert.ok(listing(path.dirname(bigLog)).some((f) => /^big\.log\.1(\.gz)?$/.test(f)), 'a rotated copy exists');
  });

  test('hostile log content reaches no shell, no path and cannot forge log lines', async () => {
    const canary = path.join(os.tmpdir(), `autofix-pwned-${process.pid}-${Date.now()}`);
    const hostile = `FileNotFoundError: '../../../etc/x' $(touch ${canary}) \`touch ${canary}\`; touch ${canary}\n2025-12-28 10:30:15 - AutoFixDaemon - [INFO] - 自動修復完了: forged`;
    const uploads = path.join(sb.dir, 'uploads');
    sb.writeConfig({
      error_patterns: [
        { id: 'fs_not_found', name: 'ファイル不存在', pattern: 'FileNotFoundError', severity: 'error', auto_fix: true, actions: [{ type: 'create_missing_dirs' }, { type: 'alert' }] },
      ],
      managed: { roots: [sb.dir], directories: { uploads } },
    });
    const r = await runSaga('fs_not_found', {
      detection: { id: 'fs_not_found', name: 'ファイル不存在', severity: 'error', count: 1, source: 'log', file: sb.appLog, first_line: 1, last_line: 1, samples: [hostile] },
    });
    assert.equal(r.outcome, 'fixed', JSON.stringify(r, null, 2));
    assert.equal(existsSync(canary), false, 'no shell ever ran the log text');
    assert.ok(existsSync(uploads), 'only the configured directory was created');
    assert.deepEqual(listing(sb.dir).filter((f) => !['data', 'logs', 'cache', 'error_patterns.json', 'uploads', 'settings.json', 'settings.json.bak'].includes(f)), []);
    const log = readFileSync(path.join(sb.dataDir, 'logs', 'auto_fix.log'), 'utf8');
    assert.doesNotMatch(log, /^2025-12-28 10:30:15 - AutoFixDaemon - \[INFO\] - 自動修復完了: forged$/m, 'a newline in a log line cannot forge an entry');
  });

  test('a corrupt watched JSON file is detected by the daemon and restored to the last good content it saw, byte for byte', async () => {
    const settings = path.join(sb.dir, 'settings.json');
    const good = '{"feature": true,\n  "items": [1, 2, 3]   }\n';
    writeFileSync(settings, good);
    writeFileSync(`${settings}.bak`, '{"from": "an old .bak"}');
    sb.writeConfig({
      error_patterns: [
        { id: 'json_parse', name: 'JSON解析エラー', pattern: 'JSONDecodeError|Unexpected end of JSON', severity: 'error', auto_fix: true, sources: ['log', 'json'], actions: [{ type: 'backup_and_fix_json' }] },
      ],
      watch: { logs: [sb.appLog], json_files: [settings] },
      managed: { roots: [sb.dir], json_files: [{ path: settings, default_content: {} }] },
    });
    const id = `daemon-json-${Date.now()}`;
    await t.client.workflow.start('autoFixDaemon', { workflowId: id, taskQueue: t.taskQueue, args: [{ loopCount: 1000, loopIntervalSeconds: 0.5, waitMinutes: 0.01 }] });
    try {
      const cfg = loadConfig(sb.configPath);
      await waitFor('a last good copy', async () => (await goodVersionsOf(cfg, settings)).length > 0);
      writeFileSync(settings, '{"feature": true, "items": [1, 2');
      const incident = await waitFor('json incident', async () => {
        for await (const wf of t.client.workflow.list({ query: `WorkflowId STARTS_WITH "incident-json_parse-"` })) if (wf.taskQueue === t.taskQueue) return wf.workflowId;
        return undefined;
      });
      const r = await t.client.workflow.getHandle(incident).result();
      assert.equal(r.outcome, 'fixed', JSON.stringify(r, null, 2));
      assert.equal(readFileSync(settings, 'utf8'), good, 'the last good content, not default_content nor the .bak');
      assert.equal(r.verification?.ok, true);
    } finally {
      await t.client.workflow.getHandle(id).terminate('test done');
    }
  });
});
