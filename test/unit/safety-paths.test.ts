import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { isInside, realpathLoose, resolveInsideRoots } from '../../src/activities/safety/paths';
import { expandGlob } from '../../src/activities/safety/glob';
import { emptyDirectory } from '../../src/activities/safety/walk';
import { fileModeUnderTree, parseMode } from '../../src/activities/safety/modes';
import { resolveGid, resolveUid } from '../../src/activities/safety/owners';
import { failureOf, makeFixture, sha256, writeFile } from './actions-files-fixture';

describe('resolveInsideRoots', () => {
  const fx = makeFixture();
  after(() => fx.cleanup());
  const roots = [fx.root];

  it('returns the realpath of a file inside the root', async () => {
    const f = writeFile(path.join(fx.root, 'logs', 'app.log'), 'x');
    assert.equal(await resolveInsideRoots(f, roots), f);
  });

  it('resolves a path that does not exist yet through its deepest existing ancestor', async () => {
    fs.symlinkSync(path.join(fx.root, 'logs'), path.join(fx.root, 'logs-link'));
    assert.equal(await resolveInsideRoots(path.join(fx.root, 'logs-link', 'new', 'deeper'), roots), path.join(fx.root, 'logs', 'new', 'deeper'));
    assert.equal(fs.existsSync(path.join(fx.root, 'logs', 'new')), false);
  });

  it('refuses a symlink that escapes the root, and leaves its target alone', async () => {
    const secret = writeFile(path.join(fx.outside, 'secret.txt'), 'secret');
    const before = sha256(secret);
    fs.symlinkSync(secret, path.join(fx.root, 'escape'));
    await assert.rejects(resolveInsideRoots(path.join(fx.root, 'escape'), roots), failureOf('UnsafePathError', /through a symlink\) is outside managed\.roots/));
    fs.symlinkSync(fx.outside, path.join(fx.root, 'escape-dir'));
    await assert.rejects(resolveInsideRoots(path.join(fx.root, 'escape-dir', 'not-yet'), roots), failureOf('UnsafePathError'));
    assert.equal(sha256(secret), before);
  });

  it('refuses ".." components even when they would land inside', async () => {
    await assert.rejects(resolveInsideRoots(`${fx.root}/../outside/secret.txt`, roots), failureOf('UnsafePathError', /"\.\."/));
    await assert.rejects(resolveInsideRoots(`${fx.root}/logs/../logs/app.log`, roots), failureOf('UnsafePathError'));
  });

  it('refuses a sibling that only shares the prefix, relative paths, NUL bytes and empty roots', async () => {
    fs.mkdirSync(`${fx.root}-evil`);
    await assert.rejects(resolveInsideRoots(`${fx.root}-evil/x`, roots), failureOf('UnsafePathError'));
    await assert.rejects(resolveInsideRoots('root/logs', roots), failureOf('UnsafePathError', /relative/));
    await assert.rejects(resolveInsideRoots(`${fx.root}/a\0b`, roots), failureOf('UnsafePathError', /NUL/));
    await assert.rejects(resolveInsideRoots(path.join(fx.root, 'logs'), []), failureOf('UnsafePathError', /managed\.roots is empty/));
    await assert.rejects(resolveInsideRoots(path.join(fx.root, 'logs'), ['/']), failureOf('ConfigError'));
  });

  it('treats a root reached through a symlink by its realpath', async () => {
    const link = path.join(fx.tmp, 'root-link');
    fs.symlinkSync(fx.root, link);
    assert.equal(await resolveInsideRoots(path.join(fx.root, 'logs', 'app.log'), [link]), path.join(fx.root, 'logs', 'app.log'));
    assert.equal(await realpathLoose(path.join(link, 'nope')), path.join(fx.root, 'nope'));
  });

  it('isInside is component-wise', () => {
    assert.equal(isInside('/a/b', '/a'), true);
    assert.equal(isInside('/a', '/a'), true);
    assert.equal(isInside('/a/..b', '/a'), true);
    assert.equal(isInside('/ab', '/a'), false);
    assert.equal(isInside('/', '/a'), false);
  });
});

describe('expandGlob and emptyDirectory', () => {
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
    const flat = await expandGlob(path.join(fx.root, 'logs', '?.log'), [fx.root]);
    assert.deepEqual(flat.files, ['a.log', 'b.log'].map((n) => path.join(fx.root, 'logs', n)));
    assert.deepEqual(flat.skippedSymlinks, [path.join(fx.root, 'logs', 'z.log')]);
    const deep = await expandGlob(path.join(fx.root, '**', '*.log'), [fx.root]);
    assert.deepEqual(deep.files, ['a.log', 'b.log', 'sub/c.log'].map((n) => path.join(fx.root, 'logs', n)));
    await assert.rejects(expandGlob(path.join(fx.outside, '*.log'), [fx.root]), failureOf('UnsafePathError'));
  });

  it('empties a directory, removing a symlink itself but never its target', async () => {
    const cache = path.join(fx.root, 'cache');
    writeFile(path.join(cache, 'x', 'y', 'z.bin'), 'z');
    const target = writeFile(path.join(fx.outside, 'keep', 'important.txt'), 'important');
    fs.symlinkSync(path.join(fx.outside, 'keep'), path.join(cache, 'link-to-outside'));
    const r = await emptyDirectory(cache);
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
