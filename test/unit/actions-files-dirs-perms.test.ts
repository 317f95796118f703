import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createMissingDirs } from '../../src/actions/create-missing-dirs';
import { fixPermissions } from '../../src/actions/fix-permissions';
import { backupTargets, restoreBackup } from '../../src/backup';
import { failureOf, makeConfig, makeCtx, makeFixture, snapshotTree, writeFile } from './actions-files-fixture';

// As root the tests give real other owners; otherwise the only owner we may set is our own.
const isRoot = process.getuid?.() === 0;
const user = isRoot ? { name: 'nobody', uid: 65534 } : { name: String(process.getuid?.()), uid: process.getuid?.() };
const group = isRoot ? { name: 'daemon', gid: 1 } : { name: String(process.getgid?.()), gid: process.getgid?.() };
const www = isRoot ? { name: 'www-data', id: 33 } : { name: String(process.getuid?.()), id: process.getuid?.() };
const modeOf = (p: string) => fs.statSync(p).mode & 0o7777;

describe('create_missing_dirs', () => {
  const fx = makeFixture();
  after(() => fx.cleanup());

  it('creates missing dirs (and parents) with exactly dir_mode, despite the umask', async () => {
    const dirs = { data: path.join(fx.root, 'app', 'data'), logs: path.join(fx.root, 'app', 'logs'), uploads: path.join(fx.root, 'up') };
    fs.mkdirSync(dirs.uploads);
    const ctx = makeCtx(makeConfig(fx, { directories: dirs, dir_mode: '0775' }));
    const plan = await createMissingDirs.plan(ctx, { type: 'create_missing_dirs' });
    assert.equal(fs.existsSync(path.join(fx.root, 'app')), false, 'plan creates nothing');
    assert.deepEqual(plan.targets.map((t) => t.path), [path.join(fx.root, 'app'), dirs.data, dirs.logs]);
    const old = process.umask(0o077);
    try {
      const r = await createMissingDirs.run(ctx, { type: 'create_missing_dirs' });
      assert.deepEqual(r.changed, [path.join(fx.root, 'app'), dirs.data, dirs.logs]);
    } finally {
      process.umask(old);
    }
    for (const d of [path.join(fx.root, 'app'), dirs.data, dirs.logs]) assert.equal(modeOf(d), 0o775, d);
  });

  it('applies owner/group and the subset `names`; restore removes what it created', async () => {
    const dirs = { cache: path.join(fx.root, 'srv', 'cache'), other: path.join(fx.root, 'srv', 'other') };
    const ctx = makeCtx(makeConfig(fx, { directories: dirs, owner: user.name, group: group.name }));
    const plan = await createMissingDirs.plan(ctx, { type: 'create_missing_dirs', names: ['cache'] });
    const ref = await backupTargets(plan.targets, { backupRoot: path.join(fx.dataDir, 'backups'), incidentId: 'cmd', runId: 'run-1', label: '01-create_missing_dirs', roots: [fx.root] });
    await createMissingDirs.run(ctx, { type: 'create_missing_dirs', names: ['cache'] });
    const st = fs.statSync(dirs.cache);
    assert.equal(st.uid, user.uid);
    assert.equal(st.gid, group.gid);
    assert.equal(modeOf(dirs.cache), 0o750);
    assert.equal(fs.existsSync(dirs.other), false);
    await restoreBackup(ref);
    assert.equal(fs.existsSync(path.join(fx.root, 'srv')), false);
  });

  it('refuses unknown names, a file in the way, and a directory outside the roots', async () => {
    const file = writeFile(path.join(fx.root, 'notadir'), 'x');
    const ctx = makeCtx(makeConfig(fx, { directories: { f: file, out: path.join(fx.outside, 'made') } }));
    await assert.rejects(createMissingDirs.run(ctx, { type: 'create_missing_dirs', names: ['nope'] }), failureOf('ConfigError', /"nope" is not in managed\.directories/));
    await assert.rejects(createMissingDirs.run(ctx, { type: 'create_missing_dirs', names: ['f'] }), failureOf('RefusedError', /not a directory/));
    await assert.rejects(createMissingDirs.run(ctx, { type: 'create_missing_dirs', names: ['out'] }), failureOf('UnsafePathError'));
    assert.equal(fs.readFileSync(file, 'utf8'), 'x');
    assert.equal(fs.existsSync(path.join(fx.outside, 'made')), false);
  });
});

describe('fix_permissions', () => {
  const fx = makeFixture();
  after(() => fx.cleanup());

  it('sets the configured mode; recursive trees never make data files executable; restore undoes it', async () => {
    const secret = writeFile(path.join(fx.root, 'config', 'secret.env'), 'K=V');
    fs.chmodSync(secret, 0o666);
    const tree = path.join(fx.root, 'uploads');
    const data = writeFile(path.join(tree, 'a', 'photo.jpg'), 'jpg');
    const script = writeFile(path.join(tree, 'run.sh'), '#!/bin/sh');
    fs.chmodSync(data, 0o666);
    fs.chmodSync(script, 0o777);
    fs.chmodSync(path.join(tree, 'a'), 0o777);
    const outside = writeFile(path.join(fx.outside, 'o.txt'), 'o');
    fs.chmodSync(outside, 0o666);
    fs.symlinkSync(outside, path.join(tree, 'link'));
    const before = snapshotTree(fx.root);
    const ctx = makeCtx(
      makeConfig(fx, {
        permissions: [
          { path: secret, mode: '0600' },
          { path: tree, mode: '0750', recursive: true },
        ],
      }),
    );
    const plan = await fixPermissions.plan(ctx, { type: 'fix_permissions' });
    assert.deepEqual(snapshotTree(fx.root), before);
    assert.ok(plan.targets.every((t) => t.metadataOnly));
    const ref = await backupTargets(plan.targets, { backupRoot: path.join(fx.dataDir, 'backups'), incidentId: 'fp', runId: 'run-1', label: '01-fix_permissions', roots: [fx.root] });
    const r = await fixPermissions.run(ctx, { type: 'fix_permissions' });
    assert.equal(modeOf(secret), 0o600);
    assert.equal(modeOf(tree), 0o750);
    assert.equal(modeOf(path.join(tree, 'a')), 0o750);
    assert.equal(modeOf(data), 0o640);
    assert.equal(modeOf(script), 0o750);
    assert.equal(modeOf(outside), 0o666, 'symlink target untouched');
    assert.ok(!r.changed.includes(path.join(tree, 'link')));
    // Second run: nothing left to change.
    assert.deepEqual((await fixPermissions.run(ctx, { type: 'fix_permissions' })).changed, []);
    await restoreBackup(ref);
    for (const [rel, line] of Object.entries(before)) assert.equal(snapshotTree(fx.root)[rel]?.split(' ')[1], line.split(' ')[1], rel);
  });

  it('chowns as configured', async () => {
    const f = writeFile(path.join(fx.root, 'owned.txt'), 'x');
    const ctx = makeCtx(makeConfig(fx, { permissions: [{ path: f, mode: '0640', owner: www.name, group: isRoot ? 'www-data' : group.name }] }));
    await fixPermissions.run(ctx, { type: 'fix_permissions' });
    assert.equal(fs.statSync(f).uid, www.id);
    assert.equal(fs.statSync(f).gid, isRoot ? 33 : group.gid);
    assert.equal(modeOf(f), 0o640);
  });

  it('refuses a path that escapes the roots through a symlink', async () => {
    const outside = writeFile(path.join(fx.outside, 'victim'), 'v');
    fs.chmodSync(outside, 0o644);
    fs.symlinkSync(outside, path.join(fx.root, 'victim-link'));
    const ctx = makeCtx(makeConfig(fx, { permissions: [{ path: path.join(fx.root, 'victim-link'), mode: '0777' }] }));
    await assert.rejects(fixPermissions.run(ctx, { type: 'fix_permissions' }), failureOf('UnsafePathError'));
    assert.equal(modeOf(outside), 0o644);
  });
});
