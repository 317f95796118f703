/**
 * Log rotation under a real writer appending numbered lines at ≥ 1,000 lines/s: in create mode
 * with a reopen step (a signal under the kill-safety rules, or a postrotate argv) every number is
 * found exactly once across the live log and its generations; a writer that does not reopen keeps
 * its generation uncompressed and undeleted until it lets go; copy-truncate never duplicates or
 * tears a line (its residual loss is measured by bench/rotation.ts).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { logRotate } from '../../src/actions/log-rotate';
import { makeConfig, makeCtx, makeFixture } from '../unit/actions-files-fixture';
import { WRITER_SCRIPT, accountFor, numbersIn, startWriter } from '../helpers/numbered-writer';

const spec = { type: 'log_rotate' as const };
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('rotation under a live writer', () => {
  const fx = makeFixture();
  after(() => fx.cleanup());

  /** Runs `n` rotations `everyMs` apart while the writer writes; returns the run results. */
  async function rotate(ctx: ReturnType<typeof makeCtx>, n: number, everyMs: number) {
    const results = [];
    for (let i = 0; i < n; i++) {
      await sleep(everyMs);
      results.push(await logRotate.run(ctx, spec));
    }
    return results;
  }

  it('create mode + SIGHUP to the service (found by process_match, kill-safety rules): every number exactly once', async () => {
    const dir = path.join(fx.root, 'hup');
    fs.mkdirSync(dir);
    const log = path.join(dir, 'app.log');
    const w = await startWriter(log, 2000);
    // A reader on the old inode (tail -f follows the descriptor) must not hold compression back.
    const reader = spawn('tail', ['-f', log], { stdio: 'ignore' });
    try {
      const cfg = makeConfig(
        fx,
        { log_rotate: { files: [log], max_bytes: 20_000, keep: 30, copy_truncate: false, reopen: { service: 'writer', signal: 'HUP' }, reopen_wait_seconds: 5 } },
        { services: { writer: { process_match: `.*${escape(path.basename(WRITER_SCRIPT))} ${escape(log)} .*` } } },
      );
      const ctx = makeCtx(cfg);
      const results = await rotate(ctx, 6, 300);
      assert.ok(results.every((r) => (r.details?.rotated as unknown[]).length === 1), JSON.stringify(results.map((r) => r.summary)));
      assert.match(ctx.lines.join('\n'), /SIGHUP → pid \d+ \(writer\): sent/);
    } finally {
      reader.kill();
      const last = await w.stop();
      const { missing, duplicates } = accountFor(numbersIn(dir, 'app.log'), last);
      assert.ok(last > 2000, `the writer wrote ${last} lines`);
      assert.deepEqual({ missing: missing.slice(0, 10), duplicates: duplicates.slice(0, 10) }, { missing: [], duplicates: [] });
    }
    const gens = fs.readdirSync(dir).filter((f) => /^app\.log\.\d+\.gz$/.test(f));
    assert.equal(gens.length, 6, `every generation compressed once its writer let go (the tail -f reader does not count): ${fs.readdirSync(dir).join(' ')}`);
  });

  it('create mode + a postrotate argv: every number exactly once', async () => {
    const dir = path.join(fx.root, 'post');
    fs.mkdirSync(dir);
    const log = path.join(dir, 'app.log');
    const w = await startWriter(log, 1500);
    try {
      const ctx = makeCtx(makeConfig(fx, { log_rotate: { files: [log], max_bytes: 20_000, keep: 30, copy_truncate: false, postrotate: ['/bin/kill', '-HUP', String(w.pid)] } }));
      await rotate(ctx, 4, 300);
    } finally {
      const last = await w.stop();
      assert.deepEqual(accountFor(numbersIn(dir, 'app.log'), last), { missing: [], duplicates: [] });
    }
  });

  it('a writer that never reopens: its generation is neither compressed nor deleted while it writes; once it stops, a later rotation compresses it', async () => {
    const dir = path.join(fx.root, 'deaf');
    fs.mkdirSync(dir);
    const log = path.join(dir, 'app.log');
    const w = await startWriter(log, 1000, { ignoreHup: true });
    const ctx = makeCtx(makeConfig(fx, { log_rotate: { files: [log], max_bytes: 5_000, keep: 1, copy_truncate: false, postrotate: ['/bin/kill', '-HUP', String(w.pid)], reopen_wait_seconds: 0.5 } }));
    let last = 0;
    try {
      await sleep(300);
      const first = await logRotate.run(ctx, spec);
      assert.match(String(first.details?.notes), /app\.log\.1: still written by pid \d+ .*left uncompressed/);
      assert.ok(fs.existsSync(`${log}.1`));
      // Another process fills the new app.log past max_bytes (lines numbered 0) — the writer is in .1 still.
      fs.appendFileSync(log, `0 ${'x'.repeat(60)}\n`.repeat(100));
      const second = await logRotate.run(ctx, spec);
      assert.match(String(second.details?.notes), /not rotated: .*app\.log\.1 is still written by pid \d+/);
      assert.ok(fs.existsSync(`${log}.1`), 'keep 1 did not delete the generation a process writes to');
    } finally {
      last = await w.stop();
    }
    // Once it stopped: the pending generation is compressed first, then kept as the shift moves it on.
    const third = await logRotate.run(ctx, { ...spec, keep: 3 });
    assert.deepEqual(fs.readdirSync(dir).sort(), ['app.log', 'app.log.1.gz', 'app.log.2.gz'], JSON.stringify(third.details));
    const numbers = numbersIn(dir, 'app.log').filter((n) => n > 0);
    assert.deepEqual(accountFor(numbers, last), { missing: [], duplicates: [] });
  });

  it('copy-truncate at 1,000 lines/s: no line duplicated or torn, at most the truncate window lost', async () => {
    const dir = path.join(fx.root, 'ct');
    fs.mkdirSync(dir);
    const log = path.join(dir, 'app.log');
    const w = await startWriter(log, 1000);
    let rotations = 0;
    try {
      const ctx = makeCtx(makeConfig(fx, { log_rotate: { files: [log], max_bytes: 10_000, keep: 30 } }));
      const results = await rotate(ctx, 5, 300);
      rotations = results.filter((r) => (r.details?.rotated as unknown[]).length === 1).length;
    } finally {
      const last = await w.stop();
      const { missing, duplicates } = accountFor(numbersIn(dir, 'app.log'), last);
      assert.deepEqual(duplicates, []);
      assert.ok(missing.length <= rotations, `lost ${missing.length} line(s) in ${rotations} rotations: ${missing.join(' ')}`);
    }
  });
});
