/** The incremental scanner on real files: cursors, rotation, truncation, partial and long lines, binary data. */
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, parseConfig } from '../../src/config/load';
import { compileMatcher } from '../../src/detection/matcher';
import { scanLogs } from '../../src/detection/log-scanner';
import { checkJsonFiles } from '../../src/detection/json-check';
import { checkPatternSafety } from '../../src/detection/pattern-safety';
import { requiredLiterals } from '../../src/detection/literals';
import type { LogCursors } from '../../src/detection/types';

const cfg = loadConfig(path.resolve(__dirname, '../../../config/error_patterns.json'));
const matcher = compileMatcher(cfg.error_patterns);
const ERR = 'Error: connect ECONNREFUSED 127.0.0.1:5432\n';
const OK = 'INFO request done error_count=0\n';
let dir = '';
let log = '';

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autofix-'));
  log = path.join(dir, 'app.log');
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

async function scan(cursors: LogCursors, extra: { maxLineBytes?: number; chunkBytes?: number } = {}) {
  return scanLogs({ files: [log], cursors, matcher, ...extra });
}
const count = (ds: Array<{ id: string; count: number }>, id: string) => ds.find((d) => d.id === id)?.count ?? 0;

test('cursor continuation: appended lines only are counted, line numbers continue', async () => {
  fs.writeFileSync(log, OK + ERR + ERR);
  const a = await scan({});
  assert.equal(count(a.detections, 'db_connection'), 2);
  assert.equal(a.cursors[log]?.line, 3);
  fs.appendFileSync(log, OK + ERR);
  const b = await scan(a.cursors);
  assert.equal(count(b.detections, 'db_connection'), 1);
  assert.equal(b.detections[0]?.first_line, 5);
  const c = await scan(b.cursors);
  assert.deepEqual(c.detections, []);
});

test('partial last line waits for its newline', async () => {
  fs.writeFileSync(log, OK + 'Error: connect ECONN');
  const a = await scan({});
  assert.deepEqual(a.detections, []);
  assert.equal(a.cursors[log]?.offset, OK.length);
  fs.appendFileSync(log, 'REFUSED 127.0.0.1:5432\n');
  const b = await scan(a.cursors);
  assert.equal(count(b.detections, 'db_connection'), 1);
  assert.equal(b.detections[0]?.first_line, 2);
});

test('rotation: the rest of the renamed file, then the new file from 0', async () => {
  fs.writeFileSync(log, ERR);
  const a = await scan({});
  fs.appendFileSync(log, ERR + ERR); // written after the scan, before rotation
  fs.renameSync(log, log + '.1');
  fs.writeFileSync(log, ERR);
  const b = await scan(a.cursors);
  const byFile = Object.fromEntries(b.detections.map((d) => [d.file, d.count]));
  assert.deepEqual(byFile, { [log + '.1']: 2, [log]: 1 });
  assert.equal(b.cursors[log]?.line, 1);
});

test('truncation restarts at 0', async () => {
  fs.writeFileSync(log, OK + OK + ERR);
  const a = await scan({});
  fs.truncateSync(log, 0);
  fs.appendFileSync(log, ERR);
  const b = await scan(a.cursors);
  assert.equal(count(b.detections, 'db_connection'), 1);
  assert.equal(b.detections[0]?.first_line, 1);
});

test('an over-long line is cut, not buffered, and counted once; small chunks change nothing', async () => {
  const long = 'x'.repeat(300_000) + ' No space left on device\n';
  fs.writeFileSync(log, ERR + long + 'ENOSPC: no space left on device, write\n' + ERR);
  const a = await scan({}, { maxLineBytes: 1024, chunkBytes: 4096 });
  assert.equal(count(a.detections, 'db_connection'), 2);
  assert.equal(count(a.detections, 'disk_full'), 1); // the long line's match lies beyond the cut
  assert.equal(a.cursors[log]?.line, 4);
  assert.equal(a.cursors[log]?.offset, fs.statSync(log).size);
});

test('binary bytes and invalid UTF-8 do not crash and do not hide later errors', async () => {
  fs.writeFileSync(log, Buffer.concat([Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0x0a, 0x80, 0x81]), Buffer.from('\n' + ERR)]));
  const a = await scan({});
  assert.equal(count(a.detections, 'db_connection'), 1);
  assert.equal(a.detections[0]?.first_line, 3);
});

test('a traceback cut at the end of the file is re-read whole on the next scan', async () => {
  fs.writeFileSync(log, OK + 'Traceback (most recent call last):\n  File "a.py", line 1, in <module>\n');
  const a = await scan({});
  assert.deepEqual(a.detections, []);
  assert.equal(a.cursors[log]?.line, 1);
  fs.appendFileSync(log, 'MemoryError\n');
  const b = await scan(a.cursors);
  assert.equal(count(b.detections, 'memory_error'), 1);
  assert.equal(b.detections[0]?.first_line, 2);
});

test('missing watched file → fs_not_found about it; an empty glob is no error', async () => {
  const r = await scanLogs({ files: [path.join(dir, 'gone.log'), path.join(dir, 'none', '*.log')], cursors: {}, matcher });
  assert.equal(r.detections.length, 1);
  assert.equal(r.detections[0]?.id, 'fs_not_found');
  assert.equal(r.detections[0]?.file, path.join(dir, 'gone.log'));
  fs.mkdirSync(path.join(dir, 'a', 'b'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'a', 'b', 'deep.log'), ERR);
  const g = await scanLogs({ files: [path.join(dir, '**', '*.log')], cursors: {}, matcher });
  assert.equal(g.detections[0]?.file, path.join(dir, 'a', 'b', 'deep.log'));
});

test('pattern safety refuses catastrophic shapes, in config load too', () => {
  for (const bad of ['(a+)+$', '(\\w+\\s?)*$', '(?:(x)\\1)+$', '.*a.*b.*c', 'x*x*x*x*x*x*y', '.{0,9999}a.{0,9999}b.{0,9999}c']) {
    assert.equal(checkPatternSafety(bad, '').safe, false, bad);
  }
  for (const p of cfg.error_patterns) assert.equal(checkPatternSafety(p.pattern, p.flags).safe, true, p.id);
  assert.throws(() => parseConfig({ error_patterns: [{ id: 'x', name: 'x', pattern: '(a+)+b', severity: 'error' }] }, path.join(dir, 'c.json')), /exponential.*attack string: /);
});

test('literal prefilter: required literals, the i flag, and no prefilter when unsure', () => {
  assert.deepEqual(requiredLiterals('ECONNREFUSED [\\d.]+:6379', '').clauses, [['ECONNREFUSED '], [':6379']]);
  assert.deepEqual(requiredLiterals('[Cc]onnection (?:re)?fused', 'i').clauses, [['connection refused', 'connection fused']]);
  assert.deepEqual(requiredLiterals('\\d+ errors?', '').clauses, [[' errors', ' error']]);
  assert.deepEqual(requiredLiterals('a.b|\\w+', '').clauses, []);
  const m = compileMatcher([{ id: 'x', name: 'x', pattern: 'disk FULL', flags: 'i', severity: 'error', auto_fix: false, actions: [], sources: ['log'], health_checks: [] }]);
  assert.equal(m.classifyLine('ALERT: Disk Full on /')?.id, 'x');
});

test('JSON checks: corrupt file named with line and column; missing file skipped', async () => {
  const good = path.join(dir, 'good.json');
  const bad = path.join(dir, 'bad.json');
  fs.writeFileSync(good, '{"a": 1}');
  fs.writeFileSync(bad, '{\n  "a": 1,\n  "b": }\n');
  const ds = await checkJsonFiles([path.join(dir, '*.json'), path.join(dir, 'missing.json')], cfg.error_patterns);
  assert.equal(ds.length, 1);
  assert.equal(ds[0]?.id, 'json_parse');
  assert.equal(ds[0]?.source, 'json');
  assert.equal(ds[0]?.file, bad);
  assert.equal(ds[0]?.first_line, 3);
  assert.match(ds[0]?.samples[0] ?? '', /line 3, column 8/);
});
