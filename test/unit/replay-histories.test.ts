/**
 * Every stored history (test/histories/, exported from real runs with `temporal workflow show
 * --output json`) replays against the current workflow code; a deliberately non-deterministic
 * change fails the replay, and the same change behind patched() passes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DeterminismViolationError } from '@temporalio/workflow';
import { readHistoryFile, replayAll } from '../../src/cli/commands/replay';
import { EVENT_LOOPS_PATCH } from '../../src/workflows/daemon';

const DIR = path.resolve(__dirname, '../../../test/histories');
const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();
const histories = () => files.map((f) => readHistoryFile(path.join(DIR, f)));

test('the fixtures cover the daemon and every saga outcome', () => {
  for (const name of ['daemon-continued-as-new', 'daemon-one-shot', 'daemon-woken', 'saga-fixed', 'saga-failed-compensated', 'saga-failed', 'saga-skipped-paused', 'saga-dry-run']) {
    assert.ok(files.includes(`${name}.json`), `missing test/histories/${name}.json`);
  }
});

test('daemon-woken has the shape of event loops: watcher wakes with a reason, the patch marker, loops inside a rest', () => {
  const raw = readFileSync(path.join(DIR, 'daemon-woken.json'), 'utf8');
  const text = raw.replace(/"data":\s*"([A-Za-z0-9+/=]+)"/g, (_, b64: string) => `"data": ${JSON.stringify(Buffer.from(b64, 'base64').toString('utf8'))}`);
  const events = (JSON.parse(raw) as { history: { events: Array<Record<string, { signalName?: string; markerName?: string } | undefined>> } }).history.events;
  const names = events.map((e) => e.workflowExecutionSignaledEventAttributes?.signalName ?? e.markerRecordedEventAttributes?.markerName);
  assert.ok(text.includes(EVENT_LOOPS_PATCH) && names.includes('core_patch'), 'the event-loops patch marker');
  assert.match(text, /\\"reason\\":\\"log\\"/, 'a wake from the log watcher');
  assert.match(text, /\\"reason\\":\\"process\\",\\"checks\\":\[\\"ports\\"\]/, 'a wake that forces a check');
  // An event loop: after a wake, a loop marker without a timer having fired in between.
  const wake = names.indexOf('runNow');
  const next = events.slice(wake).findIndex((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity' || e.timerFiredEventAttributes);
  assert.ok(events[wake + next]?.markerRecordedEventAttributes, 'the woken loop ran before the rest timer fired');
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
