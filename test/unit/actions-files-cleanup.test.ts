import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tempFileCleanup } from '../../src/actions/temp-file-cleanup';
import { oldFileCleanup } from '../../src/actions/old-file-cleanup';
import { backupTargets, restoreBackup } from '../../src/backup';
import { failureOf, makeConfig, makeCtx, makeFixture, sha256, snapshotTree, writeFile } from './actions-files-fixture';

const HOUR = 3600_000;
const DAY = 24 * HOUR;

describe('temp_file_cleanup', () => {
  const fx = makeFixture();
  after(() => fx.cleanup());
  const tmpDir = path.join(fx.root, 'tmp');

  it('deletes files older than the limit, keeps newer ones and directories, never follows symlinks', async () => {
    const stale = writeFile(path.join(tmpDir, 'stale.tmp'), 'old', 30 * HOUR);
    const staleDeep = writeFile(path.join(tmpDir, 'nested', 'stale2.tmp'), 'old', 30 * HOUR);
    const fresh = writeFile(path.join(tmpDir, 'fresh.tmp'), 'new', 1 * HOUR);
    const target = writeFile(path.join(fx.outside, 'precious.txt'), 'precious', 30 * HOUR);
    const link = path.join(tmpDir, 'old-link');
    fs.symlinkSync(target, link);
    const t = new Date(Date.now() - 30 * HOUR);
    fs.lutimesSync(link, t, t);
    const ctx = makeCtx(makeConfig(fx, { temp_dirs: [tmpDir] }));
    const r = await tempFileCleanup.run(ctx, { type: 'temp_file_cleanup' });
    assert.deepEqual([...r.changed].sort(), [link, staleDeep, stale].sort());
    assert.equal(fs.existsSync(stale), false);
    assert.equal(fs.existsSync(staleDeep), false);
    assert.equal(fs.existsSync(path.join(tmpDir, 'nested')), true);
    assert.equal(fs.readFileSync(fresh, 'utf8'), 'new');
    assert.equal(fs.readFileSync(target, 'utf8'), 'precious');
  });

  it('honours spec max_age_hours; dry-run touches nothing; backup+restore brings the files back', async () => {
    const a = writeFile(path.join(tmpDir, 'a.tmp'), 'aaa', 3 * HOUR);
    writeFile(path.join(tmpDir, 'b.tmp'), 'bbb', 0);
    const before = snapshotTree(tmpDir);
    const ctx = makeCtx(makeConfig(fx, { temp_dirs: [tmpDir] }));
    const plan = await tempFileCleanup.plan(ctx, { type: 'temp_file_cleanup', max_age_hours: 2 });
    assert.deepEqual(snapshotTree(tmpDir), before);
    assert.deepEqual(plan.targets.map((t) => t.path), [a]);
    const ref = await backupTargets(plan.targets, { backupRoot: path.join(fx.dataDir, 'backups'), incidentId: 'tc', runId: 'run-1', label: '01-temp_file_cleanup', roots: [fx.root] });
    const r = await tempFileCleanup.run(ctx, { type: 'temp_file_cleanup', max_age_hours: 2 });
    assert.deepEqual(r.changed, [a]);
    assert.equal(fs.existsSync(a), false);
    await restoreBackup(ref);
    assert.deepEqual(snapshotTree(tmpDir), before);
  });

  it('refuses a temp dir that escapes the roots through a symlink, touching nothing there', async () => {
    const victim = writeFile(path.join(fx.outside, 'tmpdir', 'victim.tmp'), 'v', 100 * HOUR);
    const before = sha256(victim);
    const link = path.join(fx.root, 'tmp-link');
    fs.symlinkSync(path.join(fx.outside, 'tmpdir'), link);
    const ctx = makeCtx(makeConfig(fx, { temp_dirs: [link] }));
    await assert.rejects(tempFileCleanup.run(ctx, { type: 'temp_file_cleanup' }), failureOf('UnsafePathError'));
    assert.equal(sha256(victim), before);
  });
});

describe('old_file_cleanup', () => {
  const fx = makeFixture();
  after(() => fx.cleanup());
  const dir = path.join(fx.root, 'exports');

  it('deletes files older than 30 days by default', async () => {
    const old = writeFile(path.join(dir, 'report-2023.csv'), 'old', 40 * DAY);
    const recent = writeFile(path.join(dir, 'report-now.csv'), 'new', 2 * DAY);
    const ctx = makeCtx(makeConfig(fx, { old_file_dirs: [dir] }));
    const plan = await oldFileCleanup.plan(ctx, { type: 'old_file_cleanup' });
    assert.deepEqual(plan.targets, [{ path: old }]);
    assert.equal(fs.existsSync(old), true);
    const r = await oldFileCleanup.run(ctx, { type: 'old_file_cleanup' });
    assert.deepEqual(r.changed, [old]);
    assert.equal(fs.existsSync(old), false);
    assert.equal(fs.readFileSync(recent, 'utf8'), 'new');
  });

  it('uses spec max_age_days and reports a missing directory instead of failing', async () => {
    const f = writeFile(path.join(dir, 'week-old.log'), 'w', 8 * DAY);
    const ctx = makeCtx(makeConfig(fx, { old_file_dirs: [dir, path.join(fx.root, 'nope')] }));
    const r = await oldFileCleanup.run(ctx, { type: 'old_file_cleanup', max_age_days: 7 });
    assert.deepEqual(r.changed, [f]);
    assert.deepEqual(r.details?.missing_dirs, [path.join(fx.root, 'nope')]);
  });

  it('refuses a directory outside the roots', async () => {
    const victim = writeFile(path.join(fx.outside, 'ancient.txt'), 'a', 400 * DAY);
    const ctx = makeCtx(makeConfig(fx, { old_file_dirs: [fx.outside] }));
    await assert.rejects(oldFileCleanup.plan(ctx, { type: 'old_file_cleanup' }), failureOf('UnsafePathError'));
    await assert.rejects(oldFileCleanup.run(ctx, { type: 'old_file_cleanup' }), failureOf('UnsafePathError'));
    assert.equal(fs.readFileSync(victim, 'utf8'), 'a');
  });
});
