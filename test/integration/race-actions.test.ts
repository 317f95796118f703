/**
 * Symlink races against every file action: a real `nobody` attacker (race-attacker.py) owns the
 * managed root and, in a tight RENAME_EXCHANGE loop, swaps the files and directories an action is
 * about to touch for symlinks to root-owned 0600 victims outside the roots, while the root worker
 * runs the action (plan, then run, as a saga does) 200 times. Not one victim may change (bytes,
 * mode, owner, mtime, directory entries), and the attacker may read no victim's secret anywhere
 * below the roots. Refusals are fine: they are how a race is supposed to end.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ACTIONS } from '../../src/actions';
import type { ActionSpec } from '../../src/config/schema';
import { makeCtx } from '../unit/actions-files-fixture';
import { addVictim, ATTEMPTS, formatReport, makeRaceWorld, raceConfig, raceLoop, type RaceReport, type RaceWorld, type Slot } from './race-support';

const HOUR_S = 3600;
const DAY_S = 24 * HOUR_S;

function assertClean(r: RaceReport): void {
  process.stdout.write(formatReport(r) + '\n');
  assert.equal(r.victimChanges, 0, `victims changed after ${r.victimChanges} of ${r.attempts} attempts:\n${r.examples.join('\n')}`);
  assert.equal(r.storeLeaks, 0, `a victim's secret reached the backup store after ${r.storeLeaks} attempts`);
  assert.deepEqual(r.leaks, [], 'the attacker read a victim through a file the worker wrote');
  assert.ok(r.exchanges > 1000, `the attacker swapped only ${r.exchanges} times; the race did not run`);
}

/** Runs plan then run of `spec` under `managed` config, as the saga does. */
async function planAndRun(world: RaceWorld, managed: Record<string, unknown>, spec: ActionSpec, i: number): Promise<void> {
  const ctx = makeCtx(raceConfig(world, managed), `race-${i}`);
  const def = ACTIONS[spec.type] as unknown as { plan: (c: typeof ctx, s: ActionSpec) => Promise<unknown>; run: (c: typeof ctx, s: ActionSpec) => Promise<unknown> };
  await def.plan(ctx, spec);
  await def.run(ctx, spec);
}

/** Names of the bait files in a tree, and of the victims they are swapped with. */
const NAMES = Array.from({ length: 16 }, (_, i) => `f${i}`);
const oldFiles = (age: number, mode = 0o644) => Object.fromEntries(NAMES.map((n) => [n, { content: `bait ${n}\n`, age, mode }]));

/** Slots for a cleanup-like tree: the dir itself (pulsed), a subdir, and files, all swapped for links. */
function treeSlots(world: RaceWorld, dir: string, files: ReturnType<typeof oldFiles>): Slot[] {
  return [
    { path: dir, victim: world.victims, bait: { kind: 'dir', files, dirs: { sub: { files } } }, mode: 'pulse' },
    { path: path.join(dir, 'sub'), victim: world.victims, bait: { kind: 'dir', files } },
    { path: path.join(dir, 'f0'), victim: path.join(world.victims, 'f0'), bait: { kind: 'file', ...files.f0! } },
    { path: path.join(dir, 'sub', 'f1'), victim: path.join(world.victims, 'f1'), bait: { kind: 'file', ...files.f1! } },
  ];
}

describe('race: file actions vs a nobody attacker swapping symlinks', () => {
  const worlds: RaceWorld[] = [];
  const world = () => {
    const w = makeRaceWorld();
    worlds.push(w);
    return w;
  };
  after(() => worlds.forEach((w) => w.cleanup()));

  it('log_rotate (copy-truncate and create) neither truncates, moves nor copies a victim', async () => {
    const w = world();
    const logs = path.join(w.managed, 'logs');
    const log = path.join(logs, 'app.log');
    addVictim(w, 'app.log', { size: 4096 });
    const bait = { content: 'log line\n'.repeat(300), mode: 0o644 };
    const slots: Slot[] = [
      { path: logs, victim: w.victims, bait: { kind: 'dir', files: { 'app.log': bait } }, mode: 'pulse' },
      { path: log, victim: path.join(w.victims, 'app.log'), bait: { kind: 'file', ...bait }, mode: 'open' },
    ];
    const r = await raceLoop('log_rotate', w, slots, ATTEMPTS, (i) =>
      planAndRun(w, { log_rotate: { files: [log], max_bytes: 1024, keep: 2, copy_truncate: i % 2 === 0, postrotate: ['/bin/true'], reopen_wait_seconds: 0.1 } }, { type: 'log_rotate' }, i),
    );
    assertClean(r);
  });

  it('fix_permissions chmods and chowns no victim', async () => {
    const w = world();
    const data = path.join(w.managed, 'data');
    for (const n of ['top.txt', ...NAMES]) addVictim(w, n, { size: 100 });
    const files = oldFiles(0, 0o600);
    const top = { content: 'top\n', mode: 0o600 };
    const slots: Slot[] = [
      { path: data, victim: w.victims, bait: { kind: 'dir', files: { ...files, 'top.txt': top }, dirs: { sub: { files } } }, mode: 'pulse' },
      { path: path.join(data, 'sub'), victim: w.victims, bait: { kind: 'dir', files } },
      { path: path.join(data, 'top.txt'), victim: path.join(w.victims, 'top.txt'), bait: { kind: 'file', ...top } },
      { path: path.join(data, 'sub', 'f0'), victim: path.join(w.victims, 'f0'), bait: { kind: 'file', ...files.f0! } },
    ];
    const managed = {
      permissions: [
        { path: data, mode: '0755', recursive: true },
        { path: path.join(data, 'top.txt'), mode: '0644', owner: 'nobody', group: 'nogroup' },
      ],
    };
    const r = await raceLoop('fix_permissions', w, slots, ATTEMPTS, (i) => planAndRun(w, managed, { type: 'fix_permissions' }, i));
    assertClean(r);
  });

  it('cache_clear deletes no victim', async () => {
    const w = world();
    for (const n of NAMES) addVictim(w, n, { size: 100 });
    const cache = path.join(w.managed, 'cache');
    const r = await raceLoop('cache_clear', w, treeSlots(w, cache, oldFiles(0)), ATTEMPTS, (i) =>
      planAndRun(w, { cache_dirs: [cache] }, { type: 'cache_clear', redis: false }, i),
    );
    assertClean(r);
  });

  it('temp_file_cleanup deletes no victim', async () => {
    const w = world();
    for (const n of NAMES) addVictim(w, n, { size: 100, ageMs: 3 * HOUR_S * 1000 });
    const tmp = path.join(w.managed, 'tmp');
    const r = await raceLoop('temp_file_cleanup', w, treeSlots(w, tmp, oldFiles(3 * HOUR_S)), ATTEMPTS, (i) =>
      planAndRun(w, { temp_dirs: [tmp] }, { type: 'temp_file_cleanup', max_age_hours: 1 }, i),
    );
    assertClean(r);
  });

  it('old_file_cleanup deletes no victim', async () => {
    const w = world();
    for (const n of NAMES) addVictim(w, n, { size: 100, ageMs: 3 * DAY_S * 1000 });
    const old = path.join(w.managed, 'old');
    const r = await raceLoop('old_file_cleanup', w, treeSlots(w, old, oldFiles(3 * DAY_S)), ATTEMPTS, (i) =>
      planAndRun(w, { old_file_dirs: [old] }, { type: 'old_file_cleanup', max_age_days: 1 }, i),
    );
    assertClean(r);
  });

  it('create_missing_dirs creates, chmods and chowns nothing outside the roots', async () => {
    const w = world();
    addVictim(w, 'keep.txt', { size: 100 });
    const app = path.join(w.managed, 'app');
    const slots: Slot[] = [
      { path: app, victim: w.victims, bait: { kind: 'dir', prune: ['uploads/new', 'uploads'] }, mode: 'pulse' },
      { path: path.join(app, 'uploads'), victim: w.victims, bait: { kind: 'dir', prune: ['new'] } },
    ];
    const managed = { directories: { up: path.join(app, 'uploads', 'new') }, dir_mode: '0750', owner: 'nobody', group: 'nogroup' };
    const r = await raceLoop('create_missing_dirs', w, slots, ATTEMPTS, (i) => planAndRun(w, managed, { type: 'create_missing_dirs' }, i));
    assertClean(r);
  });

  it('backup_and_fix_json replaces, reads or chowns no victim', async () => {
    const w = world();
    addVictim(w, 'state.json', { json: true, size: 200 });
    addVictim(w, 'state.json.bak', { json: true, size: 200 });
    const data = path.join(w.managed, 'data');
    const corrupt = { content: '{"broken": ', mode: 0o644 };
    const bak = { content: '{"bait": true}\n', mode: 0o644 };
    const slots: Slot[] = [
      { path: data, victim: w.victims, bait: { kind: 'dir', files: { 'state.json': corrupt, 'state.json.bak': bak } }, mode: 'pulse' },
      { path: path.join(data, 'state.json'), victim: path.join(w.victims, 'state.json'), bait: { kind: 'file', ...corrupt }, mode: 'open' },
      { path: path.join(data, 'state.json.bak'), victim: path.join(w.victims, 'state.json.bak'), bait: { kind: 'file', ...bak }, mode: 'open' },
    ];
    const managed = { json_files: [{ path: path.join(data, 'state.json'), default_content: { fresh: true } }] };
    const r = await raceLoop('backup_and_fix_json', w, slots, ATTEMPTS, (i) => planAndRun(w, managed, { type: 'backup_and_fix_json' }, i));
    assertClean(r);
  });
});
