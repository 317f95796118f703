/**
 * The parallel `scanFilesFromStart` (parallel-scan.ts) against the single-threaded scan: identical
 * detections (ids, counts, first/last line, samples, order) on generated logs with every class,
 * tracebacks across the split points, very long lines, CRLF, binary bytes; and the split rule.
 */
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/load';
import { compileMatcher } from '../../src/detection/matcher';
import { scanFilesFromStart } from '../../src/detection/log-scanner';
import { chooseRangeStarts, findSyncPoint, scanFileParallel } from '../../src/detection/parallel-scan';
import { DetectionCollector } from '../../src/detection/collector';
import { isPlainLine } from '../../src/detection/line-classifier';
import type { Detection } from '../../src/detection/types';

const cfg = loadConfig(path.resolve(__dirname, '../../../config/error_patterns.json'));
// Every class in one mixed file: the shipped patterns without their `files` scopes (scoping is
// tested in detection-scanner.test.ts).
const patterns = cfg.error_patterns.map(({ files: _files, ...p }) => p);
let dir = '';

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autofix-par-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TB = (exc: string) => ['Traceback (most recent call last):', '  File "/srv/app.py", line 12, in handler', '    raise X()', exc];
const EVENTS: Array<(i: number) => string[]> = [
  (i) => [`127.0.0.1 - - [18/Jan/2025 10:00:00] "GET /boom/${i} HTTP/1.1" 500 -`],
  (i) => [`127.0.0.1 - - [18/Jan/2025 10:00:00] "GET /nope/${i} HTTP/1.1" 404 -`],
  () => ['Error: connect ECONNREFUSED 127.0.0.1:5432', "  code: 'ECONNREFUSED',"],
  () => ['Could not connect to Redis at 127.0.0.1:6379: Connection refused'],
  (i) => [`OSError: [Errno 28] No space left on device: '/srv/data/${i}'`],
  () => ['[12345.678] Out of memory: Killed process 1234 (python3) total-vm:2048000kB'],
  () => ['OSError: [Errno 98] Address already in use'],
  () => ['json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)'],
  () => ["PermissionError: [Errno 13] Permission denied: '/srv/data/app.json'"],
  () => ["FileNotFoundError: [Errno 2] No such file or directory: '/srv/data/x'"],
  () => ['curl: (60) SSL certificate problem: certificate has expired'],
  (i) => TB(`ValueError: bad ${i}`),
  () => TB('redis.exceptions.ConnectionError: Error 111 connecting to localhost:6379. Connection refused.'),
  () => [...TB('KeyError: 1'), '', 'During handling of the above exception, another exception occurred:', '', ...TB('MemoryError')],
  (i) => [...TB(`RuntimeError: ${i}`), '', '   ', ''], // blank lines after the exception line
  () => ['Traceback (most recent call last):', '  File "x.py", line 1', '    f(', '    ^^^^', 'SyntaxError: invalid syntax'],
  () => ['  File "/orphan.py", line 3, in f', '    indented line outside a traceback', 'ValueError: orphan exception line'],
  () => ['', '', '\t tabbed', ''],
];
const ORDINARY = (i: number) =>
  i % 3 === 0
    ? `2025-01-18 10:00:00,123 INFO app.views: request id=${i} error_count=0 duration_ms=${i % 250}`
    : `10.0.0.${i % 255} - - [18/Jan/2025:10:00:01 +0000] "GET /api/items/${i} HTTP/1.1" 200 ${i % 512} "-" "curl/8.1"`;

/**
 * A log of about `bytes`: ordinary lines and, with probability `errorRate` per line, an event of
 * any class; some lines CRLF, some very long (a match before and beyond the cut), some binary.
 */
function generate(file: string, bytes: number, seed: number, errorRate: number): void {
  const r = rng(seed);
  const parts: Buffer[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    let lines: string[];
    const x = r();
    if (x < errorRate) lines = (EVENTS[Math.floor(r() * EVENTS.length)] as (i: number) => string[])(i);
    else if (x < errorRate + 0.002) lines = ['x'.repeat(70_000 + Math.floor(r() * 100_000)) + ' No space left on device'];
    else if (x < errorRate + 0.004) lines = ['ENOSPC: no space left on device, write ' + 'y'.repeat(80_000)];
    else if (x < errorRate + 0.005) {
      const b = Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0x0a, 0x80, 0x81, 0x0a]);
      parts.push(b);
      size += b.length;
      continue;
    } else lines = [ORDINARY(i)];
    const crlf = r() < 0.1;
    const b = Buffer.from(lines.map((l) => l + (crlf ? '\r\n' : '\n')).join(''));
    parts.push(b);
    size += b.length;
  }
  // End inside a traceback, with an unterminated last line.
  parts.push(Buffer.from('Traceback (most recent call last):\n  File "end.py", line 1\nMemoryError\nunterminated'));
  fs.writeFileSync(file, Buffer.concat(parts));
}

async function single(file: string, extra: { maxLineBytes?: number; chunkBytes?: number } = {}) {
  return scanFilesFromStart([file], compileMatcher(patterns), { ...extra, workers: 1 });
}
async function parallel(file: string, workers: number, extra: { maxLineBytes?: number; chunkBytes?: number } = {}) {
  return scanFilesFromStart([file], compileMatcher(patterns), { ...extra, workers, parallelMinBytes: 0 });
}

test('parallel = single-threaded: every class, long lines, CRLF, binary; 2 and 3 workers', async () => {
  const log = path.join(dir, 'mixed.log');
  generate(log, 3 * 1024 * 1024, 1, 0.01);
  const a = await single(log);
  assert.ok(a.length >= 12, `classes seen: ${a.map((d) => d.id).join(',')}`);
  assert.deepEqual(await parallel(log, 2), a);
  assert.deepEqual(await parallel(log, 3), a);
  // The parallel path really ran (not a fallback) and merges to the same list.
  const c = new DetectionCollector();
  assert.equal(await scanFileParallel(log, fs.statSync(log).size, compileMatcher(patterns), { workers: 2 }, c), true);
  assert.deepEqual(c.list(), a);
});

test('parallel = single-threaded with small chunks and a small line cap', async () => {
  const log = path.join(dir, 'small-chunks.log');
  generate(log, 1024 * 1024, 2, 0.02);
  const extra = { maxLineBytes: 1024, chunkBytes: 4096 };
  const a = await single(log, extra);
  assert.deepEqual(await parallel(log, 2, extra), a);
});

test('tracebacks across the split points count once, with the right lines and samples', async () => {
  // Mostly events (half of them multi-line tracebacks): nominal split points land inside them.
  for (const seed of [3, 4, 5, 6]) {
    const log = path.join(dir, `tb-${seed}.log`);
    generate(log, 512 * 1024 + seed * 7919, seed, 0.7);
    const size = fs.statSync(log).size;
    const starts = await chooseRangeStarts(log, size, 8, 64 * 1024);
    assert.ok(starts.length >= 4, `ranges: ${starts.length}`);
    const a = await single(log);
    assert.deepEqual(await parallel(log, 2), a, `seed ${seed}`);
  }
});

test('split rule: a range starts after two plain lines, never inside a traceback', async () => {
  const text =
    'ordinary 1\nTraceback (most recent call last):\n  File "a.py", line 1, in f\n    g()\n\n' +
    'During handling of the above exception, another exception occurred:\n\n' +
    'Traceback (most recent call last):\n  File "b.py", line 2\nValueError: bad\n\n' +
    'next 1\nnext 2\n';
  const buf = Buffer.from(text);
  // From inside the first body: "ValueError: bad" is plain but a blank line follows it, so
  // P = "next 1" and L = "next 2".
  const from = text.indexOf('  File "a.py"') + 3;
  assert.equal(findSyncPoint(buf.subarray(from), from, 65536), text.indexOf('next 2'));
  // An exception line directly followed by a plain line: L is that plain line.
  const t2 = 'x\n    raise X()\nKeyError: 1\nnext 1\n';
  assert.equal(findSyncPoint(Buffer.from(t2), 0, 65536), t2.indexOf('next 1'));
  // Only indented/blank/header/chain lines: no sync point (the split is dropped).
  const t3 = 'a\n  b\n\nTraceback (most recent call last):\n\tc\nDuring handling of the above exception, x\nz\n  y\n';
  assert.equal(findSyncPoint(Buffer.from(t3), 0, 65536), undefined);
  // Plain = not blank, not indented, not a header (bytes or text), not a chain line; CR ignored.
  const plain = (s: string) => isPlainLine(Buffer.from(s + '\n'), 0, Buffer.byteLength(s), 65536);
  assert.deepEqual(
    ['ValueError: x', 'ok\r', '\r', ' x', '\tx', '', 'Traceback (most recent call last):', 'The above exception was the direct cause of'].map(plain),
    [true, true, false, false, false, false, false, false],
  );
});

test('a split window with no sync point merges the ranges; results still equal', async () => {
  const log = path.join(dir, 'indented.log');
  const body = Array.from({ length: 40_000 }, (_, i) => `    indented ${i}`).join('\n');
  fs.writeFileSync(log, `Error: connect ECONNREFUSED 127.0.0.1:5432\n${body}\nOSError: [Errno 98] Address already in use\n`);
  const size = fs.statSync(log).size;
  assert.deepEqual(await chooseRangeStarts(log, size, 4, 65536), [0]);
  const c = new DetectionCollector();
  assert.equal(await scanFileParallel(log, size, compileMatcher(patterns), { workers: 2 }, c), false);
  assert.deepEqual(c.list(), []);
  assert.deepEqual(await parallel(log, 2), await single(log));
});

test('merge: counts add, first line/sample from the earliest range, last from the latest', () => {
  const c = new DetectionCollector();
  const d = (first: number, last: number, count: number, samples: string[]): Detection => ({
    id: 'x',
    name: 'x',
    severity: 'error',
    count,
    source: 'log',
    file: '/f',
    first_line: first,
    last_line: last,
    samples,
  });
  c.merge(d(3, 3, 1, ['a']), 0);
  c.merge(d(2, 9, 2, ['b', 'c']), 100);
  c.merge(d(1, 1, 1, ['e']), 200);
  assert.deepEqual(c.list(), [{ id: 'x', name: 'x', severity: 'error', count: 4, source: 'log', file: '/f', first_line: 3, last_line: 201, samples: ['a', 'e'] }]);
});
