/**
 * A disk filled to 100 % by a log, end to end through the daemon and a saga on the dev server: a
 * small tmpfs (mounted here, as root) holds the app's logs; the disk check raises disk_full; the
 * saga's log_rotate frees the space and the incident ends `fixed` with the file system below the
 * threshold — its backup does not defeat it (the copy goes to the store on another file system,
 * and the rotated generation, which the full disk had no room for, is written from that copy once
 * the truncate freed the space). Not a byte of the log is lost. With the store on the full file
 * system too, the backup keeps a manifest (and says why), nothing is lost, and the incident says
 * what would fix it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { SagaResult } from '../../src/workflows/definitions';
import { makeSandbox, type Sandbox } from '../helpers/sandbox';
import { startTestWorker, waitFor, type TestTemporal } from '../helpers/temporal';
import { requireTool } from '../helpers/tools';
import { logRotate } from '../../src/actions/log-rotate';
import { backupTargets } from '../../src/backup';
import { makeConfig, makeCtx } from '../unit/actions-files-fixture';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Appends numbered lines to `file` until the file system says ENOSPC; returns what was written. */
function fillWithLog(file: string): Buffer {
  const fd = fs.openSync(file, 'a');
  const written: Buffer[] = [];
  let n = 0;
  try {
    for (;;) {
      const chunk = Buffer.from(Array.from({ length: 500 }, () => `${++n} 2026-01-01 12:00:00 ERROR worker: OSError: [Errno 28] No space left on device\n`).join(''));
      let off = 0;
      try {
        while (off < chunk.length) off += fs.writeSync(fd, chunk, off);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
        written.push(chunk.subarray(0, off));
        return Buffer.concat(written);
      }
      written.push(chunk);
    }
  } finally {
    fs.closeSync(fd);
  }
}

function usagePercent(p: string): number {
  const s = fs.statfsSync(p);
  const used = (s.blocks - s.bfree) * s.bsize;
  return (used / (used + s.bavail * s.bsize)) * 100;
}

describe('disk full: a tmpfs filled to 100 % by a log', () => {
  let sb: Sandbox;
  let t: TestTemporal;
  let mnt: string;

  before(async () => {
    sb = makeSandbox();
    mnt = path.join(sb.dir, 'mnt');
    fs.mkdirSync(mnt);
    execFileSync(requireTool('mount'), ['-t', 'tmpfs', '-o', 'size=8m,mode=0755', 'tmpfs', mnt]);
    t = await startTestWorker({ configPath: sb.configPath });
  });
  after(async () => {
    await t.close();
    execFileSync(requireTool('umount'), [mnt]);
    sb.cleanup();
  });

  /** The daemon's config: the disk check on the tmpfs, disk_full rotating its logs. */
  const configure = (backupsDir?: string) =>
    sb.writeConfig({
      error_patterns: [
        { id: 'disk_full', name: 'ディスク容量不足', pattern: 'never-matches-a-log-line', severity: 'critical', auto_fix: true, actions: [{ type: 'log_rotate', description: '大きなログをローテーション' }] },
      ],
      ...(backupsDir ? { backups: { dir: backupsDir } } : {}),
      watch: { logs: [] },
      health_checks: { postgres: { enabled: false }, redis: { enabled: false }, memory: { enabled: false }, disk: { interval_seconds: 1, paths: [mnt], threshold_percent: 90 } },
      managed: { roots: [sb.dir], log_rotate: { files: [path.join(mnt, 'logs', '*.log')], max_bytes: 1024 * 1024, keep: 3 } },
      auto_fix_config: { max_retries: 2, retry_delay: 1, cooldown_period: 1, verify_timeout_seconds: 5, notification_channels: ['log', 'alerts'] },
    });

  /** Runs the daemon until the first disk_full incident closes; returns its result. */
  async function incident(prefix: string): Promise<SagaResult> {
    const id = `daemon-${prefix}-${Date.now()}`;
    await t.client.workflow.start('autoFixDaemon', { workflowId: id, taskQueue: t.taskQueue, args: [{ loopCount: 1000, loopIntervalSeconds: 0.5, waitMinutes: 0.01 }] });
    try {
      const wf = await waitFor(
        'a disk_full incident',
        async () => {
          for await (const w of t.client.workflow.list({ query: `WorkflowId STARTS_WITH "incident-disk_full-" AND StartTime > "${new Date(Date.now() - 60_000).toISOString()}"` })) if (w.taskQueue === t.taskQueue && !seen.has(w.workflowId)) return w.workflowId;
          return undefined;
        },
        60_000,
      );
      seen.add(wf);
      return (await t.client.workflow.getHandle(wf).result()) as SagaResult;
    } finally {
      await t.client.workflow.getHandle(id).terminate('test done');
    }
  }
  const seen = new Set<string>();

  test('backups on another file system: the incident ends fixed below the threshold, every byte of the log kept', async () => {
    const logs = path.join(mnt, 'logs');
    fs.mkdirSync(logs);
    const log = path.join(logs, 'app.log');
    const content = fillWithLog(log);
    assert.ok(usagePercent(mnt) > 99.9, `filled: ${usagePercent(mnt)}%`);
    configure();
    const r = await incident('full');
    assert.equal(r.outcome, 'fixed', JSON.stringify(r, null, 2));
    assert.ok(usagePercent(mnt) < 90, `below the threshold: ${usagePercent(mnt)}%`);
    assert.match(r.verification?.message ?? '', /disk_space healthy/);
    const kept = Buffer.concat([gunzipSync(fs.readFileSync(`${log}.1.gz`)), fs.readFileSync(log)]);
    assert.equal(sha(kept), sha(content), 'the rotated generation + the live log hold every byte written');
    assert.equal(fs.readdirSync(logs).filter((f) => f.includes('.autofix-')).length, 0, 'no temp file left on the disk');
    fs.rmSync(logs, { recursive: true });
  });

  test('backups on the full file system too: a manifest (the reason in the incident), nothing lost, nothing undone', async () => {
    const logs = path.join(mnt, 'logs');
    fs.mkdirSync(logs);
    const log = path.join(logs, 'app.log');
    const store = path.join(mnt, 'backups');
    fs.mkdirSync(store, { mode: 0o700 });
    const content = fillWithLog(log);
    configure(store);
    const r = await incident('samefs');
    assert.equal(r.outcome, 'failed_compensated', JSON.stringify(r, null, 2));
    assert.match(r.steps[0]?.summary ?? '', /no space to write app\.log\.1\.gz and the backup holds no copy .*set backups\.dir on another file system/);
    assert.match(r.compensations[0]?.message ?? '', /restored 0 path/);
    const history = await t.client.workflow.getHandle(r.incidentId).fetchHistory();
    const results = (history.events ?? []).flatMap((e) => e.activityTaskCompletedEventAttributes?.result?.payloads ?? []).map((p) => Buffer.from(p.data ?? []).toString());
    const backup = results.find((x) => x.includes('"keepsDeletions":true'));
    assert.ok(backup, 'the backupForAction result is in the incident');
    assert.match(backup, /"mode":"manifest".*on the file system being freed.*the store is full too/);
    assert.match(backup, /"inline":\[\{"path":"[^"]*app\.log","size":\d+,"sha256":"[0-9a-f]{64}"\}\]/);
    assert.equal(sha(fs.readFileSync(log)), sha(content), 'the log is as it was');
  });

  test('create mode on the full disk: the moved log is released only once its content is safe in the backup, then compressed from it', async () => {
    for (const f of fs.readdirSync(mnt)) fs.rmSync(path.join(mnt, f), { recursive: true, force: true });
    const logs = path.join(mnt, 'logs');
    fs.mkdirSync(logs);
    const log = path.join(logs, 'app.log');
    const content = fillWithLog(log);
    const cfg = makeConfig(
      { tmp: sb.dir, root: sb.dir, outside: '', dataDir: path.join(sb.dir, 'data'), cleanup: () => undefined },
      { log_rotate: { files: [log], max_bytes: 1024, keep: 3, copy_truncate: false, postrotate: ['/bin/true'], reopen_wait_seconds: 1 } },
    );
    const ctx = makeCtx(cfg, 'inc-create-full');
    const plan = await logRotate.plan(ctx, { type: 'log_rotate' });
    const store = path.join(sb.dir, 'data', 'backups');
    const ref = await backupTargets(plan.targets, { backupRoot: store, incidentId: 'inc-create-full', runId: 'run-1', label: '00-log_rotate', roots: [sb.dir], freesSpace: { thresholdPercent: 90 } });
    assert.equal(ref.mode, 'content', 'the store is on another file system');
    ctx.backup = { store, run: path.dirname(ref.dir), step: ref.dir };
    const r = await logRotate.run(ctx, { type: 'log_rotate' });
    assert.match(String(r.details?.notes), /no space for app\.log\.1\.gz; written from the backup's copy/);
    assert.deepEqual(fs.readdirSync(logs).sort(), ['app.log', 'app.log.1.gz']);
    assert.equal(sha(gunzipSync(fs.readFileSync(`${log}.1.gz`))), sha(content));
    assert.ok(usagePercent(mnt) < 50, `freed: ${usagePercent(mnt)}%`);
    assert.deepEqual(fs.readdirSync(ref.dir).filter((f) => f.startsWith('spill-')), [], 'the journal is gone once the generation is written');
  });
});
