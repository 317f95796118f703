import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { backupAndFixJson } from '../../src/actions/backup-and-fix-json';
import { backupTargets, restoreBackup } from '../../src/backup';
import { goodVersionsOf, snapshotGoodJson } from '../../src/backup/json-good';
import type { Config } from '../../src/config/schema';
import { failureOf, makeConfig, makeCtx, makeFixture, sha256, snapshotTree, writeFile } from './actions-files-fixture';

const spec = { type: 'backup_and_fix_json' as const };

describe('backup_and_fix_json', () => {
  const fx = makeFixture();
  after(() => fx.cleanup());
  const backupRoot = () => path.join(fx.dataDir, 'backups');

  /** A ctx whose incident was detected in the watched JSON file `file`, in saga run `run`. */
  const jsonCtx = (cfg: Config, file: string, incidentId = 'inc-json', run = 'run-1') => {
    const ctx = makeCtx(cfg, incidentId);
    ctx.incident.detection = { id: 'json_parse', name: 'JSON', severity: 'error', count: 1, source: 'json', file, samples: [] };
    const store = backupRoot();
    ctx.backup = { store, run: path.join(store, incidentId, run), step: path.join(store, incidentId, run, '00-backup_and_fix_json') };
    return ctx;
  };

  it('restores a corrupted watched file to its last good content, byte for byte, and keeps the corrupt bytes', async () => {
    const file = writeFile(path.join(fx.root, 'data', 'settings.json'), '{"version": 1}\n');
    fs.chmodSync(file, 0o640);
    const cfg = makeConfig(fx, {}, { watch: { json_files: [path.join(fx.root, 'data', '*.json')] } });
    assert.deepEqual(await snapshotGoodJson(cfg), [file]);
    // The app writes a newer good version (odd spacing, no trailing newline): that is the last good one.
    const v2 = '{ "version" :2,\t"items":[1, 2 ,3]}';
    fs.writeFileSync(file, v2);
    assert.deepEqual(await snapshotGoodJson(cfg), [file]);
    assert.deepEqual(await snapshotGoodJson(cfg), [], 'an unchanged file is not copied again');
    fs.writeFileSync(file, '{"version": 3, "trunc');
    const corrupt = sha256(file);
    assert.deepEqual(await snapshotGoodJson(cfg), [], 'a corrupt file is never a good copy');
    assert.equal((await goodVersionsOf(cfg, file)).length, 2);
    const ctx = jsonCtx(cfg, file);
    const plan = await backupAndFixJson.plan(ctx, spec);
    assert.match(plan.steps[0] ?? '', /repair corrupt .*settings\.json from its last known good copy/);
    const r = await backupAndFixJson.run(ctx, spec);
    assert.equal(fs.readFileSync(file, 'utf8'), v2);
    assert.equal(fs.statSync(file).mode & 0o777, 0o640);
    const kept = (r.details?.repaired as Array<{ corrupt_copy: string }>)[0]?.corrupt_copy ?? '';
    assert.ok(kept.startsWith(path.join(ctx.backup!.run, 'corrupt-json')), kept);
    assert.equal(sha256(kept), corrupt);
    // Idempotent: the file parses now, so a second run leaves it alone.
    const again = await backupAndFixJson.run(ctx, spec);
    assert.deepEqual(again.changed, []);
  });

  it('keeps at most backups.json_versions copies per file', async () => {
    const file = writeFile(path.join(fx.root, 'versions', 'v.json'), '{"n":0}');
    const cfg = makeConfig(fx, {}, { watch: { json_files: [file] }, backups: { json_versions: 2 } });
    for (let n = 1; n <= 4; n++) {
      fs.writeFileSync(file, `{"n":${n}}`);
      await snapshotGoodJson(cfg);
    }
    assert.deepEqual((await goodVersionsOf(cfg, file)).map((v) => v.size), [7, 7]);
    const dirs = fs.readdirSync(path.join(fx.dataDir, 'json-good'));
    assert.equal(fs.statSync(path.join(fx.dataDir, 'json-good')).mode & 0o777, 0o700);
    const folder = dirs.map((d) => path.join(fx.dataDir, 'json-good', d)).find((d) => fs.readFileSync(path.join(d, 'index.json'), 'utf8').includes(file))!;
    assert.equal(fs.readdirSync(folder).filter((f) => f.endsWith('.json') && f !== 'index.json').length, 2);
  });

  it('never copies a watched path the app user turned into a symlink or a hard link', async () => {
    const secret = writeFile(path.join(fx.outside, 'secret.json'), '{"password":"hunter2"}');
    const dir = path.join(fx.root, 'linked');
    fs.mkdirSync(dir, { recursive: true });
    fs.symlinkSync(secret, path.join(dir, 'a.json'));
    fs.linkSync(secret, path.join(dir, 'b.json'));
    const cfg = makeConfig(fx, {}, { watch: { json_files: [path.join(dir, '*.json'), path.join(dir, 'a.json')] } });
    assert.deepEqual(await snapshotGoodJson(cfg), []);
    assert.deepEqual(await goodVersionsOf(cfg, path.join(dir, 'b.json')), []);
  });

  it('without a good copy: default_content, else the newest .bak that parses; a log-sourced incident checks every watched file', async () => {
    const withDefault = writeFile(path.join(fx.root, 'def', 'cache.json'), '\u0000\u0000garbage');
    writeFile(`${withDefault}.bak`, '{"from":"bak"}');
    const withBak = writeFile(path.join(fx.root, 'def', 'state.json'), 'not json at all');
    writeFile(`${withBak}.bak`, '{"from":"bak"}', 60_000);
    writeFile(`${withBak}.bak.2`, '{broken');
    const fine = writeFile(path.join(fx.root, 'def', 'fine.json'), '[1]');
    const before = snapshotTree(path.join(fx.root, 'def'));
    const cfg = makeConfig(fx, { json_files: [{ path: withDefault, default_content: { items: [], n: 0 } }] }, { watch: { json_files: [path.join(fx.root, 'def', '*.json')] } });
    const ctx = makeCtx(cfg, 'inc-def'); // a JSONDecodeError seen in a log: no file named
    const plan = await backupAndFixJson.plan(ctx, spec);
    assert.deepEqual(snapshotTree(path.join(fx.root, 'def')), before, 'plan touches nothing');
    const ref = await backupTargets(plan.targets, { backupRoot: backupRoot(), incidentId: 'inc-def', runId: 'run-1', label: '00-backup_and_fix_json', roots: [fx.root] });
    const r = await backupAndFixJson.run(ctx, spec);
    assert.deepEqual(JSON.parse(fs.readFileSync(withDefault, 'utf8')), { items: [], n: 0 });
    assert.deepEqual(JSON.parse(fs.readFileSync(withBak, 'utf8')), { from: 'bak' });
    assert.equal(fs.readFileSync(fine, 'utf8'), '[1]');
    assert.deepEqual([...r.changed].sort(), [withDefault, withBak].sort());
    await restoreBackup(ref);
    assert.deepEqual(snapshotTree(path.join(fx.root, 'def')), before, 'compensation gives back the corrupt originals');
  });

  it('refuses when there is nothing to restore, leaving the file as is', async () => {
    const file = writeFile(path.join(fx.root, 'none', 'x.json'), '[1,2');
    const cfg = makeConfig(fx, {}, { watch: { json_files: [file] } });
    await assert.rejects(backupAndFixJson.run(jsonCtx(cfg, file), spec), failureOf('RefusedError', /nothing to restore/));
    assert.equal(fs.readFileSync(file, 'utf8'), '[1,2');
  });

  it('a valid 70 MB file is never rewritten: skipped with an alert', async () => {
    const file = path.join(fx.root, 'big', 'huge.json');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const fd = fs.openSync(file, 'w');
    fs.writeSync(fd, '[');
    const chunk = Buffer.from('"' + 'x'.repeat(1022) + '",');
    for (let i = 0; i < 70 * 1024; i++) fs.writeSync(fd, chunk);
    fs.writeSync(fd, '0]');
    fs.closeSync(fd);
    const before = { sha: sha256(file), st: fs.statSync(file) };
    const cfg = makeConfig(fx, { json_files: [{ path: file, default_content: {} }] }, { watch: { json_files: [file] }, auto_fix_config: { notification_channels: ['alerts'] } });
    const ctx = jsonCtx(cfg, file, 'inc-huge');
    const plan = await backupAndFixJson.plan(ctx, spec);
    assert.deepEqual(plan.targets, []);
    assert.match(plan.steps.join('\n'), /skip .*huge\.json: \d+ bytes, over the \d+ bytes it can check/);
    const r = await backupAndFixJson.run(ctx, spec);
    assert.deepEqual(r.changed, []);
    const after = fs.statSync(file);
    assert.equal(after.ino, before.st.ino);
    assert.equal(after.mtimeMs, before.st.mtimeMs);
    assert.equal(sha256(file), before.sha);
    const alerts = fs.readFileSync(path.join(fx.dataDir, 'logs', 'alerts.log'), 'utf8');
    assert.match(alerts, /backup_and_fix_json skipped .*huge\.json/);
    fs.rmSync(file);
  });

  it('leaves a valid file alone and refuses files that are not known or outside the roots', async () => {
    const good = writeFile(path.join(fx.root, 'ok', 'good.json'), '{"a":1}');
    const mtime = fs.statSync(good).mtimeMs;
    const cfg = makeConfig(fx, { json_files: [{ path: good, default_content: {} }] });
    const r = await backupAndFixJson.run(makeCtx(cfg), spec);
    assert.deepEqual(r.changed, []);
    assert.equal(fs.statSync(good).mtimeMs, mtime);
    await assert.rejects(backupAndFixJson.run(makeCtx(cfg), { ...spec, files: [path.join(fx.root, 'other.json')] }), failureOf('ConfigError', /neither a watched JSON file/));
    const outside = writeFile(path.join(fx.outside, 'o.json'), '{bad');
    const cfg2 = makeConfig(fx, { json_files: [{ path: outside, default_content: {} }] });
    await assert.rejects(backupAndFixJson.run(makeCtx(cfg2), spec), failureOf('UnsafePathError'));
    assert.equal(fs.readFileSync(outside, 'utf8'), '{bad');
  });
});
