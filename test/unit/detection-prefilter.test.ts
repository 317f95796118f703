/**
 * The chunk-level literal prefilter against naive references: the literal search against one
 * `indexOf` per literal, and whole scans against the per-line path (no prefilter) and a plain
 * per-line loop, on generated logs with every class, tracebacks split across chunk boundaries,
 * very long lines and CRLF.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/load';
import { compileMatcher } from '../../src/detection/matcher';
import { createLiteralSearch } from '../../src/detection/literal-search';
import { scanFilesFromStart } from '../../src/detection/log-scanner';
import type { Detection } from '../../src/detection/types';

const shipped = loadConfig(path.resolve(__dirname, '../../../config/error_patterns.json'));
// Every class in one mixed file: the shipped patterns without their `files` scopes (scoping is
// tested in detection-scanner.test.ts).
const cfg = { error_patterns: shipped.error_patterns.map(({ files: _files, ...p }) => p) };
let dir = '';
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autofix-prefilter-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Deterministic pseudo-random numbers (tests must not flake). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

const ORDINARY = [
  (i: number) => `2025-01-18 10:00:${String(i % 60).padStart(2, '0')},123 INFO app.views: request id=${i} error_count=0 duration_ms=${i % 250}`,
  (i: number) => `127.0.0.1 - - [18/Jan/2025:10:00:00 +0000] "GET /api/items/${i} HTTP/1.1" 200 ${i % 9999} "-" "Mozilla/5.0 (X11; Linux x86_64)"`,
  (i: number) => `10.0.0.${i % 255} - - [18/Jan/2025:10:00:01 +0000] "POST /api/500-club HTTP/1.1" 201 ${i % 512} "https://example.com/" "curl/8.1"`,
  () => '2025-01-18 10:00:02,789 INFO worker: certificate renewed, disk usage 45%, Errors=0 Exceptions=none',
  () => '    at Object.<anonymous> (/srv/app.js:1:1)',
  () => '',
];
const ERRORS = [
  '127.0.0.1 - - [18/Jan/2025 10:00:00] "GET /boom HTTP/1.1" 500 -',
  '127.0.0.1 - - [18/Jan/2025 10:00:00] "GET /nope HTTP/1.1" 404 -',
  '127.0.0.1 - - [18/Jan/2025 10:00:00] "GET /x HTTP/1.1" \x1b[35m\x1b[1m503\x1b[0m -',
  'Error: connect ECONNREFUSED 127.0.0.1:5432',
  "  code: 'ECONNREFUSED',",
  'Could not connect to Redis at 127.0.0.1:6379: Connection refused',
  "OSError: [Errno 28] No space left on device: '/srv/data/x'",
  '[12345.678] Out of memory: Killed process 1234 (python3) total-vm:2048000kB',
  'OSError: [Errno 98] Address already in use',
  'json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)',
  "PermissionError: [Errno 13] Permission denied: '/srv/data/app.json'",
  "FileNotFoundError: [Errno 2] No such file or directory: '/srv/data/x'",
  'curl: (60) SSL certificate problem: certificate has expired',
  'FATAL:  the database system is starting up',
  'ValueError: bad value',
  'something ENOSPC something', // \b around ENOSPC
  'xENOSPCx', // no word boundary: no match
];
const TRACEBACKS = [
  'Traceback (most recent call last):\n  File "/srv/app.py", line 12, in handler\n    raise ValueError("bad")\nValueError: bad',
  'Traceback (most recent call last):\n  File "a.py", line 1, in <module>\nMemoryError\n\nDuring handling of the above exception, another exception occurred:\n\nTraceback (most recent call last):\n  File "a.py", line 3, in <module>\nOSError: [Errno 28] No space left on device',
];

/** A mixed log: `n` lines, errors of every class, tracebacks, over-long lines, optional CRLF. */
function mixedLog(n: number, seed: number, opts: { crlf?: boolean; tracebacks?: boolean; longLines?: boolean } = {}): string {
  const r = rng(seed);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const x = r();
    if (x < 0.04) out.push(ERRORS[Math.floor(r() * ERRORS.length)] as string);
    else if (opts.tracebacks && x < 0.05) out.push(TRACEBACKS[Math.floor(r() * TRACEBACKS.length)] as string);
    else if (opts.longLines && x < 0.052) out.push('y'.repeat(2000 + Math.floor(r() * 3000)) + (r() < 0.5 ? ' ENOENT' : ''));
    else out.push((ORDINARY[Math.floor(r() * ORDINARY.length)] as (i: number) => string)(i));
  }
  const text = out.join('\n') + '\n';
  return opts.crlf ? text.replace(/\n/g, '\r\n') : text;
}

const summary = (ds: Detection[]) =>
  ds
    .map((d) => `${d.id} count=${d.count} lines=${d.first_line}-${d.last_line} samples=${JSON.stringify(d.samples)}`)
    .sort();

test('literal search finds exactly what one indexOf per literal finds', () => {
  const m = compileMatcher(cfg.error_patterns);
  const text = Buffer.from(mixedLog(3000, 1, { tracebacks: true }), 'utf8');
  m.calibrate(text);
  const extra = ['a', 'ab', 'Traceback', '" 5', 'xyzzy', '\x1b['];
  for (const literals of [m.literals, extra, [...m.literals, ...extra]]) {
    for (const sample of [text, undefined]) {
      const search = createLiteralSearch(literals, sample);
      for (const [start, end] of [[0, text.length], [17, text.length - 33], [1000, 1001]] as Array<[number, number]>) {
        const got: number[] = [];
        search.forEachHit(text, start, end, (p) => got.push(p));
        const want: number[] = [];
        for (const lit of new Set(literals)) {
          const b = Buffer.from(lit, 'latin1');
          for (let p = text.indexOf(b, start); p !== -1 && p + b.length <= end; p = text.indexOf(b, p + 1)) want.push(p);
        }
        assert.deepEqual(got.sort((a, b) => a - b), want.sort((a, b) => a - b), `${literals.length} literals [${start}, ${end})`);
      }
    }
  }
});

test('prefiltered scan = per-line scan (no prefilter): every class, tracebacks across chunk boundaries, long lines, CRLF', async () => {
  const cases: Array<[string, { crlf?: boolean; tracebacks?: boolean; longLines?: boolean }]> = [
    ['plain', {}],
    ['tracebacks', { tracebacks: true }],
    ['long', { tracebacks: true, longLines: true }],
    ['crlf', { tracebacks: true, crlf: true }],
  ];
  for (const [name, opts] of cases) {
    const file = path.join(dir, `${name}.log`);
    fs.writeFileSync(file, mixedLog(6000, name.length, opts));
    const reference = summary(await scanFilesFromStart([file], compileMatcher(cfg.error_patterns, { prefilter: false }), { chunkBytes: 1 << 24, maxLineBytes: 4096 }));
    assert.ok(reference.length >= 12, `${name}: every class present (${reference.length})`);
    for (const chunkBytes of [4096, 4099, 65536, 1 << 20]) {
      const got = summary(await scanFilesFromStart([file], compileMatcher(cfg.error_patterns), { chunkBytes, maxLineBytes: 4096 }));
      assert.deepEqual(got, reference, `${name}, chunk ${chunkBytes}`);
    }
  }
});

test('without tracebacks, events = lines a plain per-line loop classifies', async () => {
  const text = mixedLog(8000, 7, { longLines: true });
  const file = path.join(dir, 'flat.log');
  fs.writeFileSync(file, text);
  const m = compileMatcher(cfg.error_patterns);
  const want = new Map<string, number>();
  for (const line of text.split('\n').slice(0, -1)) {
    const p = m.classifyLine(line.slice(0, 65536));
    if (p) want.set(p.id, (want.get(p.id) ?? 0) + 1);
  }
  const got = await scanFilesFromStart([file], compileMatcher(cfg.error_patterns), { chunkBytes: 8192 });
  assert.deepEqual(new Map(got.map((d) => [d.id, d.count])), want);
});

test('bench peer: the default patterns converted to POSIX ERE match the same lines under GNU grep -E', async (t) => {
  const { toEre, NotConvertible } = await import('../../bench/scan');
  if (spawnSync('grep', ['--version']).status !== 0) return t.skip('no grep');
  const lines = mixedLog(3000, 3).split('\n').slice(0, -1);
  const file = path.join(dir, 'ere.log');
  fs.writeFileSync(file, lines.join('\n') + '\n');
  for (const p of cfg.error_patterns) {
    const ere = path.join(dir, 'p.ere');
    fs.writeFileSync(ere, toEre(p.pattern) + '\n');
    const r = spawnSync('grep', ['-E', '-c', '-f', ere, file], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
    const re = new RegExp(p.pattern);
    assert.equal(Number(r.stdout.trim()), lines.filter((l) => re.test(l)).length, p.id);
  }
  assert.equal(toEre('[\\d.:\\[\\]a-f]+\\S(?:x|y)', false), '[]0-9.:[a-f]+[^[:space:]](x|y)');
  assert.equal(toEre('disk full', true), '[dD][iI][sS][kK] [fF][uU][lL][lL]');
  assert.throws(() => toEre('foo(?=bar)'), NotConvertible);
  assert.throws(() => toEre('(a)\\1'), NotConvertible);
});
