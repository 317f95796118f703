/**
 * Benchmark of `autofix scan` against GNU grep on the same patterns.
 *
 *   node dist/bench/scan.js [--size-mb 1024]
 *
 * Generates a mixed log (mostly ordinary lines, ~0.2% errors of every class) in a temp dir, runs
 * `bin/autofix scan --json` on it under `/usr/bin/time -v` (peak RSS) and `grep -P -c` with the
 * default config's patterns combined into one alternation (PCRE accepts the JavaScript syntax the
 * default patterns use; ERE has no \d or (?:)). Prints both throughputs and the ratio, then
 * deletes the generated file.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const CONFIG = path.join(ROOT, 'config/error_patterns.json');

const ORDINARY = [
  (i: number) => `2025-01-18 10:00:${String(i % 60).padStart(2, '0')},123 INFO app.views: request id=${i} user=u${i % 97} error_count=0 duration_ms=${i % 250}`,
  (i: number) => `127.0.0.1 - - [18/Jan/2025:10:00:00 +0000] "GET /api/items/${i} HTTP/1.1" 200 ${i % 9999} "-" "Mozilla/5.0 (X11; Linux x86_64)"`,
  (i: number) => `2025-01-18 10:00:00,456 DEBUG sqlalchemy.engine: SELECT id, name FROM items WHERE id = ${i} LIMIT 1`,
  (i: number) => `10.0.0.${i % 255} - - [18/Jan/2025:10:00:01 +0000] "POST /api/500-club HTTP/1.1" 201 ${i % 512} "https://example.com/" "curl/8.1"`,
  () => `2025-01-18 10:00:02,789 INFO worker: certificate renewed, disk usage 45%, cache hit ratio 0.93`,
];
const ERRORS = [
  () => '127.0.0.1 - - [18/Jan/2025 10:00:00] "GET /boom HTTP/1.1" 500 -',
  () => '127.0.0.1 - - [18/Jan/2025 10:00:00] "GET /nope HTTP/1.1" 404 -',
  () => 'Traceback (most recent call last):\n  File "/srv/app.py", line 12, in handler\n    raise ValueError("bad")\nValueError: bad',
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

function generate(file: string, bytes: number): void {
  const fd = fs.openSync(file, 'w');
  let written = 0;
  let i = 0;
  while (written < bytes) {
    const lines: string[] = [];
    for (let k = 0; k < 20_000; k++, i++) {
      lines.push(i % 500 === 499 ? (ERRORS[(i / 500) % ERRORS.length | 0] as () => string)() : (ORDINARY[i % ORDINARY.length] as (n: number) => string)(i));
    }
    const block = Buffer.from(lines.join('\n') + '\n');
    fs.writeSync(fd, block);
    written += block.length;
  }
  fs.closeSync(fd);
}

function timed(cmd: string, args: string[]): { seconds: number; stdout: string; rssKb?: number } {
  const useTime = fs.existsSync('/usr/bin/time');
  const t0 = process.hrtime.bigint();
  const r = useTime
    ? spawnSync('/usr/bin/time', ['-v', cmd, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: { ...process.env, LC_ALL: 'C' } })
    : spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: { ...process.env, LC_ALL: 'C' } });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr ?? '');
  if (r.status !== 0 && r.status !== 1) throw new Error(`${cmd} failed (${r.status}): ${r.stderr}`);
  return { seconds, stdout: r.stdout, ...(rss ? { rssKb: Number(rss[1]) } : {}) };
}

function main(): void {
  const sizeMb = arg('--size-mb', 1024);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autofix-bench-'));
  const file = path.join(dir, 'mixed.log');
  try {
    generate(file, sizeMb * 1024 * 1024);
    const mb = fs.statSync(file).size / (1024 * 1024);
    const patterns = (JSON.parse(fs.readFileSync(CONFIG, 'utf8')) as { error_patterns: Array<{ pattern: string }> }).error_patterns;
    const combined = patterns.map((p) => `(?:${p.pattern})`).join('|');
    spawnSync('cat', [file], { stdio: ['ignore', 'ignore', 'ignore'] }); // warm the page cache for both
    const g = timed('grep', ['-P', '-c', combined, file]);
    const a = timed(path.join(ROOT, 'bin/autofix'), ['scan', '--json', '--config', CONFIG, file]);
    const total = (JSON.parse(a.stdout) as { detections: Array<{ count: number }> }).detections.reduce((n, d) => n + d.count, 0);
    const rows = [
      `file: ${mb.toFixed(0)} MiB`,
      `grep -P -c: ${(mb / g.seconds).toFixed(0)} MiB/s (${g.seconds.toFixed(2)} s, ${g.stdout.trim()} matching lines)`,
      `autofix scan --json: ${(mb / a.seconds).toFixed(0)} MiB/s (${a.seconds.toFixed(2)} s, ${total} events)`,
      `ratio autofix/grep: ${(g.seconds / a.seconds).toFixed(2)}`,
      `autofix peak RSS: ${a.rssKb === undefined ? 'n/a' : `${(a.rssKb / 1024).toFixed(0)} MiB`}`,
    ];
    process.stdout.write(rows.join('\n') + '\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main();
