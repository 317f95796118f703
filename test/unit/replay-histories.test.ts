/**
 * Every stored history (test/histories/, exported from real runs with `temporal workflow show
 * --output json`) replays against the current workflow code; a deliberately non-deterministic
 * change fails the replay, and the same change behind patched() passes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { DeterminismViolationError } from '@temporalio/workflow';
import { readHistoryFile, replayAll } from '../../src/cli/commands/replay';

const DIR = path.resolve(__dirname, '../../../test/histories');
const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();
const histories = () => files.map((f) => readHistoryFile(path.join(DIR, f)));

test('the fixtures cover the daemon and every saga outcome', () => {
  for (const name of ['daemon-continued-as-new', 'daemon-one-shot', 'saga-fixed', 'saga-failed-compensated', 'saga-failed', 'saga-skipped-paused', 'saga-dry-run']) {
    assert.ok(files.includes(`${name}.json`), `missing test/histories/${name}.json`);
  }
});

test('every stored history replays against the current workflow code', async () => {
  const results = await replayAll(histories());
  assert.equal(results.length, files.length);
  for (const r of results) assert.equal(r.ok, true, `${r.workflowId}: ${r.error}`);
});

test('an unguarded change to the daemon fails replay with a determinism violation', async () => {
  const changed = require.resolve('../fixtures/workflows-changed');
  const daemon = histories().filter((h) => h.workflowId.startsWith('daemon-'));
  const results = await replayAll(daemon, changed);
  assert.equal(results.length, daemon.length);
  for (const r of results) {
    assert.equal(r.ok, false, `${r.workflowId} should not replay`);
    assert.match(r.error ?? '', new RegExp(DeterminismViolationError.name));
  }
});

test('the same change behind patched() replays the old histories', async () => {
  const patchedPath = require.resolve('../fixtures/workflows-patched');
  const results = await replayAll(histories(), patchedPath);
  for (const r of results) assert.equal(r.ok, true, `${r.workflowId}: ${r.error}`);
});
