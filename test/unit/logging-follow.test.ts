/**
 * followLog, on real files: every line appended after the start once and in order, across
 * rotation (rename + new file, lines written just before it included), truncation and a moved
 * log; nothing read through a symlink, a hard link or a file of another user.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, chownSync, linkSync, mkdtempSync, renameSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { followLog, printableLine } from '../../src/logging/follow';
import { waitFor } from '../helpers/temporal';

function fixture() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'autofix-follow-'));
  const lines: string[] = [];
  const notices: string[] = [];
  return { dir, lines, notices, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const until = (what: string, fn: () => boolean) => waitFor(what, async () => fn(), 5000, 10);

void test('skips what was there, then echoes appended lines in order; a partial line waits for its newline', async () => {
  const f = fixture();
  const log = path.join(f.dir, 'auto_fix.log');
  writeFileSync(log, 'old 1\nold 2\n');
  const follower = followLog(() => log, (l) => f.lines.push(l), { intervalMs: 10 });
  try {
    appendFileSync(log, 'new 1\nnew 2\npart');
    await until('two lines', () => f.lines.length >= 2);
    assert.deepEqual(f.lines, ['new 1', 'new 2']);
    appendFileSync(log, 'ial line\n日本語の行 — 検知サイクル\n');
    await until('four lines', () => f.lines.length >= 4);
    assert.deepEqual(f.lines.slice(2), ['partial line', '日本語の行 — 検知サイクル']);
  } finally {
    follower.stop();
    f.cleanup();
  }
});

void test('rotation: lines written just before the rename, then the new file from its first byte', async () => {
  // (Like tail -F, a follower that sleeps through two rotations skips the middle file: the
  // files themselves keep every line.)
  const f = fixture();
  const log = path.join(f.dir, 'auto_fix.log');
  writeFileSync(log, '');
  const follower = followLog(() => log, (l) => f.lines.push(l), { intervalMs: 50 });
  try {
    const expected: string[] = [];
    for (let gen = 0; gen < 5; gen++) {
      for (let i = 0; i < 20; i++) {
        appendFileSync(log, `g${gen} l${i}\n`);
        expected.push(`g${gen} l${i}`);
      }
      renameSync(log, `${log}.${gen + 1}`); // no pause: the follower sees the rename after the writes
      writeFileSync(log, '');
      // One rotation per check (the logger rotates at 10 MB, never twice in half a second).
      await new Promise((r) => setTimeout(r, 120));
    }
    appendFileSync(log, 'last\n');
    expected.push('last');
    await until('all lines', () => f.lines.length >= expected.length);
    assert.deepEqual(f.lines, expected);
  } finally {
    follower.stop();
    f.cleanup();
  }
});

void test('truncation in place starts over; a moved log is followed from its first byte; stop() reads what is left', async () => {
  const f = fixture();
  const a = path.join(f.dir, 'a.log');
  const b = path.join(f.dir, 'b.log');
  writeFileSync(a, 'x\n');
  let current = a;
  const follower = followLog(() => current, (l) => f.lines.push(l), { intervalMs: 10 });
  try {
    appendFileSync(a, 'before truncate\n');
    await until('first', () => f.lines.length === 1);
    truncateSync(a, 0);
    await new Promise((r) => setTimeout(r, 50));
    appendFileSync(a, 'after truncate\n');
    await until('second', () => f.lines.length === 2);
    writeFileSync(b, 'in b\n');
    current = b;
    await until('third', () => f.lines.length === 3);
    appendFileSync(b, 'just before stop\n');
    follower.stop();
    assert.deepEqual(f.lines, ['before truncate', 'after truncate', 'in b', 'just before stop']);
  } finally {
    follower.stop();
    f.cleanup();
  }
});

void test('a symlink, a hard link or another user\'s file is never read, and said once', async () => {
  const f = fixture();
  const secret = path.join(f.dir, 'secret');
  writeFileSync(secret, 'root:secret-hash\n');
  const cases: Array<[string, () => string]> = [
    ['symbolic link', () => {
      const p = path.join(f.dir, 'sym.log');
      symlinkSync(secret, p);
      return p;
    }],
    ['hard links', () => {
      const p = path.join(f.dir, 'hard.log');
      linkSync(secret, p);
      return p;
    }],
    ['owned by uid', () => {
      const p = path.join(f.dir, 'other.log');
      writeFileSync(p, '');
      chownSync(p, 65534, 65534);
      return p;
    }],
  ];
  try {
    for (const [why, make] of cases) {
      const p = make();
      const lines: string[] = [];
      const notices: string[] = [];
      const follower = followLog(() => p, (l) => lines.push(l), { intervalMs: 10, onNotice: (m) => notices.push(m) });
      appendFileSync(secret, 'root:more\n');
      await new Promise((r) => setTimeout(r, 100));
      follower.stop();
      assert.deepEqual(lines, [], why);
      assert.equal(notices.length, 1, why);
      assert.match(notices[0] ?? '', new RegExp(why));
    }
  } finally {
    f.cleanup();
  }
});

void test('printableLine: control characters are escaped, tabs and text kept', () => {
  assert.equal(printableLine('a\tb\x1b[31mred\x07\r'), 'a\tb\\x1b[31mred\\x07');
});
