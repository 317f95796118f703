/**
 * Symlink races against backups and restores: a real `nobody` attacker swaps backed-up files and
 * directories for symlinks to root-owned 0600 victims outside the roots while the root worker takes
 * (200 times) or puts back (200 times) a backup. A capture must copy no victim's bytes into the
 * backup store; a restore must write, chmod, chown, touch or delete nothing outside the roots.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { backupTargets, restoreBackup } from '../../src/backup';
import { addVictim, ATTEMPTS, formatReport, makeRaceWorld, NOBODY, raceLoop, type RaceReport, type RaceWorld, type Slot } from './race-support';

function assertClean(r: RaceReport): void {
  process.stdout.write(formatReport(r) + '\n');
  assert.equal(r.victimChanges, 0, `victims changed after ${r.victimChanges} of ${r.attempts} attempts:\n${r.examples.join('\n')}`);
  assert.equal(r.storeLeaks, 0, `a victim's secret reached the backup store after ${r.storeLeaks} of ${r.attempts} attempts:\n${r.examples.join('\n')}`);
  assert.deepEqual(r.leaks, [], 'the attacker read a victim through a file the worker wrote');
  assert.ok(r.exchanges > 1000, `the attacker swapped only ${r.exchanges} times; the race did not run`);
}

/** Writes a file owned by nobody (as the app would have). */
function appFile(p: string, content: string, mode = 0o644): void {
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, content, { mode });
  fs.chmodSync(p, mode);
  fs.chownSync(p, NOBODY.uid, NOBODY.gid);
}

function chownTree(dir: string): void {
  fs.chownSync(dir, NOBODY.uid, NOBODY.gid);
  for (const n of fs.readdirSync(dir)) {
    const p = path.join(dir, n);
    if (fs.lstatSync(p).isDirectory()) chownTree(p);
    else fs.lchownSync(p, NOBODY.uid, NOBODY.gid);
  }
}

describe('race: backups and restores vs a nobody attacker swapping symlinks', () => {
  const worlds: RaceWorld[] = [];
  const world = () => {
    const w = makeRaceWorld();
    worlds.push(w);
    return w;
  };
  after(() => worlds.forEach((w) => w.cleanup()));

  it('backup capture copies no victim into the backup store', async () => {
    const w = world();
    for (const n of ['a.txt', 'b.txt', 'file.txt']) addVictim(w, n, { size: 300 });
    const dir = path.join(w.managed, 'b');
    const tree = path.join(dir, 'tree');
    const files = { 'a.txt': { content: 'bait a\n' }, 'b.txt': { content: 'bait b\n' } };
    const slots: Slot[] = [
      { path: tree, victim: w.victims, bait: { kind: 'dir', files, dirs: { sub: { files } } }, mode: 'pulse' },
      { path: path.join(tree, 'sub'), victim: w.victims, bait: { kind: 'dir', files } },
      { path: path.join(tree, 'a.txt'), victim: path.join(w.victims, 'a.txt'), bait: { kind: 'file', content: 'bait a\n' } },
      { path: path.join(dir, 'file.txt'), victim: path.join(w.victims, 'file.txt'), bait: { kind: 'file', content: 'bait file\n' } },
    ];
    fs.mkdirSync(dir);
    fs.chownSync(dir, NOBODY.uid, NOBODY.gid);
    const backupRoot = path.join(w.data, 'backups');
    const targets = [{ path: tree }, { path: path.join(dir, 'file.txt') }, { path: path.join(dir, 'meta.txt'), metadataOnly: true }];
    const r = await raceLoop('backup capture', w, slots, ATTEMPTS, async (i) => {
      // The previous attempt's backup has been searched already; keep the store small.
      fs.rmSync(path.join(backupRoot, 'race-capture', `cap-${i - 1}`), { recursive: true, force: true });
      await backupTargets(targets, { backupRoot, incidentId: 'race-capture', runId: 'run-1', label: `cap-${i}`, roots: [w.managed] });
    });
    assertClean(r);
  });

  it('restore writes, chmods, chowns and deletes nothing outside the roots', async () => {
    const w = world();
    for (const n of ['a.txt', 'b.txt', 'file.txt', 'meta.txt', 'new.txt']) addVictim(w, n, { size: 300 });
    const dir = path.join(w.managed, 'r');
    const tree = path.join(dir, 'tree');
    appFile(path.join(tree, 'a.txt'), 'original a\n');
    appFile(path.join(tree, 'sub', 'b.txt'), 'original b\n');
    appFile(path.join(dir, 'file.txt'), 'original file\n');
    appFile(path.join(dir, 'meta.txt'), 'meta\n', 0o640);
    chownTree(dir);
    const ref = await backupTargets(
      [{ path: tree }, { path: path.join(dir, 'file.txt') }, { path: path.join(dir, 'meta.txt'), metadataOnly: true }, { path: path.join(dir, 'new.txt') }],
      { backupRoot: path.join(w.data, 'backups'), incidentId: 'race-restore', runId: 'run-1', label: '01-x', roots: [w.managed] },
    );
    const changed = { 'a.txt': { content: 'changed by the app, longer\n' } };
    const slots: Slot[] = [
      { path: tree, victim: w.victims, bait: { kind: 'dir', files: changed, dirs: { sub: { files: { 'b.txt': { content: 'changed b, longer\n' } } } } }, mode: 'pulse' },
      { path: path.join(tree, 'sub'), victim: w.victims, bait: { kind: 'dir', files: { 'b.txt': { content: 'changed b, longer\n' } } } },
      { path: path.join(tree, 'a.txt'), victim: path.join(w.victims, 'a.txt'), bait: { kind: 'file', content: 'changed a, longer\n' } },
      { path: path.join(dir, 'file.txt'), victim: path.join(w.victims, 'file.txt'), bait: { kind: 'file', content: 'changed file, longer\n' }, mode: 'open' },
      { path: path.join(dir, 'meta.txt'), victim: path.join(w.victims, 'meta.txt'), bait: { kind: 'file', content: 'meta\n', mode: 0o666 } },
      { path: path.join(dir, 'new.txt'), victim: path.join(w.victims, 'new.txt'), bait: { kind: 'file', content: 'new since\n' } },
    ];
    const r = await raceLoop('restore', w, slots, ATTEMPTS, () => restoreBackup(ref));
    assertClean(r);
  });
});
