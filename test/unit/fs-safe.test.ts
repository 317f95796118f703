import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { DirCursor, ensureTrustedStore, identityOf, openBelow, openFileAt, withRoots } from '../../src/fs-safe';
import { backupTargets, restoreBackup } from '../../src/backup';
import { fixPermissions } from '../../src/actions/fix-permissions';
import { logRotate } from '../../src/actions/log-rotate';
import { oldFileCleanup } from '../../src/actions/old-file-cleanup';
import { cacheClear } from '../../src/actions/cache-clear';
import { failureOf, makeConfig, makeCtx, makeFixture, sha256, writeFile } from './actions-files-fixture';

const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;

/** Giving files to another user needs root (the CI runs as root; see DEVELOPERS.md). */
function requireRoot(): void {
  assert.ok(isRoot, 'this test gives files to another user: run it as root');
}
const modeOf = (p: string) => fs.statSync(p).mode & 0o7777;

describe('fs-safe: trusted roots', () => {
  const fx = makeFixture();
  after(() => fx.cleanup());

  it('refuses a root whose parent another user can write, naming the directory and why', async () => {
    const shared = path.join(fx.tmp, 'shared');
    fs.mkdirSync(path.join(shared, 'app'), { recursive: true });
    fs.chmodSync(shared, 0o777);
    await assert.rejects(
      withRoots([path.join(shared, 'app')], async () => undefined),
      failureOf('UnsafePathError', new RegExp(`managed\\.roots entry .*the directory "${shared}" on the way to it is writable by group \\d+ or others \\(mode 0777\\)`)),
    );
    // The sticky bit on a root-owned directory (like /tmp) makes it fine when we own it too.
    if (isRoot) {
      fs.chmodSync(shared, 0o1777);
      await withRoots([path.join(shared, 'app')], async (r) => assert.equal(r.list[0]?.real, path.join(shared, 'app')));
    }
  });

  it('refuses a root below a directory owned by another user (as root)', async () => {
    requireRoot();
    const home = path.join(fx.tmp, 'home-nobody');
    fs.mkdirSync(path.join(home, 'app'), { recursive: true });
    fs.chownSync(home, NOBODY, NOBODY);
    await assert.rejects(withRoots([path.join(home, 'app')], async () => undefined), failureOf('UnsafePathError', /is owned by uid 65534 \(nobody\)/));
    // The root itself may belong to the app user: only its ancestors must be trusted.
    const own = path.join(fx.tmp, 'app-owned');
    fs.mkdirSync(own);
    fs.chownSync(own, NOBODY, NOBODY);
    await withRoots([own], async (r) => assert.ok(r.list[0]?.dir));
  });

  it('does not follow a symlink another user planted in a shared sticky directory (as root)', async () => {
    requireRoot();
    const sticky = path.join(fx.tmp, 'sticky');
    fs.mkdirSync(sticky, { mode: 0o1777 });
    fs.chmodSync(sticky, 0o1777);
    fs.symlinkSync(fx.outside, path.join(sticky, 'app'));
    fs.lchownSync(path.join(sticky, 'app'), NOBODY, NOBODY);
    await assert.rejects(withRoots([path.join(sticky, 'app')], async () => undefined), failureOf('UnsafePathError', /symlink owned by uid 65534/));
  });

  it('refuses a backup store others can write, and creates a missing one 0700', async () => {
    const loose = path.join(fx.tmp, 'loose-data');
    fs.mkdirSync(loose);
    fs.chmodSync(loose, 0o777);
    const f = writeFile(path.join(fx.root, 'x.txt'), 'x');
    await assert.rejects(
      backupTargets([{ path: f }], { backupRoot: path.join(loose, 'backups'), incidentId: 'i', runId: 'run-1', label: 'l', roots: [fx.root] }),
      failureOf('UnsafePathError', /backup store .* writable by group \d+ or others/),
    );
    await ensureTrustedStore(path.join(fx.dataDir, 'backups'));
    assert.equal(modeOf(path.join(fx.dataDir, 'backups')), 0o700);
  });
});

describe('fs-safe: what is used is what was checked', () => {
  const fx = makeFixture();
  after(() => fx.cleanup());

  it('a pinned directory is the inode, wherever it is renamed to', async () => {
    const dir = path.join(fx.root, 'pinned');
    writeFile(path.join(dir, 'a.txt'), 'a');
    await withRoots([fx.root], async (r) => {
      const { dir: d } = await openBelow(r.list[0]!.dir!, ['pinned']);
      try {
        fs.renameSync(dir, path.join(fx.root, 'moved'));
        fs.symlinkSync(fx.outside, dir); // the old name now points outside
        writeFile(path.join(fx.outside, 'a.txt'), 'outside');
        assert.equal(await d.unlink('a.txt'), 'removed');
      } finally {
        await d.close();
      }
    });
    assert.equal(fs.existsSync(path.join(fx.root, 'moved', 'a.txt')), false);
    assert.equal(fs.readFileSync(path.join(fx.outside, 'a.txt'), 'utf8'), 'outside');
  });

  it('opening refuses a symlink, a swapped inode and (when asked) a hard-linked file', async () => {
    const d = path.join(fx.root, 'files');
    const f = writeFile(path.join(d, 'f.txt'), 'f');
    fs.symlinkSync(path.join(fx.outside), path.join(d, 'link'));
    fs.linkSync(f, path.join(d, 'f-again.txt'));
    await withRoots([fx.root], async (r) => {
      const { dir } = await openBelow(r.list[0]!.dir!, ['files']);
      try {
        await assert.rejects(openFileAt(dir, 'link'), failureOf('UnsafePathError', /is a symlink inside a managed root/));
        await assert.rejects(openFileAt(dir, 'f.txt', { expect: { dev: 1, ino: 1 } }), failureOf('UnsafePathError', /changed between check and use/));
        await assert.rejects(openFileAt(dir, 'f.txt', { singleLinkFor: 'truncate it' }), failureOf('RefusedError', /has 2 hard links; autofix will not truncate it/));
        const ok = await openFileAt(dir, 'f.txt');
        assert.deepEqual(identityOf(ok!.stat), identityOf(fs.statSync(f)));
        await ok!.fh.close();
        // A planned directory that is another inode now is refused.
        const cursor = new DirCursor(r.list[0]!.dir!, new Map([['files', { dev: 1, ino: 1 }]]));
        await assert.rejects(cursor.open(['files']), failureOf('UnsafePathError', /changed between check and use/));
        await cursor.close();
      } finally {
        await dir.close();
      }
    });
  });
});

describe('restores give metadata back only to the inode that was backed up', () => {
  const fx = makeFixture();
  after(() => fx.cleanup());

  it('a file slipped in under a metadata-only target keeps its own mode (no recorded setuid for it)', async () => {
    const f = writeFile(path.join(fx.root, 'bin', 'tool'), '#!/bin/sh\n');
    fs.chmodSync(f, 0o4755);
    const ref = await backupTargets([{ path: f, metadataOnly: true }], { backupRoot: path.join(fx.dataDir, 'backups'), incidentId: 'meta', runId: 'run-1', label: '01-fix_permissions', roots: [fx.root] });
    fs.rmSync(f);
    writeFile(f, 'someone else\n');
    fs.chmodSync(f, 0o755);
    const r = await restoreBackup(ref);
    assert.equal(modeOf(f), 0o755);
    assert.match(r.notes.join('\n'), /tool: .*changed between check and use.*mode and owner not restored/);
    assert.deepEqual(r.restored, []);
  });
});

describe('fs-safe: hard links into the roots (protected_hardlinks off) reach nothing outside', () => {
  const fx = makeFixture();
  after(() => fx.cleanup());

  function victim(name: string): string {
    const v = writeFile(path.join(fx.outside, name), 'secret '.repeat(100));
    fs.chmodSync(v, 0o600);
    return v;
  }

  it('log_rotate refuses to copy or truncate a hard-linked log', async () => {
    const v = victim('shadow');
    const log = path.join(fx.root, 'logs', 'app.log');
    fs.mkdirSync(path.dirname(log), { recursive: true });
    fs.linkSync(v, log);
    const before = sha256(v);
    const ctx = makeCtx(makeConfig(fx, { log_rotate: { files: [log], max_bytes: 10 } }));
    await assert.rejects(logRotate.run(ctx, { type: 'log_rotate' }), failureOf('RefusedError', /has 2 hard links/));
    assert.equal(sha256(v), before);
    assert.deepEqual(fs.readdirSync(path.dirname(log)), ['app.log']);
  });

  it('fix_permissions refuses to chmod a hard-linked file', async () => {
    const v = victim('key');
    const link = path.join(fx.root, 'conf', 'key');
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.linkSync(v, link);
    const ctx = makeCtx(makeConfig(fx, { permissions: [{ path: path.dirname(link), mode: '0755', recursive: true }] }));
    await assert.rejects(fixPermissions.run(ctx, { type: 'fix_permissions' }), failureOf('RefusedError', /has 2 hard links/));
    assert.equal(modeOf(v), 0o600);
  });

  it('a backup refuses a hard-linked file target and does not copy one inside a directory', async () => {
    const v = victim('token');
    const dir = path.join(fx.root, 'tree');
    writeFile(path.join(dir, 'own.txt'), 'own');
    fs.linkSync(v, path.join(dir, 'token'));
    const opts = { backupRoot: path.join(fx.dataDir, 'backups'), incidentId: 'hl', runId: 'run-1', roots: [fx.root] };
    await assert.rejects(backupTargets([{ path: path.join(dir, 'token') }], { ...opts, label: 'file' }), failureOf('RefusedError', /has 2 hard links; autofix will not back it up/));
    const ref = await backupTargets([{ path: dir }], { ...opts, label: 'dir' });
    const stored = fs.readdirSync(path.join(ref.dir, 'data', '0'));
    assert.deepEqual(stored, ['own.txt']);
    fs.unlinkSync(path.join(dir, 'token'));
    const r = await restoreBackup(ref);
    assert.match(r.notes.join('\n'), /token: not restored \(has 2 hard links/);
    assert.equal(fs.existsSync(path.join(dir, 'token')), false);
  });

  it('cleanups leave hard-linked files (a backup could not bring them back)', async () => {
    const v = victim('old-secret');
    const t = new Date(Date.now() - 90 * 86_400_000);
    fs.utimesSync(v, t, t);
    const old = path.join(fx.root, 'old');
    const own = writeFile(path.join(old, 'own.csv'), 'x', 90 * 86_400_000);
    fs.linkSync(v, path.join(old, 'linked'));
    const ctx = makeCtx(makeConfig(fx, { old_file_dirs: [old], cache_dirs: [old] }));
    const plan = await oldFileCleanup.plan(ctx, { type: 'old_file_cleanup' });
    assert.match(plan.steps.join('\n'), /skip .*linked: it has several hard links/);
    const r = await oldFileCleanup.run(ctx, { type: 'old_file_cleanup' });
    assert.deepEqual(r.changed, [own]);
    const c = await cacheClear.run(ctx, { type: 'cache_clear', redis: false });
    assert.deepEqual(c.changed, []);
    assert.ok((c.details?.kept as string[]).includes(path.join(old, 'linked')));
    assert.equal(fs.statSync(v).nlink, 2);
  });
});
