/**
 * Lines lost per log rotation under a live writer: a real process appends numbered lines (one
 * write(2) each, O_APPEND, reopening the log on SIGHUP) at 1,000 and 10,000 lines/s while the log
 * is rotated `--rotations` times, `--every` ms apart; then every number is looked for in the live
 * log and its generations. Measured in the same run for:
 *
 * - autofix log_rotate, copy-truncate (the default): fsynced copy, catch-up, synchronous last
 *   read + truncate — its residual window;
 * - logrotate -f with `copytruncate` (the peer: its documented window between copy and truncate);
 * - autofix log_rotate, create mode with a reopen step (postrotate: kill -HUP): expected 0.
 *
 *   node dist/bench/rotation.js [--rotations 20] [--every 200]
 *
 * Prints lines written, lost and duplicated, and lost per rotation. Needs python3 and logrotate.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ACTIONS } from '../src/actions';
import type { ActionContext } from '../src/actions/types';
import { parseConfig } from '../src/config/load';
import { accountFor, numbersIn, startWriter } from '../test/helpers/numbered-writer';
import { makeTempDir, numArg, sleep } from './lib/common';

function ctxFor(dir: string, logRotate: Record<string, unknown>): ActionContext {
  const config = parseConfig(
    { error_patterns: [], daemon: { data_dir: path.join(dir, 'data') }, managed: { roots: [path.join(dir, 'root')], log_rotate: logRotate } },
    path.join(dir, 'cfg.json'),
    {},
  );
  return {
    config,
    log: () => undefined,
    signal: new AbortController().signal,
    incident: { incidentId: 'bench', patternId: 'bench', severity: 'error', host: 'bench', detection: { id: 'bench', name: 'bench', severity: 'error', count: 1, source: 'log', samples: [] } },
  };
}

type Mode = 'autofix copy-truncate' | 'logrotate copytruncate' | 'autofix create + reopen';

interface Row {
  mode: Mode;
  rate: number;
  rotations: number;
  written: number;
  lost: number;
  duplicated: number;
}

/** One measurement: a fresh log, a writer at `rate`, `rotations` rotations by `mode`. */
async function measure(dir: string, mode: Mode, rate: number, rotations: number, everyMs: number): Promise<Row> {
  const logDir = path.join(dir, 'root', 'logs');
  fs.rmSync(logDir, { recursive: true, force: true });
  fs.mkdirSync(logDir, { recursive: true });
  const log = path.join(logDir, 'app.log');
  const w = await startWriter(log, rate);
  const conf = path.join(dir, 'logrotate.conf');
  fs.writeFileSync(conf, `${log} {\n  rotate ${rotations + 5}\n  copytruncate\n  compress\n  nodelaycompress\n  missingok\n}\n`);
  const rotate: Record<Mode, () => Promise<unknown> | void> = {
    'autofix copy-truncate': () => ACTIONS.log_rotate.run(ctxFor(dir, { files: [log], max_bytes: 1, keep: rotations + 5 }), { type: 'log_rotate' }),
    'autofix create + reopen': () =>
      ACTIONS.log_rotate.run(ctxFor(dir, { files: [log], max_bytes: 1, keep: rotations + 5, copy_truncate: false, postrotate: ['/bin/kill', '-HUP', String(w.pid)], reopen_wait_seconds: 2 }), { type: 'log_rotate' }),
    'logrotate copytruncate': () => {
      const r = spawnSync('logrotate', ['-f', '-s', path.join(dir, 'logrotate.state'), conf], { stdio: ['ignore', 'ignore', 'pipe'] });
      if (r.status !== 0) throw new Error(`logrotate failed: ${r.stderr?.toString()}`);
    },
  };
  try {
    for (let i = 0; i < rotations; i++) {
      await sleep(everyMs);
      await rotate[mode]();
    }
    await sleep(everyMs);
  } catch (e) {
    await w.stop();
    throw e;
  }
  const last = await w.stop();
  const { missing, duplicates } = accountFor(numbersIn(logDir, 'app.log'), last);
  return { mode, rate, rotations, written: last, lost: missing.length, duplicated: duplicates.length };
}

async function main(): Promise<void> {
  const rotations = numArg('--rotations', 20);
  const everyMs = numArg('--every', 200);
  const dir = makeTempDir('rotation');
  try {
    fs.mkdirSync(path.join(dir, 'root'));
    const rows: Row[] = [];
    for (const rate of [1000, 10_000]) {
      for (const mode of ['autofix copy-truncate', 'logrotate copytruncate', 'autofix create + reopen'] as Mode[]) rows.push(await measure(dir, mode, rate, rotations, everyMs));
    }
    console.log(`${rotations} rotations ${everyMs} ms apart per row`);
    console.log('| rotation | lines/s | lines written | lost | duplicated | lost per rotation |');
    console.log('|---|---:|---:|---:|---:|---:|');
    for (const r of rows) console.log(`| ${r.mode} | ${r.rate} | ${r.written} | ${r.lost} | ${r.duplicated} | ${(r.lost / r.rotations).toFixed(3)} |`);
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
