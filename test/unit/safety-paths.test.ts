import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { expandGlob, isInside, openBelow, removalOf, removeEntries, walkTree, withRoots, type Roots } from '../../src/fs-safe';
import { fileModeUnderTree, parseMode } from '../../src/safety/modes';
import { resolveGid, resolveUid } from '../../src/proc';
import { failureOf, makeFixture, sha256, writeFile } from './actions-files-fixture';

/** Opens the directory at `p` through the roots' fd chain (what every action does). */
async function openInside(roots: Roots, p: string) {
  const loc = await roots.locate(p);
  const below = await openBelow(loc.root.dir!, loc.rel);
  return below;
}

describe('Roots.locate and the fd chain below a root', () => {
  const fx = makeFixture();
  after(() => fx.cleanup());
  const roots = [fx.root];

  it('locates a file inside the root by its real path', async () => {
    const f = writeFile(path.join(fx.root, 'logs', 'app.log'), 'x');
    assert.equal(await withRoots(roots, async (r) => (await r.locate(f)).path), f);
  });

  it('locates a path that does not exist yet; a symlink inside the root is never followed, even to inside', async () => {
    fs.symlinkSync(path.join(fx.root, 'logs'), path.join(fx.root, 'logs-link'));
    await withRoots(roots, async (r) => {
      const loc = await r.locate(path.join(fx.root, 'logs', 'new', 'deeper'));
      assert.deepEqual(loc.rel, ['logs', 'new', 'deeper']);
      const below = await openInside(r, path.join(fx.root, 'logs', 'new', 'deeper'));
      assert.deepEqual(below.rest, ['new', 'deeper']);
      await below.dir.close();
      await assert.rejects(openInside(r, path.join(fx.root, 'logs-link', 'new')), failureOf('UnsafePathError', /is a symlink inside a managed root/));
    });
    assert.equal(fs.existsSync(path.join(fx.root, 'logs', 'new')), false);
  });

  it('refuses a symlink that escapes the root, and leaves its target alone', async () => {
    const secret = writeFile(path.join(fx.outside, 'secret.txt'), 'secret');
    const before = sha256(secret);
    fs.symlinkSync(fx.outside, path.join(fx.root, 'escape-dir'));
    await withRoots(roots, async (r) => {
      await assert.rejects(openInside(r, path.join(fx.root, 'escape-dir', 'not-yet')), failureOf('UnsafePathError'));
      await assert.rejects(r.locate(secret), failureOf('UnsafePathError', /is outside managed\.roots/));
    });
    assert.equal(sha256(secret), before);
  });

  it('refuses ".." components even when they would land inside', async () => {
    await withRoots(roots, async (r) => {
      await assert.rejects(r.locate(`${fx.root}/../outside/secret.txt`), failureOf('UnsafePathError', /"\.\."/));
      await assert.rejects(r.locate(`${fx.root}/logs/../logs/app.log`), failureOf('UnsafePathError'));
    });
  });

  it('refuses a sibling that only shares the prefix, relative paths, NUL bytes and empty roots', async () => {
    fs.mkdirSync(`${fx.root}-evil`);
    await withRoots(roots, async (r) => {
      await assert.rejects(r.locate(`${fx.root}-evil/x`), failureOf('UnsafePathError'));
      await assert.rejects(r.locate('root/logs'), failureOf('UnsafePathError', /relative/));
      await assert.rejects(r.locate(`${fx.root}/a\0b`), failureOf('UnsafePathError', /NUL/));
    });
    await assert.rejects(withRoots([], async () => undefined), failureOf('UnsafePathError', /managed\.roots is empty/));
    await assert.rejects(withRoots(['/'], async () => undefined), failureOf('ConfigError'));
  });

  it('treats a root reached through a symlink (in a trusted directory) by its realpath', async () => {
    const link = path.join(fx.tmp, 'root-link');
    fs.symlinkSync(fx.root, link);
    await withRoots([link], async (r) => {
      assert.equal((await r.locate(path.join(fx.root, 'logs', 'app.log'))).path, path.join(fx.root, 'logs', 'app.log'));
      assert.equal((await r.locate(path.join(link, 'nope'))).path, path.join(fx.root, 'nope'));
    });
  });

  it('isInside is component-wise', () => {
    assert.equal(isInside('/a/b', '/a'), true);
    assert.equal(isInside('/a', '/a'), true);
    assert.equal(isInside('/a/..b', '/a'), true);
    assert.equal(isInside('/ab', '/a'), false);
    assert.equal(isInside('/', '/a'), false);
  });
});

describe('expandGlob and emptying a directory', () => {
  const fx = makeFixture();
  after(() => fx.cleanup());

  it('expands *, ? and ** without following symlinks', async () => {
    writeFile(path.join(fx.root, 'logs', 'a.log'), 'a');
    writeFile(path.join(fx.root, 'logs', 'b.log'), 'b');
    writeFile(path.join(fx.root, 'logs', 'sub', 'c.log'), 'c');
    writeFile(path.join(fx.root, 'logs', '.hidden.log'), 'h');
    writeFile(path.join(fx.outside, 'evil.log'), 'e');
    fs.symlinkSync(path.join(fx.outside, 'evil.log'), path.join(fx.root, 'logs', 'z.log'));
    fs.symlinkSync(fx.outside, path.join(fx.root, 'logs', 'outdir'));
    await withRoots([fx.root], async (r) => {
      const flat = await expandGlob(r, path.join(fx.root, 'logs', '?.log'));
      assert.deepEqual(flat.matches.map((m) => m.loc.path), ['a.log', 'b.log'].map((n) => path.join(fx.root, 'logs', n)));
      assert.deepEqual(flat.skippedSymlinks, [path.join(fx.root, 'logs', 'z.log')]);
      const deep = await expandGlob(r, path.join(fx.root, '**', '*.log'));
      assert.deepEqual(deep.matches.map((m) => m.loc.path), ['a.log', 'b.log', 'sub/c.log'].map((n) => path.join(fx.root, 'logs', n)));
      await assert.rejects(expandGlob(r, path.join(fx.outside, '*.log')), failureOf('UnsafePathError'));
    });
  });

  it('empties a directory, removing a symlink itself but never its target', async () => {
    const cache = path.join(fx.root, 'cache');
    writeFile(path.join(cache, 'x', 'y', 'z.bin'), 'z');
    const target = writeFile(path.join(fx.outside, 'keep', 'important.txt'), 'important');
    fs.symlinkSync(path.join(fx.outside, 'keep'), path.join(cache, 'link-to-outside'));
    const r = await withRoots([fx.root], async (roots) => {
      const { dir } = await openInside(roots, cache);
      try {
        const tree = await walkTree(dir);
        return await removeEntries(dir, tree.dirs, tree.entries.map(removalOf));
      } finally {
        await dir.close();
      }
    });
    assert.deepEqual(fs.readdirSync(cache), []);
    assert.equal(r.kept.length, 0);
    assert.equal(fs.readFileSync(target, 'utf8'), 'important');
  });
});

describe('modes and owners', () => {
  it('parses octal modes and never widens files under a tree', async () => {
    assert.equal(parseMode('0750', 'x'), 0o750);
    assert.throws(() => parseMode('0999', 'managed.dir_mode'), failureOf('ConfigError', /managed\.dir_mode/));
    assert.equal(fileModeUnderTree(0o750, 0o100644), 0o640);
    assert.equal(fileModeUnderTree(0o750, 0o100755), 0o750);
    assert.equal(fileModeUnderTree(0o640, 0o100755), 0o640);
  });

  it('resolves user and group names from the system databases', async () => {
    assert.equal(await resolveUid('root', 'managed.owner'), 0);
    assert.equal(await resolveGid('root', 'managed.group'), 0);
    assert.equal(await resolveUid('1234', 'managed.owner'), 1234);
    await assert.rejects(resolveUid('no-such-user-xyz', 'managed.owner'), failureOf('ConfigError', /no such user/));
    await assert.rejects(resolveUid('bad name; rm -rf /', 'managed.owner'), failureOf('ConfigError', /not a valid user name/));
  });
});
