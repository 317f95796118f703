/**
 * Tail semantics and log positions on disk: a log seen for the first time is read from its end,
 * new files and rotations are still read whole, the disk copy is 0600 in a 0700 folder, and the
 * choice between it and the workflow state (cursor-store.ts) holds for one-shot runs, restarted
 * daemons, retried loops and continue-as-new.
 */
import { afterEach, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../src/config/load';
import type { Config } from '../../src/config/schema';
import { detectLoop, type DetectInput } from '../../src/activities/detect';
import { scanLogs } from '../../src/detection/log-scanner';
import { compileMatcher } from '../../src/detection/matcher';
import { cursorFile, readCursorRecord, startingCursors, writeCursorRecord, type CursorRecord } from '../../src/detection/cursor-store';

const ERR = (n: number) => `2025-12-28 10:30:${String(n % 60).padStart(2, '0')} ERROR could not connect to server #${n}\n`;
let dir = '';
let log = '';
let cfg: Config;
const matcher = () => compileMatcher(cfg.error_patterns);

beforeEach(() => {
  dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autofix-tail-')));
  log = path.join(dir, 'logs', 'app.log');
  fs.mkdirSync(path.dirname(log));
  cfg = parseConfig(
    {
      error_patterns: [{ id: 'db_connection', name: 'DB', pattern: 'could not connect to server', severity: 'critical' }],
      daemon: { data_dir: path.join(dir, 'state-dir'), log_file: path.join(dir, 'own', 'auto_fix.log') },
      watch: { logs: [path.join(dir, 'logs', '*.log')] },
      health_checks: { postgres: { enabled: false }, redis: { enabled: false }, disk: { enabled: false }, memory: { enabled: false } },
    },
    path.join(dir, 'error_patterns.json'),
    {},
  );
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const lines = (from: number, n: number) => Array.from({ length: n }, (_, i) => ERR(from + i)).join('');
const events = (ds: Array<{ count: number }>) => ds.reduce((n, d) => n + d.count, 0);

test('start at the end: 40 old lines are the past; the next line is line 41', async () => {
  fs.writeFileSync(log, lines(1, 40));
  const a = await scanLogs({ files: [log], cursors: {}, matcher: matcher(), startAt: 'end' });
  assert.deepEqual(a.detections, []);
  assert.deepEqual({ offset: a.cursors[log]?.offset, line: a.cursors[log]?.line }, { offset: fs.statSync(log).size, line: 40 });
  assert.deepEqual(a.starts[log]?.line, 40);
  fs.appendFileSync(log, ERR(41));
  const b = await scanLogs({ files: [log], cursors: a.cursors, matcher: matcher(), startAt: 'end' });
  assert.deepEqual(b.detections.map((d) => [d.count, d.first_line]), [[1, 41]]);
  // 'beginning' reads what is there.
  const c = await scanLogs({ files: [log], cursors: {}, matcher: matcher(), startAt: 'beginning' });
  assert.equal(events(c.detections), 41);
});

test('a line being written when the file is first seen is read once it is complete', async () => {
  fs.writeFileSync(log, ERR(1) + '2025-12-28 ERROR could not conn');
  const a = await scanLogs({ files: [log], cursors: {}, matcher: matcher(), startAt: 'end' });
  assert.equal(a.cursors[log]?.offset, ERR(1).length);
  fs.appendFileSync(log, 'ect to server\n');
  const b = await scanLogs({ files: [log], cursors: a.cursors, matcher: matcher(), startAt: 'end' });
  assert.deepEqual(b.detections.map((d) => d.first_line), [2]);
});

test('a file born since the last scan is new: read from its beginning; an older one from its end', async () => {
  const old = path.join(dir, 'logs', 'old.log');
  fs.writeFileSync(old, lines(1, 5));
  const since = Date.now() + 5;
  await new Promise((r) => setTimeout(r, 20));
  fs.writeFileSync(log, lines(10, 3)); // e.g. the app started and crashed into a fresh log
  const r = await scanLogs({ files: [path.join(dir, 'logs', '*.log')], cursors: {}, matcher: matcher(), startAt: 'end', newSince: since });
  assert.deepEqual(r.detections.map((d) => [path.basename(d.file ?? ''), d.count]), [['app.log', 3]]);
});

test('a rotated file whose successor does not exist yet is finished, not lost', async () => {
  fs.writeFileSync(log, ERR(1));
  const a = await scanLogs({ files: [path.join(dir, 'logs', '*.log')], cursors: {}, matcher: matcher(), startAt: 'beginning' });
  fs.appendFileSync(log, ERR(2) + ERR(3)); // written after the scan, then rotated (Python's RotatingFileHandler)
  fs.renameSync(log, `${log}.1`);
  const b = await scanLogs({ files: [path.join(dir, 'logs', '*.log')], cursors: a.cursors, matcher: matcher(), startAt: 'end' });
  assert.deepEqual(b.detections.map((d) => [d.file, d.count, d.first_line]), [[`${log}.1`, 2, 2]]);
  assert.deepEqual(b.cursors, {});
});

test('the disk copy is 0600 in a 0700 folder; a corrupt one is reported, not trusted', async () => {
  const rec: CursorRecord = { v: 1, at: 1, from: {}, to: { [log]: { dev: 1, ino: 2, offset: 3, line: 1 } } };
  await writeCursorRecord(cfg.daemon.data_dir, rec);
  const file = cursorFile(cfg.daemon.data_dir);
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
  assert.deepEqual((await readCursorRecord(cfg.daemon.data_dir)).record, { ...rec, signatures: {} });
  fs.writeFileSync(file, '{"v": 1, "at": "yesterday"}');
  assert.match((await readCursorRecord(cfg.daemon.data_dir)).problem ?? '', /not a cursor record/);
  assert.deepEqual(await readCursorRecord(path.join(dir, 'nowhere')), {});
});

test('which cursors a loop starts from: disk seed, retry, workflow state', () => {
  const c = (offset: number) => ({ [log]: { dev: 1, ino: 2, offset, line: offset } });
  const by = { workflowId: 'd', runId: 'r1', iteration: 1, loop: 1 };
  const rec: CursorRecord = { v: 1, at: 500, since: 100, by, from: c(10), to: c(20) };
  // A new run (daemon started again, or a one-shot run) seeds from where the last scan stopped.
  assert.deepEqual(startingCursors({ identity: { ...by, runId: 'r2' }, cursors: {} }, rec), { from: c(20) });
  assert.deepEqual(startingCursors({ identity: { ...by, runId: 'r2' }, cursors: {} }, undefined), { from: {} });
  // The same loop again (the worker was killed after the scan): from where that attempt started.
  assert.deepEqual(startingCursors({ identity: by, cursors: {} }, rec), { from: c(10), since: 100 });
  // Later loops of the run and every loop after continue-as-new: the workflow state, never the disk.
  assert.deepEqual(startingCursors({ identity: { ...by, loop: 2 }, cursors: c(20) }, rec), { from: c(20), since: 500 });
  assert.deepEqual(startingCursors({ identity: { ...by, loop: 2 }, cursors: {} }, rec), { from: {}, since: 500 });
  assert.deepEqual(startingCursors({ identity: { ...by, runId: 'r3', iteration: 2 }, cursors: c(15) }, rec), { from: c(15), since: 500 });
});

/** One loop as the daemon runs it. */
async function loop(runId: string, n: number, cursors: DetectInput['cursors'] = {}, iteration = 1) {
  return detectLoop(cfg, { cursors, checks: [], iteration, loop: n, host: 't' }, { workflowId: `d-${runId}`, runId });
}

test('one-shot runs and a restarted daemon continue where the last scan stopped; a retried loop loses nothing', async () => {
  fs.writeFileSync(log, lines(1, 40));
  // First one-shot run ever: the 40 lines are the past.
  assert.equal(events((await loop('once-1', 1)).detections), 0);
  fs.appendFileSync(log, ERR(41) + ERR(42));
  // Second one-shot run: exactly the two lines written since.
  const second = await loop('once-2', 1);
  assert.deepEqual(second.detections.map((d) => [d.count, d.first_line, d.last_line]), [[2, 41, 42]]);
  // Its worker was killed after the scan, before the result was recorded: the retry sees them again.
  fs.appendFileSync(log, ERR(43));
  const retry = await loop('once-2', 1);
  assert.deepEqual(retry.detections.map((d) => [d.count, d.first_line, d.last_line]), [[3, 41, 43]]);
  // A daemon: its loops follow its own state; loop 2 starts where the recorded loop 1 stopped.
  const d1 = await loop('daemon', 1);
  assert.equal(events(d1.detections), 0);
  fs.appendFileSync(log, ERR(44));
  const d2 = await loop('daemon', 2, d1.cursors);
  assert.deepEqual(d2.detections.map((d) => d.first_line), [44]);
  // Stopped; a line is written meanwhile; a new daemon continues where the old one was.
  fs.appendFileSync(log, ERR(45));
  const again = await loop('daemon-2', 1);
  assert.deepEqual(again.detections.map((d) => d.first_line), [45]);
  // Truncated while nobody watched: read from 0.
  fs.writeFileSync(log, ERR(1));
  assert.deepEqual((await loop('once-3', 1)).detections.map((d) => d.first_line), [1]);
});

test("copytruncate while stopped, the file regrown past the old position: read from 0, not from mid-content", async () => {
  fs.writeFileSync(log, lines(1, 40));
  const first = await loop('before', 1);
  assert.equal(events(first.detections), 0);
  // logrotate copytruncate: same inode, emptied, then more written than there was before.
  fs.copyFileSync(log, `${log}.1`);
  fs.truncateSync(log, 0);
  fs.appendFileSync(log, lines(100, 50).replace(/#/g, 'after-rotation #'));
  const after = await loop('after', 1);
  assert.deepEqual(after.detections.map((d) => [d.file, d.count, d.first_line]), [[log, 50, 1]]);
  // Appending (the common case) keeps the position: the fingerprint still matches.
  fs.appendFileSync(log, ERR(200));
  const next = await loop('after', 2, after.cursors);
  assert.deepEqual(next.detections.map((d) => [d.count, d.first_line]), [[1, 51]]);
});
