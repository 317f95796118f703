/**
 * Detection reads files the app user controls: a symlink or a hard link that user plants in its
 * own log or data directory must not make the (root) worker read a file the user cannot — its
 * lines would end up in detections, alerts and histories. An admin's symlink in a directory only
 * root can change is still followed. Runs as root, with `nobody` as the app user.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { scanLogs } from '../../src/detection/log-scanner';
import { checkJsonFiles } from '../../src/detection/json-check';
import { compileMatcher } from '../../src/detection/matcher';
import { parseConfig } from '../../src/config/load';
import { openForReading } from '../../src/fs-safe/read';
import { signatureAt } from '../../src/detection/cursor-signature';
import { chooseRangeStarts } from '../../src/detection/parallel-scan';
import { execFileSync } from 'node:child_process';

const NOBODY = 65534;
let dir: string;
let secret: string;
let appLogs: string;
const cfg = parseConfig(
  {
    error_patterns: [
      { id: 'db_connection', name: 'db', pattern: 'ECONNREFUSED', severity: 'critical' },
      { id: 'json_parse', name: 'json', pattern: 'JSONDecodeError', severity: 'error', sources: ['log', 'json'] },
    ],
  },
  '/etc/autofix/error_patterns.json',
  {},
);

before(() => {
  assert.equal(process.getuid?.(), 0, 'these tests need root (the worker) and nobody (the app user)');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autofix-readsafe-'));
  const vault = path.join(dir, 'vault');
  fs.mkdirSync(vault, { mode: 0o700 });
  secret = path.join(vault, 'shadow');
  fs.writeFileSync(secret, 'ECONNREFUSED SECRET-LINE-1\n{"broken": SECRET-JSON\n', { mode: 0o600 });
  appLogs = path.join(dir, 'app');
  fs.mkdirSync(appLogs, { mode: 0o755 });
  fs.chownSync(appLogs, NOBODY, NOBODY);
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const matcher = compileMatcher(cfg.error_patterns);
const leaked = (x: unknown) => /SECRET-(LINE|JSON)/.test(JSON.stringify(x));

test('a symlink the app user planted in its log directory is not followed', async () => {
  const log = path.join(appLogs, 'app.log');
  fs.symlinkSync(secret, log);
  fs.lchownSync(log, NOBODY, NOBODY);
  const r = await scanLogs({ files: [log], cursors: {}, matcher });
  assert.equal(leaked(r), false, JSON.stringify(r.detections));
  assert.match(JSON.stringify(r.detections), /cannot be read/);
  const json = path.join(appLogs, 'state.json');
  fs.symlinkSync(secret, json);
  assert.deepEqual(await checkJsonFiles([json], cfg.error_patterns), [], 'a refused JSON file is skipped, never read');
  fs.rmSync(log);
  fs.rmSync(json);
});

test('a hard link into the app user\'s directory is refused too', async () => {
  const log = path.join(appLogs, 'app.log');
  fs.linkSync(secret, log); // as root here; a system without protected_hardlinks lets the user do it
  const r = await scanLogs({ files: [log], cursors: {}, matcher });
  assert.equal(leaked(r), false, JSON.stringify(r.detections));
  await assert.rejects(openForReading(log), /hard link/i);
  fs.rmSync(log);
});

test('a symlinked directory below the app user\'s directory is not followed', async () => {
  const sub = path.join(appLogs, 'archive');
  fs.symlinkSync(path.dirname(secret), sub);
  fs.lchownSync(sub, NOBODY, NOBODY);
  const r = await scanLogs({ files: [path.join(sub, 'shadow')], cursors: {}, matcher });
  assert.equal(leaked(r), false, JSON.stringify(r.detections));
  fs.rmSync(sub);
});

test("the app's own log, and an admin's symlink in a root-owned directory, are read", async () => {
  const log = path.join(appLogs, 'real.log');
  fs.writeFileSync(log, 'ECONNREFUSED from the app\n');
  fs.chownSync(log, NOBODY, NOBODY);
  const adminDir = path.join(dir, 'admin');
  fs.mkdirSync(adminDir, { mode: 0o755 });
  fs.symlinkSync(log, path.join(adminDir, 'app.log'));
  for (const f of [log, path.join(adminDir, 'app.log')]) {
    const r = await scanLogs({ files: [f], cursors: {}, matcher });
    assert.deepEqual(r.detections.map((d) => [d.id, d.count]), [['db_connection', 1]], f);
  }
});

/** `p` settled within `ms`: a rejection is returned, a promise still pending after `ms` fails the test. */
async function settledWithin(p: Promise<unknown>, ms: number, what: string): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} still blocked after ${ms} ms`)), ms)));
  try {
    return await Promise.race([p.then((v) => v, (e: unknown) => e), hung]);
  } finally {
    clearTimeout(timer);
  }
}

test('the cursor fingerprint and the split of a big file open the log as the scan does: a swapped-in symlink or FIFO is refused', async () => {
  // Between the scan's stat and these opens the app user renames something else over its log.
  const log = path.join(appLogs, 'swapped.log');
  fs.symlinkSync(secret, log);
  fs.lchownSync(log, NOBODY, NOBODY);
  assert.ok((await settledWithin(signatureAt(log, 20), 5000, 'signatureAt')) instanceof Error, 'the fingerprint of a planted symlink is refused, not taken of its target');
  assert.ok((await settledWithin(chooseRangeStarts(log, 64, 2, 16, 32), 5000, 'chooseRangeStarts')) instanceof Error, 'a planted symlink is not read to split it');
  fs.rmSync(log);
  // A FIFO: opening it for reading would wait for a writer, holding a thread of the worker forever.
  execFileSync('mkfifo', [log]);
  fs.chownSync(log, NOBODY, NOBODY);
  try {
    // One at a time: a rejection must not wait for a handler while another call is awaited.
    for (const [what, call] of [
      ['signatureAt', () => signatureAt(log, 20)],
      ['chooseRangeStarts', () => chooseRangeStarts(log, 64, 2, 16, 32)],
    ] as const) {
      assert.ok((await settledWithin(call(), 5000, what)) instanceof Error, `${what} refuses a FIFO`);
    }
  } finally {
    // Releases a reader the code before this fix left blocked on the FIFO (none now: ENXIO).
    try {
      fs.closeSync(fs.openSync(log, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
    } catch {
      // no reader waiting
    }
    fs.rmSync(log);
  }
});
