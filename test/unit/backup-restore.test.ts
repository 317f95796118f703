import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { backupTargets, restoreBackup } from '../../src/backup';
import type { Manifest } from '../../src/backup';
import { failureOf, makeFixture, sha256, snapshotTree, writeFile } from './actions-files-fixture';

describe('backupTargets / restoreBackup', () => {
  const fx = makeFixture();
  after(() => fx.cleanup());
  const backupRoot = path.join(fx.dataDir, 'backups');

  it('restores a changed file byte for byte with its mode and mtime', async () => {
    const f = writeFile(path.join(fx.root, 'app.log'), Buffer.from([0, 1, 2, 255, 10, 13]));
    fs.chmodSync(f, 0o640);
    const before = sha256(f);
    const mtime = fs.statSync(f).mtimeMs;
    const ref = await backupTargets([{ path: f }], { backupRoot, incidentId: 'inc-1', runId: 'run-1', label: '01-log_rotate', roots: [fx.root] });
    assert.equal(ref.entries, 1);
    assert.equal(ref.dir, path.join(backupRoot, 'inc-1', 'run-1', '01-log_rotate'));
    const manifest = JSON.parse(fs.readFileSync(ref.manifestPath, 'utf8')) as Manifest;
    assert.equal(manifest.entries[0]?.sha256, before);
    assert.equal(manifest.entries[0]?.kind, 'file');
    fs.writeFileSync(f, 'overwritten');
    fs.chmodSync(f, 0o666);
    const r = await restoreBackup(ref);
    assert.deepEqual(r.restored, [f]);
    assert.equal(sha256(f), before);
    assert.equal(fs.statSync(f).mode & 0o777, 0o640);
    assert.equal(Math.round(fs.statSync(f).mtimeMs), Math.round(mtime));
  });

  it('brings back a deleted directory tree (files, subdirs, symlinks, modes)', async () => {
    const tree = path.join(fx.root, 'cache');
    writeFile(path.join(tree, 'a.txt'), 'alpha');
    writeFile(path.join(tree, 'sub', 'deeper', 'b.bin'), Buffer.alloc(200_000, 7));
    fs.symlinkSync('a.txt', path.join(tree, 'link'));
    fs.chmodSync(path.join(tree, 'sub'), 0o700);
    const before = snapshotTree(tree);
    const ref = await backupTargets([{ path: tree }], { backupRoot, incidentId: 'inc-2', runId: 'run-1', label: '01-cache_clear', roots: [fx.root] });
    fs.rmSync(tree, { recursive: true });
    await restoreBackup(ref);
    assert.deepEqual(snapshotTree(tree), before);
    // Idempotent: a second restore changes nothing.
    await restoreBackup(ref);
    assert.deepEqual(snapshotTree(tree), before);
  });

  it('removes paths that were absent (files; directories only when empty)', async () => {
    const newFile = path.join(fx.root, 'app.log.1.gz');
    const newDir = path.join(fx.root, 'uploads');
    const busyDir = path.join(fx.root, 'busy');
    const ref = await backupTargets([{ path: newFile }, { path: newDir }, { path: busyDir }], { backupRoot, incidentId: 'inc-3', runId: 'run-1', label: '01-x', roots: [fx.root] });
    writeFile(newFile, 'gz');
    fs.mkdirSync(newDir);
    writeFile(path.join(busyDir, 'user-data'), 'keep me');
    const r = await restoreBackup(ref);
    assert.equal(fs.existsSync(newFile), false);
    assert.equal(fs.existsSync(newDir), false);
    assert.equal(fs.readFileSync(path.join(busyDir, 'user-data'), 'utf8'), 'keep me');
    assert.match(r.notes.join('\n'), /busy: did not exist before but is not empty now/);
  });

  it('is idempotent: the same label reuses the first complete backup', async () => {
    const f = writeFile(path.join(fx.root, 'state.json'), '{"v":1}');
    const opts = { backupRoot, incidentId: 'inc-4', runId: 'run-1', label: '02-backup_and_fix_json', roots: [fx.root] };
    const a = await backupTargets([{ path: f }], opts);
    fs.writeFileSync(f, '{"v":2}');
    const b = await backupTargets([{ path: f }], opts);
    assert.deepEqual(b, a);
    assert.deepEqual(fs.readdirSync(path.join(backupRoot, 'inc-4', 'run-1')), ['02-backup_and_fix_json']);
    await restoreBackup(b);
    assert.equal(fs.readFileSync(f, 'utf8'), '{"v":1}');
  });

  it('two runs of the same incident never share a backup: each compensation restores its own run', async () => {
    const f = writeFile(path.join(fx.root, 'runs.json'), '{"v":"first"}');
    const opts = { backupRoot, incidentId: 'inc-same', label: '00-backup_and_fix_json', roots: [fx.root] };
    const first = await backupTargets([{ path: f }], { ...opts, runId: 'run-a' });
    fs.writeFileSync(f, '{"v":"newer"}');
    const second = await backupTargets([{ path: f }], { ...opts, runId: 'run-b' });
    assert.notEqual(second.dir, first.dir);
    fs.writeFileSync(f, '{"v":"broken by the second run"}');
    await restoreBackup(second);
    assert.equal(fs.readFileSync(f, 'utf8'), '{"v":"newer"}', 'the second run puts back what it saw, not the first run\'s older bytes');
    assert.deepEqual(fs.readdirSync(path.join(backupRoot, 'inc-same')).sort(), ['run-a', 'run-b']);
  });

  it('restores only metadata for metadataOnly targets', async () => {
    const f = writeFile(path.join(fx.root, 'perm.txt'), 'content');
    fs.chmodSync(f, 0o600);
    const ref = await backupTargets([{ path: f, metadataOnly: true }], { backupRoot, incidentId: 'inc-5', runId: 'run-1', label: '01-fix_permissions', roots: [fx.root] });
    assert.deepEqual(fs.readdirSync(path.join(ref.dir, 'data')), []);
    fs.chmodSync(f, 0o644);
    fs.writeFileSync(f, 'new content');
    await restoreBackup(ref);
    assert.equal(fs.statSync(f).mode & 0o777, 0o600);
    assert.equal(fs.readFileSync(f, 'utf8'), 'new content');
  });

  it('refuses targets outside roots and targets overlapping the backup folder', async () => {
    const secret = writeFile(path.join(fx.outside, 'secret'), 's');
    await assert.rejects(backupTargets([{ path: secret }], { backupRoot, incidentId: 'inc-6', runId: 'run-1', label: 'x', roots: [fx.root] }), failureOf('UnsafePathError'));
    await assert.rejects(backupTargets([{ path: fx.dataDir }], { backupRoot, incidentId: 'inc-6', runId: 'run-1', label: 'y', roots: [fx.root] }), /overlaps the backup folder/);
    assert.equal(fs.existsSync(path.join(backupRoot, 'inc-6', 'x')), false);
  });

  it('sanitizes incident ids and labels into one deterministic folder', async () => {
    const f = writeFile(path.join(fx.root, 'z.txt'), 'z');
    const ref = await backupTargets([{ path: f }], { backupRoot, incidentId: '../../etc', runId: '../x', label: 'a/b', roots: [fx.root] });
    assert.equal(path.dirname(path.dirname(path.dirname(ref.dir))), backupRoot);
    assert.equal(fs.existsSync(path.join(ref.dir, 'manifest.json')), true);
  });
});
