/**
 * Benchmark of `autofix scan` against GNU grep on the same patterns.
 *
 *   node dist/bench/scan.js [--size-mb 1024] [--runs 2]
 *
 * Generates a mixed log (mostly ordinary lines, ~0.2% errors of every class) in a temp dir and, in
 * one run, times (best of --runs, the file read once before each timed run so it is page-cached):
 *
 * - `LC_ALL=C grep -E -c -f FILE`: the default patterns converted mechanically to POSIX ERE
 *   (`toEre`), one per line (the peer the spec names);
 * - `LC_ALL=C grep -P -c` with the patterns joined as one PCRE alternation (second peer line);
 * - `bin/autofix scan --json` under `/usr/bin/time -v` (peak RSS; big files are scanned on
 *   min(cores, 2) worker threads), the same with `--workers 1` (one thread), plus its startup
 *   alone on an empty file, so the scan's own throughput can be read off too.
 *
 * It also times the daemon's incremental scan of the same file (one thread): `scanLogs` in the
 * calling thread (as before the time budget) against `ScanGuard.scan` (the same scan in a worker
 * thread under the time budget, what the daemon runs since), and loading the config with the
 * ReDoS analysis cold (empty verdict cache) and cached.
 *
 * Prints the throughputs, the ratios and peak RSS, checks that the three count the same, and, on
 * a second small log without multi-line tracebacks, that grep -E's matching lines = autofix's
 * events. Deletes the generated files.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config/load';
import { compileMatcher } from '../src/detection/matcher';
import { scanLogs } from '../src/detection/log-scanner';
import { ScanGuard } from '../src/detection/budgeted-scan';

const ROOT = path.resolve(__dirname, '../..');
const CONFIG = path.join(ROOT, 'config/error_patterns.json');

const ORDINARY = [
  (i: number) =>
    `2025-01-18 10:00:${String(i % 60).padStart(2, '0')},123 INFO app.views: request id=${i} user=u${i % 97} error_count=0 duration_ms=${i % 250}`,
  (i: number) =>
    `127.0.0.1 - - [18/Jan/2025:10:00:00 +0000] "GET /api/items/${i} HTTP/1.1" 200 ${i % 9999} "-" "Mozilla/5.0 (X11; Linux x86_64)"`,
  (i: number) =>
    `2025-01-18 10:00:00,456 DEBUG sqlalchemy.engine: SELECT id, name FROM items WHERE id = ${i} LIMIT 1`,
  (i: number) =>
    `10.0.0.${i % 255} - - [18/Jan/2025:10:00:01 +0000] "POST /api/500-club HTTP/1.1" 201 ${i % 512} "https://example.com/" "curl/8.1"`,
  () => `2025-01-18 10:00:02,789 INFO worker: certificate renewed, disk usage 45%, cache hit ratio 0.93`,
];
const TRACEBACK =
  'Traceback (most recent call last):\n  File "/srv/app.py", line 12, in handler\n    raise ValueError("bad")\nValueError: bad';
const ERRORS = [
  () => '127.0.0.1 - - [18/Jan/2025 10:00:00] "GET /boom HTTP/1.1" 500 -',
  () => '127.0.0.1 - - [18/Jan/2025 10:00:00] "GET /nope HTTP/1.1" 404 -',
  () => TRACEBACK,
  () => 'Error: connect ECONNREFUSED 127.0.0.1:5432',
  () => 'Could not connect to Redis at 127.0.0.1:6379: Connection refused',
  () => "OSError: [Errno 28] No space left on device: '/srv/data/x'",
  () => '[12345.678] Out of memory: Killed process 1234 (python3) total-vm:2048000kB',
  () => 'OSError: [Errno 98] Address already in use',
  () => 'json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)',
  () => "PermissionError: [Errno 13] Permission denied: '/srv/data/app.json'",
  () => "FileNotFoundError: [Errno 2] No such file or directory: '/srv/data/x'",
  () => 'curl: (60) SSL certificate problem: certificate has expired',
];

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(name);
  return i === -1 ? def : Number(process.argv[i + 1]);
}

/** Writes the mixed log (see the module comment) of about `bytes` bytes. */
export function generate(file: string, bytes: number, tracebacks = true): void {
  const fd = fs.openSync(file, 'w');
  let written = 0;
  let i = 0;
  while (written < bytes) {
    const lines: string[] = [];
    for (let k = 0; k < 20_000; k++, i++) {
      let line =
        i % 500 === 499
          ? (ERRORS[((i / 500) % ERRORS.length) | 0] as () => string)()
          : (ORDINARY[i % ORDINARY.length] as (n: number) => string)(i);
      if (!tracebacks && line === TRACEBACK) line = 'ValueError: bad';
      lines.push(line);
    }
    const block = Buffer.from(lines.join('\n') + '\n');
    fs.writeSync(fd, block);
    written += block.length;
  }
  fs.closeSync(fd);
}

/** A pattern that POSIX ERE cannot express. */
export class NotConvertible extends Error {}

/**
 * Converts a JavaScript regex (the subset error patterns use) to POSIX ERE for GNU `grep -E`:
 * `\d` → `[0-9]`, `\s` → `[[:space:]]`, `\w` → `[[:alnum:]_]` (and negations), `(?:` → `(`,
 * `\xHH`/`\uHHHH` → the literal byte, escaped plain characters unescaped where ERE would read the
 * backslash as undefined, bracket expressions rewritten (POSIX has no escapes inside them), `\b`
 * kept (GNU extension). `caseless` folds letters outside brackets to `[xX]` and adds both cases
 * inside. Lookarounds, backreferences and lazy quantifiers have no ERE form: NotConvertible.
 *
 * @example toEre('Port \\d+ (?:is|was) in use') // 'Port [0-9]+ (is|was) in use'
 */
export function toEre(source: string, caseless = false): string {
  const CLASS: Record<string, string> = { d: '0-9', s: '[:space:]', w: '[:alnum:]_' };
  const fold = (c: string) =>
    caseless && c.toLowerCase() !== c.toUpperCase() ? `[${c.toLowerCase()}${c.toUpperCase()}]` : c;
  const ereLiteral = (c: string) => ('.[]()*+?{}|^$\\'.includes(c) ? `\\${c}` : fold(c));
  let out = '';
  let i = 0;
  const hexChar = (len: number) => {
    const c = String.fromCharCode(parseInt(source.slice(i, i + len), 16));
    i += len;
    return c;
  };
  while (i < source.length) {
    const c = source[i++] as string;
    if (c === '\\') {
      const e = source[i++] as string;
      if (e in CLASS) out += `[${CLASS[e]}]`;
      else if ('DSW'.includes(e)) out += `[^${CLASS[e.toLowerCase()]}]`;
      else if (e === 'b' || e === 'B') out += `\\${e}`;
      else if (e === 'x') out += ereLiteral(hexChar(2));
      else if (e === 'u') out += ereLiteral(hexChar(4));
      else if (e === 't') out += '\t';
      else if (/[1-9k]/.test(e)) throw new NotConvertible(`backreference \\${e}`);
      else if (/[a-zA-Z0-9]/.test(e)) throw new NotConvertible(`escape \\${e}`);
      else out += ereLiteral(e);
    } else if (c === '(') {
      if (source.startsWith('?:', i)) i += 2;
      else if (source[i] === '?') throw new NotConvertible(`lookaround or named group at ${i - 1}`);
      out += '(';
    } else if (c === '[') {
      const negate = source[i] === '^';
      if (negate) i++;
      const items: string[] = [];
      while (i < source.length && source[i] !== ']') {
        let ch = source[i++] as string;
        if (ch === '\\') {
          const e = source[i++] as string;
          if (e in CLASS) {
            items.push(...({ d: ['0-9'], s: ['[:space:]'], w: ['[:alnum:]', '_'] }[e] as string[]));
            continue;
          }
          if ('DSW'.includes(e)) throw new NotConvertible(`negated class \\${e} inside brackets`);
          ch = e === 'x' ? hexChar(2) : e === 't' ? '\t' : e;
        }
        if (source[i] === '-' && source[i + 1] !== ']' && i + 1 < source.length) {
          i++;
          let hi = source[i++] as string;
          if (hi === '\\') hi = source[i] === 'x' ? ((i += 1), hexChar(2)) : (source[i++] as string);
          items.push(`${ch}-${hi}`);
          if (caseless && /[a-zA-Z]-[a-zA-Z]/.test(`${ch}-${hi}`))
            items.push(`${ch.toLowerCase()}-${hi.toLowerCase()}`, `${ch.toUpperCase()}-${hi.toUpperCase()}`);
          continue;
        }
        items.push(ch);
        if (caseless && ch.toLowerCase() !== ch.toUpperCase()) items.push(ch.toLowerCase(), ch.toUpperCase());
      }
      i++;
      // POSIX: "]" must come first, "-" last, "^" not first; the rest as is.
      const flat = [...new Set(items)];
      const close = flat.includes(']') ? ']' : '';
      const dash = flat.includes('-') ? '-' : '';
      const caret = flat.includes('^') ? '^' : '';
      const rest = flat.filter((x) => x !== ']' && x !== '-' && x !== '^');
      out += `[${negate ? '^' : ''}${close}${rest.join('')}${caret}${dash}]`;
    } else if ('*+?}'.includes(c) && source[i] === '?') {
      throw new NotConvertible(`lazy quantifier at ${i - 1}`);
    } else if ('.*+?{}|^$)'.includes(c)) {
      out += c;
    } else {
      out += fold(c);
    }
  }
  return out;
}

interface Timed {
  seconds: number;
  stdout: string;
  rssKb?: number;
}

function runOnce(cmd: string, args: string[]): Timed {
  const useTime = fs.existsSync('/usr/bin/time');
  const env = { ...process.env, LC_ALL: 'C' };
  const t0 = process.hrtime.bigint();
  const r = useTime
    ? spawnSync('/usr/bin/time', ['-v', cmd, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env })
    : spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr ?? '');
  if (r.status !== 0 && r.status !== 1) throw new Error(`${cmd} failed (${r.status}): ${r.stderr}`);
  return { seconds, stdout: r.stdout, ...(rss ? { rssKb: Number(rss[1]) } : {}) };
}

/** Best of `runs`, the file read once (page cache) before each. */
function timed(file: string, runs: number, cmd: string, args: string[]): Timed {
  let best: Timed | undefined;
  for (let k = 0; k < runs; k++) {
    spawnSync('cat', [file], { stdio: ['ignore', 'ignore', 'ignore'] });
    const t = runOnce(cmd, args);
    if (!best || t.seconds < best.seconds)
      best = { ...t, rssKb: Math.max(t.rssKb ?? 0, best?.rssKb ?? 0) || undefined };
  }
  return best as Timed;
}

const events = (stdout: string) =>
  (JSON.parse(stdout) as { detections: Array<{ count: number }> }).detections.reduce(
    (n, d) => n + d.count,
    0,
  );

/** Best of `runs` of an in-process function, the file read once (page cache) before each. */
async function timedAsync<T>(file: string, runs: number, fn: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  let best: { seconds: number; value: T } | undefined;
  for (let k = 0; k < runs; k++) {
    spawnSync('cat', [file], { stdio: ['ignore', 'ignore', 'ignore'] });
    const t0 = process.hrtime.bigint();
    const value = await fn();
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (!best || seconds < best.seconds) best = { seconds, value };
  }
  return best as { seconds: number; value: T };
}

/** The daemon's incremental scan of `file` from its start: in the calling thread, then budgeted in the scan thread. */
async function daemonScan(file: string, runs: number): Promise<{ inThread: number; budgeted: number; equal: boolean }> {
  const patterns = loadConfig(CONFIG).error_patterns;
  const common = { files: [file], cursors: {}, maxBytesPerScan: Number.MAX_SAFE_INTEGER };
  const plain = await timedAsync(file, runs, () => scanLogs({ ...common, matcher: compileMatcher(patterns) }));
  const guard = new ScanGuard();
  try {
    const budgeted = await timedAsync(file, runs, () => guard.scan({ ...common, patterns }));
    const equal = JSON.stringify(plain.value.detections) === JSON.stringify(budgeted.value.detections) && budgeted.value.overruns.length === 0;
    return { inThread: plain.seconds, budgeted: budgeted.seconds, equal };
  } finally {
    await guard.close();
  }
}

async function main(): Promise<void> {
  const sizeMb = arg('--size-mb', 1024);
  const runs = arg('--runs', 2);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autofix-bench-'));
  const file = path.join(dir, 'mixed.log');
  const flat = path.join(dir, 'flat.log');
  const empty = path.join(dir, 'empty.log');
  const autofix = path.join(ROOT, 'bin/autofix');
  try {
    generate(file, sizeMb * 1024 * 1024);
    generate(flat, 16 * 1024 * 1024, false);
    fs.writeFileSync(empty, '');
    const mb = fs.statSync(file).size / (1024 * 1024);
    const patterns = (
      JSON.parse(fs.readFileSync(CONFIG, 'utf8')) as {
        error_patterns: Array<{ id: string; pattern: string; flags?: string }>;
      }
    ).error_patterns;
    const notes: string[] = [];
    const allCaseless = patterns.every((p) => (p.flags ?? '').includes('i'));
    const ere: string[] = [];
    for (const p of patterns) {
      try {
        ere.push(toEre(p.pattern, !allCaseless && (p.flags ?? '').includes('i')));
      } catch (e) {
        notes.push(`${p.id}: not convertible to ERE (${(e as Error).message}); left out of grep -E`);
      }
    }
    const ereFile = path.join(dir, 'patterns.ere');
    fs.writeFileSync(ereFile, ere.join('\n') + '\n');
    const grepE = ['-E', '-c', ...(allCaseless ? ['-i'] : []), '-f', ereFile];
    const pcre = patterns
      .map((p) => `(?${(p.flags ?? '').includes('i') ? 'i' : ''}:${p.pattern})`)
      .join('|')
      .replace(/\(\?:/g, '(?:');

    // grep knows no file scopes: autofix gets the shipped patterns without `files`, so both
    // classify every line of the one mixed log with the same patterns.
    const unscoped = path.join(dir, 'error_patterns.json');
    const shipped = JSON.parse(fs.readFileSync(CONFIG, 'utf8')) as { error_patterns: Array<Record<string, unknown>> };
    fs.writeFileSync(unscoped, JSON.stringify({ ...shipped, error_patterns: shipped.error_patterns.map(({ files: _files, ...p }) => p) }));
    const cfgArgs = ['scan', '--json', '--config', unscoped];
    const start = timed(empty, runs, autofix, [...cfgArgs, empty]);
    const e = timed(file, runs, 'grep', [...grepE, file]);
    const a = timed(file, runs, autofix, [...cfgArgs, file]);
    const a1 = timed(file, runs, autofix, [...cfgArgs, '--workers', '1', file]);
    const skipP = process.argv.includes('--no-grep-p');
    const g = skipP ? undefined : timed(file, 1, 'grep', ['-P', '-c', pcre, file]);
    const total = events(a.stdout);
    const flatGrep = runOnce('grep', [...grepE, flat]).stdout.trim();
    const flatAutofix = events(runOnce(autofix, [...cfgArgs, flat]).stdout);
    const rate = (t: Pick<Timed, 'seconds'>) => `${(mb / t.seconds).toFixed(0)} MiB/s (${t.seconds.toFixed(2)} s)`;
    const daemon = await daemonScan(file, runs);
    const coldCache = path.join(dir, 'redos-cache');
    const loadCold = runOnce('env', [`AUTOFIX_CACHE_DIR=${coldCache}`, process.execPath, autofix, 'config', 'check', '--config', CONFIG]);
    const loadWarm = timed(empty, runs, 'env', [`AUTOFIX_CACHE_DIR=${coldCache}`, process.execPath, autofix, 'config', 'check', '--config', CONFIG]);
    const scanOnly = a.seconds - start.seconds;
    const rows = [
      `file: ${mb.toFixed(0)} MiB, best of ${runs} runs each, page-cached, LC_ALL=C`,
      `grep -E -c -f (${ere.length} ERE patterns): ${rate(e)}, ${e.stdout.trim()} matching lines`,
      g
        ? `grep -P -c (one PCRE alternation, 1 run): ${rate(g)}, ${g.stdout.trim()} matching lines`
        : 'grep -P: skipped',
      `autofix scan --json (parallel, default workers): ${rate(a)}, ${total} events; startup alone ${start.seconds.toFixed(2)} s → scan itself ${(mb / scanOnly).toFixed(0)} MiB/s`,
      `autofix scan --json --workers 1 (one thread): ${rate(a1)}, ${events(a1.stdout)} events, peak RSS ${a1.rssKb === undefined ? 'n/a' : `${(a1.rssKb / 1024).toFixed(0)} MiB`}`,
      `ratio autofix/grep -E: ${(e.seconds / a.seconds).toFixed(2)}× (one thread: ${(e.seconds / a1.seconds).toFixed(2)}×)` +
        (g ? `, autofix/grep -P: ${(g.seconds / a.seconds).toFixed(2)}×` : ''),
      `autofix peak RSS: ${a.rssKb === undefined ? 'n/a' : `${(a.rssKb / 1024).toFixed(0)} MiB`}`,
      `daemon incremental scan, one thread: in the calling thread ${rate({ seconds: daemon.inThread })}; budgeted in the scan thread ${rate({ seconds: daemon.budgeted })} ` +
        `(${(daemon.inThread / daemon.budgeted).toFixed(2)}×; detections ${daemon.equal ? 'equal' : 'DIFFERENT'})`,
      `config check (load + ReDoS analysis of ${patterns.length} patterns): empty verdict cache ${loadCold.seconds.toFixed(2)} s, cached ${loadWarm.seconds.toFixed(2)} s`,
      `16 MiB log without multi-line tracebacks: grep -E ${flatGrep} matching lines, autofix ${flatAutofix} events (${String(flatAutofix) === flatGrep ? 'equal' : 'DIFFERENT'})`,
      ...notes,
    ];
    process.stdout.write(rows.join('\n') + '\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().then(
    () => process.exit(0), // the scan thread is unref'd, but make the end explicit
    (e: unknown) => {
      process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
