/** Backup retention: oldest first down to the size limit, anything past the age limit, never the last hour or an unfinished spill. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { backupTargets } from '../../src/backup';
import { listBackups, planPrune, pruneBackups, RECENT_MS, type RunBackups } from '../../src/backup/retention';
import { makeFixture, writeFile } from './actions-files-fixture';

const MB = 1024 * 1024;
const HOUR = 3600_000;
const unit = (name: string, ageMs: number, bytes: number, extra: Partial<RunBackups> = {}): RunBackups => ({
  incidentId: name,
  runId: 'r',
  dir: `/store/${name}/r`,
  createdMs: 1_000_000_000_000 - ageMs,
  bytes,
  steps: [],
  other: [],
  partial: false,
  pendingSpill: false,
  ...extra,
});

test('planPrune: past max_age_days, then oldest first down to max_total_mb; the last hour and unfinished spills are kept', () => {
  const now = 1_000_000_000_000;
  const list = [unit('young', 10 * 60_000, 900 * MB), unit('a', 5 * HOUR, 300 * MB), unit('b', 4 * HOUR, 300 * MB), unit('spill', 30 * 24 * HOUR, 50 * MB, { pendingSpill: true }), unit('ancient', 20 * 24 * HOUR, 1 * MB)];
  const pruned = planPrune(list, { maxAgeDays: 14, maxTotalMb: 1000 }, now);
  assert.deepEqual(
    pruned.map((p) => [p.unit.incidentId, p.why.split(' ')[0]]),
    [
      ['ancient', 'older'],
      ['a', 'the'],
      ['b', 'the'],
    ],
  );
  assert.ok(RECENT_MS <= HOUR);
});

test('pruneBackups removes the run folders (and an emptied incident folder) from a real store', async () => {
  const fx = makeFixture();
  try {
    const store = path.join(fx.dataDir, 'backups');
    const f = writeFile(path.join(fx.root, 'x.bin'), Buffer.alloc(64 * 1024, 1));
    const old = await backupTargets([{ path: f }], { backupRoot: store, incidentId: 'inc-old', runId: 'r1', label: '00-x', roots: [fx.root] });
    await backupTargets([{ path: f }], { backupRoot: store, incidentId: 'inc-new', runId: 'r2', label: '00-x', roots: [fx.root] });
    const m = JSON.parse(fs.readFileSync(old.manifestPath, 'utf8')) as { createdAt: string };
    m.createdAt = new Date(Date.now() - 2 * HOUR).toISOString();
    fs.writeFileSync(old.manifestPath, JSON.stringify(m));
    const listed = await listBackups(store);
    assert.deepEqual(listed.map((u) => u.incidentId), ['inc-old', 'inc-new']);
    assert.ok(listed[0]!.bytes >= 64 * 1024);
    const pruned = await pruneBackups(store, { maxAgeDays: 14, maxTotalMb: 0.1 });
    assert.deepEqual(pruned.map((p) => p.unit.incidentId), ['inc-old']);
    assert.deepEqual(fs.readdirSync(store), ['inc-new']);
  } finally {
    fx.cleanup();
  }
});
