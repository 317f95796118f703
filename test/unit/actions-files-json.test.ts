import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { backupAndFixJson } from '../../src/activities/actions/backup-and-fix-json';
import { backupTargets, restoreBackup } from '../../src/activities/backup';
import { failureOf, makeConfig, makeCtx, makeFixture, sha256, snapshotTree, writeFile } from './actions-files-fixture';

const spec = { type: 'backup_and_fix_json' as const };

describe('backup_and_fix_json', () => {
  const fx = makeFixture();
  after(() => fx.cleanup());
  const backupRoot = () => path.join(fx.dataDir, 'backups');

  it('repairs a corrupt file from its last good autofix backup and keeps the corrupt bytes', async () => {
    const file = writeFile(path.join(fx.root, 'data', 'settings.json'), '{"version": 1}\n');
    fs.chmodSync(file, 0o640);
    const ctx = makeCtx(makeConfig(fx, { json_files: [{ path: file, default_content: { fresh: true } }] }), 'inc-json-2');
    // An earlier incident backed up the good v1; then a good v2, newer.
    await backupTargets([{ path: file }], { backupRoot: backupRoot(), incidentId: 'inc-json-0', label: '01-x' });
    const t = new Date(Date.now() + 1000);
    fs.writeFileSync(file, '{"version": 2}\n');
    fs.utimesSync(file, t, t);
    await backupTargets([{ path: file }], { backupRoot: backupRoot(), incidentId: 'inc-json-1', label: '01-x' });
    fs.writeFileSync(file, '{"version": 3, "trunc');
    const corrupt = sha256(file);
    // This incident's own pre-fix backup holds the corrupt bytes: it must not be chosen.
    const plan = await backupAndFixJson.plan(ctx, spec);
    assert.match(plan.steps[0] ?? '', /repair corrupt .*settings\.json from autofix backup .*inc-json-1/);
    await backupTargets(plan.targets, { backupRoot: backupRoot(), incidentId: 'inc-json-2', label: '01-backup_and_fix_json' });
    const r = await backupAndFixJson.run(ctx, spec);
    assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), { version: 2 });
    assert.equal(fs.statSync(file).mode & 0o777, 0o640);
    const kept = (r.details?.repaired as Array<{ corrupt_copy: string }>)[0]?.corrupt_copy ?? '';
    assert.ok(kept.startsWith(path.join(backupRoot(), 'inc-json-2', 'corrupt-json')), kept);
    assert.equal(sha256(kept), corrupt);
    // Idempotent: the file parses now, so a second run leaves it alone.
    const again = await backupAndFixJson.run(ctx, spec);
    assert.deepEqual(again.changed, []);
  });

  it('prefers a valid <file>.bak sibling when it is newer; skips invalid candidates', async () => {
    const file = writeFile(path.join(fx.root, 'bak', 'state.json'), 'not json at all');
    writeFile(`${file}.bak`, '{"from":"bak"}');
    writeFile(`${file}.bak.2`, '{broken', 0);
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(`${file}.bak`, old, old);
    const ctx = makeCtx(makeConfig(fx, { json_files: [{ path: file }] }));
    await backupAndFixJson.run(ctx, { ...spec, files: [file] });
    assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), { from: 'bak' });
  });

  it('writes default_content when there is no valid backup; restore gives back the corrupt original', async () => {
    const file = writeFile(path.join(fx.root, 'def', 'cache.json'), '\u0000\u0000garbage');
    const before = snapshotTree(path.dirname(file));
    const ctx = makeCtx(makeConfig(fx, { json_files: [{ path: file, default_content: { items: [], n: 0 } }] }), 'inc-def');
    const plan = await backupAndFixJson.plan(ctx, spec);
    assert.deepEqual(snapshotTree(path.dirname(file)), before, 'plan touches nothing');
    assert.match(plan.steps[0] ?? '', /default_content/);
    const ref = await backupTargets(plan.targets, { backupRoot: backupRoot(), incidentId: 'inc-def', label: '01-backup_and_fix_json' });
    await backupAndFixJson.run(ctx, spec);
    assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), { items: [], n: 0 });
    assert.deepEqual(fs.readdirSync(path.dirname(file)), ['cache.json'], 'no temp files left behind');
    await restoreBackup(ref);
    assert.deepEqual(snapshotTree(path.dirname(file)), before);
  });

  it('refuses when there is neither a valid backup nor default_content, leaving the file as is', async () => {
    const file = writeFile(path.join(fx.root, 'none', 'x.json'), '[1,2');
    const ctx = makeCtx(makeConfig(fx, { json_files: [{ path: file }] }));
    await assert.rejects(backupAndFixJson.run(ctx, spec), failureOf('RefusedError', /no valid backup .* no default_content/));
    assert.equal(fs.readFileSync(file, 'utf8'), '[1,2');
  });

  it('leaves a valid file alone and refuses files that are not configured or outside the roots', async () => {
    const good = writeFile(path.join(fx.root, 'ok', 'good.json'), '{"a":1}');
    const mtime = fs.statSync(good).mtimeMs;
    const ctx = makeCtx(makeConfig(fx, { json_files: [{ path: good, default_content: {} }] }));
    const r = await backupAndFixJson.run(ctx, spec);
    assert.deepEqual(r.changed, []);
    assert.equal(fs.statSync(good).mtimeMs, mtime);
    await assert.rejects(backupAndFixJson.run(ctx, { ...spec, files: [path.join(fx.root, 'other.json')] }), failureOf('ConfigError', /not in managed\.json_files/));
    const outside = writeFile(path.join(fx.outside, 'o.json'), '{bad');
    const ctx2 = makeCtx(makeConfig(fx, { json_files: [{ path: outside, default_content: {} }] }));
    await assert.rejects(backupAndFixJson.run(ctx2, spec), failureOf('UnsafePathError'));
    assert.equal(fs.readFileSync(outside, 'utf8'), '{bad');
  });
});
