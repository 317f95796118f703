/**
 * The time-budgeted scan contains a regex that blows up on a line: the scan thread is terminated,
 * the guilty pattern found and disabled for that file only, the other patterns still detect
 * (before and after the hostile line, nothing lost), and the calling thread stays free all along.
 * The catastrophic pattern is given to the scanner directly: config load would refuse it.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ErrorPattern } from '../../src/config/schema';
import { ScanGuard } from '../../src/detection/budgeted-scan';
import { scanLogs } from '../../src/detection/log-scanner';
import { compileMatcher } from '../../src/detection/matcher';

const mk = (id: string, pattern: string): ErrorPattern => ({ id, name: id, pattern, flags: '', severity: 'error', auto_fix: false, actions: [], sources: ['log'], health_checks: [] });
/** 7th-degree backtracking: 75 s on a 102-character line, hours on the 200-character line below. */
const EVIL = mk('evil', 'x*x*x*x*x*x*y');
const DISK = mk('disk_full', 'No space left on device');
const BUDGET_MS = 1000;

let dir = '';
let guard: ScanGuard;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autofix-budget-'));
  guard = new ScanGuard();
});
after(async () => {
  await guard.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const count = (ds: Array<{ id: string; count: number; file?: string }>, id: string, file?: string) =>
  ds.filter((d) => d.id === id && (file === undefined || d.file === file)).reduce((n, d) => n + d.count, 0);

test('a pattern that blows up is contained: scan returns, the pattern is disabled for that file, the others detect', async () => {
  const hostile = path.join(dir, 'app.log');
  const calm = path.join(dir, 'other.log');
  const disk = 'OSError: [Errno 28] No space left on device\n';
  fs.writeFileSync(hostile, disk + 'x'.repeat(200) + '\n' + disk + disk);
  fs.writeFileSync(calm, disk + 'all x fine, xxy\n');

  // The calling thread stays free: a timer due in 100 ms fires while the scan is still running.
  let scanDone = false;
  const t0 = Date.now();
  const scanning = guard.scan({ files: [hostile, calm], cursors: {}, patterns: [EVIL, DISK], budgetMs: BUDGET_MS }).finally(() => (scanDone = true));
  const timerFiredDuringScan = await new Promise<boolean>((resolve) => setTimeout(() => resolve(!scanDone), 100));
  const r = await scanning;
  const elapsed = Date.now() - t0;

  assert.ok(timerFiredDuringScan, 'the event loop was blocked by the scan');
  // One budget for the stalled scan, one for the evil pattern's probe, and the rest: seconds, not hours.
  assert.ok(elapsed < 4 * BUDGET_MS + 5000, `scan took ${elapsed} ms`);
  assert.deepEqual(
    r.overruns.map((o) => [o.patternId, o.file]),
    [['evil', hostile]],
  );
  assert.match(r.overruns[0]?.reason ?? '', /alone took over 1000 ms/);
  assert.deepEqual(r.skipped, []);
  assert.equal(count(r.detections, 'disk_full', hostile), 3, 'lines before and after the hostile one');
  assert.equal(count(r.detections, 'disk_full', calm), 1);
  assert.equal(count(r.detections, 'evil', calm), 1, 'the pattern still runs on the other file');
  assert.equal(r.cursors[hostile]?.offset, fs.statSync(hostile).size);
  assert.equal(r.cursors[hostile]?.line, 4);

  // Later loops: the pattern stays disabled for that file (no new overrun), the scan continues.
  fs.appendFileSync(hostile, 'x'.repeat(200) + '\n' + disk);
  const again = await guard.scan({ files: [hostile], cursors: r.cursors, patterns: [EVIL, DISK], budgetMs: BUDGET_MS });
  assert.deepEqual(again.overruns, []);
  assert.deepEqual(guard.disabledFor(hostile, [EVIL, DISK]), ['evil']);
  assert.equal(count(again.detections, 'disk_full'), 1);
  assert.equal(again.detections[0]?.first_line, 6);
});

test('same detections and cursors as the in-process scanLogs when nothing stalls', async () => {
  const log = path.join(dir, 'mixed.log');
  const lines = ['INFO ok', 'Traceback (most recent call last):', '  File "a.py", line 1, in <module>', 'OSError: [Errno 28] No space left on device', 'INFO done'];
  fs.writeFileSync(log, Array.from({ length: 3000 }, (_, i) => lines[i % lines.length]).join('\n') + '\n' + 'partial');
  const patterns = [DISK, mk('python_exception', '^[A-Za-z_][\\w.]*(?:Error|Exception)(?:: |$)')];
  const a = await guard.scan({ files: [log], cursors: {}, patterns, budgetMs: BUDGET_MS * 5, maxLineBytes: 4096 });
  const b = await scanLogs({ files: [log], cursors: {}, matcher: compileMatcher(patterns), maxLineBytes: 4096 });
  assert.deepEqual(a.detections, b.detections);
  assert.deepEqual(a.cursors, b.cursors);
  assert.deepEqual(a.overruns, []);
});

test('an edited pattern gets a new chance; a missing file is an fs_not_found detection', async () => {
  const hostile = path.join(dir, 'app.log');
  const fixed = mk('evil', 'x+y'); // same id, new regex: no longer disabled
  assert.deepEqual(guard.disabledFor(hostile, [fixed]), []);
  const r = await guard.scan({ files: [hostile, path.join(dir, 'gone.log')], cursors: {}, patterns: [fixed, DISK], budgetMs: BUDGET_MS * 5 });
  assert.deepEqual(r.overruns, []);
  assert.equal(count(r.detections, 'disk_full', hostile), 4);
  assert.equal(count(r.detections, 'fs_not_found'), 1);
});

test("a stall in a rotated file's tail is traced to the renamed file and the right bytes", async () => {
  const log = path.join(dir, 'rot.log');
  const disk = 'OSError: [Errno 28] No space left on device\n';
  fs.writeFileSync(log, disk);
  const guardR = new ScanGuard();
  try {
    const first = await guardR.scan({ files: [log], cursors: {}, patterns: [EVIL, DISK], budgetMs: BUDGET_MS });
    fs.appendFileSync(log, 'x'.repeat(200) + '\n' + disk);
    fs.renameSync(log, `${log}.1`);
    fs.writeFileSync(log, disk);
    const r = await guardR.scan({ files: [log], cursors: first.cursors, patterns: [EVIL, DISK], budgetMs: BUDGET_MS });
    assert.deepEqual(
      r.overruns.map((o) => [o.patternId, o.file, o.region.file, o.region.start]),
      [['evil', log, `${log}.1`, disk.length]],
    );
    assert.equal(count(r.detections, 'disk_full'), 2, 'the rotated tail and the new file');
    assert.equal(r.cursors[log]?.offset, disk.length);
  } finally {
    await guardR.close();
  }
});
