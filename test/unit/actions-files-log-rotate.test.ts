import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { logRotate } from '../../src/actions/log-rotate';
import { backupTargets, restoreBackup } from '../../src/backup';
import { listBackups, planPrune } from '../../src/backup/retention';
import { openBelow, withRoots } from '../../src/fs-safe';
import { rotateThroughBackup } from '../../src/rotation/spill';
import { failureOf, makeConfig, makeCtx, makeFixture, sha256, snapshotTree, writeFile } from './actions-files-fixture';

const spec = { type: 'log_rotate' as const };

describe('log_rotate', () => {
  const fx = makeFixture();
  after(() => fx.cleanup());

  it('copy-truncate: a writer holding the file open keeps the same inode; the gzip has the old bytes', async () => {
    const log = path.join(fx.root, 'logs', 'app.log');
    const old = 'line one\n'.repeat(200);
    writeFile(log, old);
    const ino = fs.statSync(log).ino;
    const fd = fs.openSync(log, 'a');
    try {
      const ctx = makeCtx(makeConfig(fx, { log_rotate: { files: [log], max_bytes: 1000 } }));
      const r = await logRotate.run(ctx, spec);
      assert.ok(r.changed.includes(log));
      assert.equal(gunzipSync(fs.readFileSync(`${log}.1.gz`)).toString(), old);
      assert.equal(fs.statSync(log).size, 0);
      fs.writeSync(fd, 'after rotation\n');
      assert.equal(fs.statSync(log).ino, ino);
      assert.equal(fs.readFileSync(log, 'utf8'), 'after rotation\n');
    } finally {
      fs.closeSync(fd);
    }
  });

  it('shifts older generations and keeps at most `keep`', async () => {
    const log = writeFile(path.join(fx.root, 'shift', 'app.log'), 'x'.repeat(500));
    writeFile(`${log}.1.gz`, 'gen1');
    writeFile(`${log}.2`, 'gen2 plain');
    writeFile(`${log}.3.gz`, 'gen3');
    const ctx = makeCtx(makeConfig(fx, { log_rotate: { files: [log], max_bytes: 100, keep: 3 } }));
    await logRotate.run(ctx, spec);
    assert.equal(fs.readFileSync(`${log}.2.gz`, 'utf8'), 'gen1');
    assert.equal(fs.readFileSync(`${log}.3`, 'utf8'), 'gen2 plain');
    assert.equal(fs.existsSync(`${log}.4.gz`), false);
    assert.equal(gunzipSync(fs.readFileSync(`${log}.1.gz`)).toString(), 'x'.repeat(500));
    assert.deepEqual(fs.readdirSync(path.dirname(log)).sort(), ['app.log', 'app.log.1.gz', 'app.log.2.gz', 'app.log.3'].sort());
  });

  it('leaves small files alone and rotates only files over max_bytes matched by a glob', async () => {
    const dir = path.join(fx.root, 'glob');
    const big = writeFile(path.join(dir, 'big.log'), 'b'.repeat(300));
    const small = writeFile(path.join(dir, 'small.log'), 's');
    const ctx = makeCtx(makeConfig(fx, { log_rotate: { files: [path.join(dir, '*.log')], max_bytes: 100, compress: false } }));
    const r = await logRotate.run(ctx, spec);
    assert.deepEqual((r.details?.rotated as Array<{ file: string }>).map((x) => x.file), [big]);
    assert.equal(fs.readFileSync(`${big}.1`, 'utf8'), 'b'.repeat(300));
    assert.equal(fs.readFileSync(small, 'utf8'), 's');
  });

  it('rename mode (copy_truncate false) moves the file and recreates it empty', async () => {
    const log = writeFile(path.join(fx.root, 'rename', 'app.log'), 'r'.repeat(300));
    fs.chmodSync(log, 0o640);
    const ino = fs.statSync(log).ino;
    const ctx = makeCtx(makeConfig(fx, { log_rotate: { files: [log], max_bytes: 100, copy_truncate: false, postrotate: ['true'] } }));
    await logRotate.run(ctx, spec);
    assert.notEqual(fs.statSync(log).ino, ino);
    assert.equal(fs.statSync(log).size, 0);
    assert.equal(fs.statSync(log).mode & 0o777, 0o640);
    assert.equal(gunzipSync(fs.readFileSync(`${log}.1.gz`)).toString(), 'r'.repeat(300));
    assert.equal(fs.existsSync(`${log}.1`), false);
  });

  it('falls back to the watched logs and the spec max_bytes', async () => {
    const log = writeFile(path.join(fx.root, 'watched', 'app.log'), 'w'.repeat(300));
    const ctx = makeCtx(makeConfig(fx, {}, { watch: { logs: [log] } }));
    await logRotate.run(ctx, { ...spec, max_bytes: 100 });
    assert.equal(fs.statSync(log).size, 0);
  });

  it('dry-run plan touches nothing; the backup records the log and the generation the shift deletes; compensation never undoes a rotation', async () => {
    const dir = path.join(fx.root, 'dry');
    const log = writeFile(path.join(dir, 'app.log'), 'd'.repeat(300));
    writeFile(`${log}.1.gz`, 'older');
    writeFile(`${log}.2.gz`, 'oldest');
    const before = snapshotTree(dir);
    const ctx = makeCtx(makeConfig(fx, { log_rotate: { files: [log], max_bytes: 100, keep: 2 } }));
    const plan = await logRotate.plan(ctx, spec);
    assert.deepEqual(snapshotTree(dir), before);
    assert.match(plan.steps[0] ?? '', /rotate .*app\.log .*delete .*app\.log\.2\.gz; move .*app\.log\.1\.gz → .*app\.log\.2\.gz/);
    assert.deepEqual(plan.targets.map((t) => t.path), [log, `${log}.2.gz`]);
    const ref = await backupTargets(plan.targets, { backupRoot: path.join(fx.dataDir, 'backups'), incidentId: 'lr', runId: 'run-1', label: '01-log_rotate', roots: [fx.root], freesSpace: { thresholdPercent: 100 } });
    assert.equal(ref.keepsDeletions, true);
    await logRotate.run(ctx, spec);
    const rotated = snapshotTree(dir);
    assert.notDeepEqual(rotated, before);
    const r = await restoreBackup(ref);
    assert.deepEqual(r.restored, []);
    assert.match(r.notes.join('\n'), /space-freeing action is not undone/);
    assert.deepEqual(snapshotTree(dir), rotated, 'the live log keeps its inode: nothing is put back under a writer');
    assert.equal(gunzipSync(fs.readFileSync(`${log}.1.gz`)).toString(), 'd'.repeat(300));
    assert.equal(fs.readFileSync(`${log}.2.gz`, 'utf8'), 'older');
  });

  it('a full-disk rotation cut short after the log was released is finished by the next attempt; retention keeps its backup meanwhile', async () => {
    const dir = path.join(fx.root, 'spill');
    const content = Array.from({ length: 2000 }, (_, i) => `line ${i}`).join('\n') + '\n';
    const log = writeFile(path.join(dir, 'app.log'), content);
    const ctx = makeCtx(makeConfig(fx, { log_rotate: { files: [log], max_bytes: 100, keep: 2 } }), 'inc-spill');
    const plan = await logRotate.plan(ctx, spec);
    const store = path.join(fx.dataDir, 'backups');
    const ref = await backupTargets(plan.targets, { backupRoot: store, incidentId: 'inc-spill', runId: 'run-1', label: '00-log_rotate', roots: [fx.root], freesSpace: { thresholdPercent: 100 } });
    fs.appendFileSync(log, 'appended after the backup\n');
    const st = fs.statSync(log);
    const f = { file: log, name: 'app.log', id: { dev: st.dev, ino: st.ino }, size: st.size, mode: 0o644, uid: 0, gid: 0, newest: 'app.log.1.gz' };
    // An aborted signal stops it exactly where a crash would hurt most: released, generation not yet written.
    await withRoots([fx.root], async (roots) => {
      const below = await openBelow(roots.list[0]!.dir!, ['spill']);
      try {
        await assert.rejects(rotateThroughBackup(below.dir, f, { stepDir: ref.dir, source: 'app.log', release: 'truncate', gzip: true, generation: 'app.log.1.gz', signal: AbortSignal.abort() }));
      } finally {
        await below.dir.close();
      }
    });
    assert.equal(fs.statSync(log).size, 0, 'released');
    assert.deepEqual(fs.readdirSync(dir), ['app.log']);
    const mine = (await listBackups(store)).filter((u) => u.incidentId === 'inc-spill');
    assert.equal(mine[0]?.pendingSpill, true);
    assert.deepEqual(planPrune(mine, { maxAgeDays: 0.000001, maxTotalMb: 0 }, Date.now() + 86_400_000), [], 'never pruned while unfinished');
    ctx.backup = { store, run: path.dirname(ref.dir), step: ref.dir };
    const r = await logRotate.run(ctx, spec);
    assert.ok(r.changed.includes(`${log}.1.gz`), JSON.stringify(r));
    assert.equal(gunzipSync(fs.readFileSync(`${log}.1.gz`)).toString(), content + 'appended after the backup\n');
    assert.deepEqual(fs.readdirSync(ref.dir).filter((x) => x.startsWith('spill-')), []);
  });

  it('refuses a log path that is a symlink out of the roots, leaving the target untouched', async () => {
    const outsideLog = writeFile(path.join(fx.outside, 'other.log'), 'o'.repeat(300));
    const before = sha256(outsideLog);
    const link = path.join(fx.root, 'logs', 'linked.log');
    fs.symlinkSync(outsideLog, link);
    const ctx = makeCtx(makeConfig(fx, { log_rotate: { files: [link], max_bytes: 100 } }));
    await assert.rejects(logRotate.plan(ctx, spec), failureOf('UnsafePathError'));
    await assert.rejects(logRotate.run(ctx, spec), failureOf('UnsafePathError'));
    assert.equal(sha256(outsideLog), before);
    assert.equal(fs.existsSync(`${outsideLog}.1.gz`), false);
    await assert.rejects(logRotate.run(makeCtx(makeConfig(fx, { log_rotate: { files: [`${fx.root}/../outside/other.log`] } })), spec), failureOf('UnsafePathError'));
  });
});
