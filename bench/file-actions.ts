/**
 * The cost of race-free file actions: old_file_cleanup of 10,000 old files and log_rotate of a
 * 100 MiB log (copy-truncate, gzip'd and plain), each against the classic tool doing the same job
 * in the same run — GNU `find -mmin +N -delete` (which itself walks with openat/unlinkat) and
 * `logrotate -f` (copytruncate, compress).
 *
 *   node dist/bench/file-actions.js [--files 10000] [--log-mb 100] [--runs 3]
 *
 * Every run builds a fresh tree (100 directories × files/100, mtimes 2 days old) or log (text
 * lines) in a temp dir, drops nothing from the page cache (both tools meet the same warm cache),
 * and times the action's `run` (plan included, as a saga runs it) in this process. Prints the
 * median of `--runs` for each and the ratio autofix/peer. Uses only the action registry and the
 * config parser, so the same file measures an older tree too (figures in docs/benchmarks.md).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ACTIONS } from '../src/actions';
import type { ActionContext } from '../src/actions/types';
import { parseConfig } from '../src/config/load';
import { makeTempDir, median, numArg } from './lib/common';

const DAY = 86_400_000;

function ctxFor(dir: string, managed: Record<string, unknown>): ActionContext {
  const config = parseConfig({ error_patterns: [], daemon: { data_dir: path.join(dir, 'data') }, managed: { roots: [path.join(dir, 'root')], ...managed } }, path.join(dir, 'cfg.json'), {});
  return {
    config,
    log: () => undefined,
    signal: new AbortController().signal,
    incident: {
      incidentId: 'bench',
      patternId: 'bench',
      severity: 'error',
      host: 'bench',
      detection: { id: 'bench', name: 'bench', severity: 'error', count: 1, source: 'log', samples: [] },
    },
  };
}

/** 100 directories holding `n` files in all, 2 days old. */
function makeTree(dir: string, n: number): void {
  fs.rmSync(dir, { recursive: true, force: true });
  const old = new Date(Date.now() - 2 * DAY);
  for (let d = 0; d < 100; d++) {
    const sub = path.join(dir, `d${d}`);
    fs.mkdirSync(sub, { recursive: true });
    for (let f = 0; f < n / 100; f++) {
      const p = path.join(sub, `f${f}.tmp`);
      fs.writeFileSync(p, 'x'.repeat(64));
      fs.utimesSync(p, old, old);
    }
  }
}

function makeLog(file: string, mb: number): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  for (const f of fs.readdirSync(path.dirname(file))) fs.rmSync(path.join(path.dirname(file), f), { force: true });
  const line = '2024-05-01 12:00:00,123 INFO app.request GET /api/items?page=3 200 12ms user=42 trace=9f2c1e\n';
  const chunk = Buffer.from(line.repeat(Math.ceil((1 << 20) / line.length)));
  const fd = fs.openSync(file, 'w');
  for (let i = 0; i < mb; i++) fs.writeSync(fd, chunk);
  fs.closeSync(fd);
}

async function time(fn: () => Promise<unknown> | unknown): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr?.toString()}`);
}

async function cleanup(dir: string, files: number, runs: number): Promise<[number, number]> {
  const tree = path.join(dir, 'root', 'old');
  const ctx = ctxFor(dir, { old_file_dirs: [tree] });
  const ours: number[] = [];
  const peer: number[] = [];
  for (let i = 0; i < runs; i++) {
    makeTree(tree, files);
    ours.push(await time(() => ACTIONS.old_file_cleanup.run(ctx, { type: 'old_file_cleanup', max_age_days: 1 })));
    if (fs.readdirSync(path.join(tree, 'd0')).length !== 0) throw new Error('old_file_cleanup left files');
    makeTree(tree, files);
    peer.push(await time(() => run('find', [tree, '-type', 'f', '-mmin', '+1440', '-delete'])));
  }
  return [median(ours), median(peer)];
}

async function rotation(dir: string, mb: number, runs: number, compress: boolean): Promise<[number, number]> {
  const log = path.join(dir, 'root', 'logs', 'app.log');
  const ctx = ctxFor(dir, { log_rotate: { files: [log], max_bytes: 1024, keep: 5, compress, copy_truncate: true } });
  const conf = path.join(dir, 'logrotate.conf');
  fs.writeFileSync(conf, `${log} {\n  rotate 5\n  copytruncate\n  ${compress ? 'compress\n  nodelaycompress' : 'nocompress'}\n  missingok\n}\n`);
  const ours: number[] = [];
  const peer: number[] = [];
  for (let i = 0; i < runs; i++) {
    makeLog(log, mb);
    ours.push(await time(() => ACTIONS.log_rotate.run(ctx, { type: 'log_rotate' })));
    if (fs.statSync(log).size !== 0) throw new Error('log_rotate did not truncate');
    makeLog(log, mb);
    peer.push(await time(() => run('logrotate', ['-f', '-s', path.join(dir, 'logrotate.state'), conf])));
    if (fs.statSync(log).size !== 0) throw new Error('logrotate did not truncate');
  }
  return [median(ours), median(peer)];
}

async function main(): Promise<void> {
  const files = numArg('--files', 10_000);
  const mb = numArg('--log-mb', 100);
  const runs = numArg('--runs', 3);
  const dir = makeTempDir('file-actions');
  try {
    fs.mkdirSync(path.join(dir, 'root'));
    const rows: Array<[string, string, number, number]> = [];
    const [c, f] = await cleanup(dir, files, runs);
    rows.push([`old_file_cleanup, ${files} files`, 'find -delete', c, f]);
    const [g, lg] = await rotation(dir, mb, runs, true);
    rows.push([`log_rotate ${mb} MiB, gzip`, 'logrotate -f', g, lg]);
    const [p, lp] = await rotation(dir, mb, runs, false);
    rows.push([`log_rotate ${mb} MiB, plain`, 'logrotate -f', p, lp]);
    console.log(`median of ${runs} runs`);
    console.log('| job | autofix ms | peer | peer ms | autofix/peer |');
    console.log('|---|---:|---|---:|---:|');
    for (const [job, peerName, ours, theirs] of rows) console.log(`| ${job} | ${ours.toFixed(0)} | ${peerName} | ${theirs.toFixed(0)} | ${(ours / theirs).toFixed(2)} |`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().catch((e: Error) => {
    console.error(e.message);
    process.exit(1);
  });
}
