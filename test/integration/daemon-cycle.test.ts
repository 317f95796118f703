/**
 * The daemon workflow on the real dev server with the real activities, second-scale intervals:
 * loops and iterations, continue-as-new carrying cursors, pause/resume, runNow, reloadConfig,
 * one-shot mode.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { autoFixDaemon } from '../../src/workflows/daemon';
import { pauseFixesSignal, reloadConfigUpdate, resumeFixesSignal, runNowSignal, statusQuery } from '../../src/workflows/definitions';
import { makeSandbox, type Sandbox } from '../helpers/sandbox';
import { startTestWorker, waitFor, type TestTemporal } from '../helpers/temporal';

const line500 = (n: number) => `127.0.0.1 - - [28/Dec/2025 10:30:${String(n % 60).padStart(2, '0')}] "GET /api/items/${n} HTTP/1.1" 500 -\n`;

describe('autoFixDaemon', () => {
  let sb: Sandbox;
  let t: TestTemporal;
  before(async () => {
    sb = makeSandbox();
    t = await startTestWorker({ configPath: sb.configPath });
  });
  after(async () => {
    await t.close();
    sb.cleanup();
  });

  const status = (id: string) => t.client.workflow.getHandle(id).query(statusQuery);
  const start = (id: string, input: Parameters<typeof autoFixDaemon>[0]) =>
    t.client.workflow.start(autoFixDaemon, { workflowId: id, taskQueue: t.taskQueue, args: [{ ...input }] });

  test('runs loopCount loops, rests, continues as new, and counts each log line once across runs', async () => {
    sb.writeConfig({ error_patterns: [{ id: 'http_5xx', name: 'HTTP 5xx', pattern: '" 5\\d\\d ', severity: 'error', auto_fix: false, actions: [] }] });
    writeFileSync(sb.appLog, '');
    const id = `daemon-can-${Date.now()}`;
    const h = await start(id, { loopCount: 3, loopIntervalSeconds: 0.3, waitMinutes: 0.005 });
    // What the log holds at the first loop is the past: write after it.
    await waitFor('first loop', async () => (await status(id)).totals.loops >= 1);
    for (let i = 0; i < 3; i++) appendFileSync(sb.appLog, line500(i));
    await waitFor('iteration 3', async () => (await status(id)).iteration >= 3);
    for (let i = 3; i < 7; i++) appendFileSync(sb.appLog, line500(i));
    const s = await waitFor('7 events', async () => {
      const st = await status(id);
      return st.totals.events >= 7 ? st : undefined;
    });
    // A few more loops over an unchanged log must not count anything again.
    const loops = s.totals.loops;
    await waitFor('3 more loops', async () => (await status(id)).totals.loops >= loops + 3);
    const end = await status(id);
    assert.equal(end.totals.events, 7);
    assert.equal(end.totals.incidents, 0);
    // Each run is one iteration: the first run's history ends in continue-as-new.
    const first = t.client.workflow.getHandle(id, h.firstExecutionRunId);
    assert.equal((await first.describe()).status.name, 'CONTINUED_AS_NEW');
    const history = await first.fetchHistory();
    assert.ok((history.events ?? []).length < 100, `first run has ${history.events?.length} events`);
    const log = readFileSync(path.join(sb.dataDir, 'logs', 'auto_fix.log'), 'utf8');
    assert.match(log, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d - AutoFixDaemon - \[INFO\] - === 検知サイクル 1 開始 ===$/m);
    assert.match(log, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d - AutoFixDaemon - \[WARNING\] - エラー検出: HTTP 5xx$/m);
    await t.client.workflow.getHandle(id).terminate('test done');
  });

  test('pause stops fixes but not detection; resume restores them', async () => {
    sb.writeConfig();
    writeFileSync(sb.appLog, '');
    const id = `daemon-pause-${Date.now()}`;
    await start(id, { loopCount: 1000, loopIntervalSeconds: 0.3, waitMinutes: 0.01 });
    await waitFor('first loop', async () => (await status(id)).totals.loops >= 1);
    const h = t.client.workflow.getHandle(id);
    await h.signal(pauseFixesSignal, { reason: 'deploy in progress', minutes: 10 });
    const paused = await waitFor('paused', async () => {
      const s = await status(id);
      return s.paused ? s : undefined;
    });
    assert.equal(paused.pauseReason, 'deploy in progress');
    const before = paused.totals.events;
    const alertsLog = path.join(sb.dataDir, 'logs', 'alerts.log');
    const alertsBefore = existsSync(alertsLog) ? readFileSync(alertsLog, 'utf8') : '';
    appendFileSync(sb.appLog, line500(1));
    const detected = await waitFor('detection while paused', async () => {
      const s = await status(id);
      return s.totals.events > before ? s : undefined;
    });
    assert.equal(detected.totals.incidents, 0, 'no fix starts while paused');
    // Detection goes on (auto_fix.log); a detection is not an alert, and the alert action waits with the fix.
    await waitFor('logged', async () => (readFileSync(path.join(sb.dataDir, 'logs', 'auto_fix.log'), 'utf8').match(/エラー検出: HTTP 5xxエラー$/gm) ?? []).length > 0);
    assert.equal(existsSync(alertsLog) ? readFileSync(alertsLog, 'utf8') : '', alertsBefore, 'no alert while paused');

    await h.signal(resumeFixesSignal);
    appendFileSync(sb.appLog, line500(2));
    const resumed = await waitFor('incident after resume', async () => {
      const s = await status(id);
      return s.totals.incidents > 0 ? s : undefined;
    });
    assert.equal(resumed.paused, false);
    const incident = await waitFor('incident id', async () => {
      const list = t.client.workflow.list({ query: `WorkflowId STARTS_WITH "incident-http_5xx-"` });
      for await (const wf of list) if (wf.taskQueue === t.taskQueue) return wf.workflowId;
      return undefined;
    });
    const result = await t.client.workflow.getHandle(incident).result();
    assert.equal(result.outcome, 'fixed');
    assert.equal(result.steps[0]?.type, 'alert');
    await h.terminate('test done');
  });

  test('runNow cuts the current wait short', async () => {
    sb.writeConfig();
    const id = `daemon-runnow-${Date.now()}`;
    await start(id, { loopCount: 5, loopIntervalSeconds: 3600, waitMinutes: 60 });
    const first = await waitFor('first loop', async () => {
      const s = await status(id);
      return s.phase === 'between_loops' ? s : undefined;
    });
    assert.equal(first.loop, 1);
    await t.client.workflow.getHandle(id).signal(runNowSignal);
    const s = await waitFor('second loop', async () => {
      const st = await status(id);
      return st.loop >= 2 && st.totals.loops >= 2 ? st : undefined;
    });
    assert.ok(s.totals.loops >= 2);
    await t.client.workflow.getHandle(id).terminate('test done');
  });

  test('reloadConfig re-reads the worker\'s own file: a path is refused, a bad edit is refused and the old config kept', async () => {
    sb.writeConfig();
    const id = `daemon-reload-${Date.now()}`;
    await start(id, { loopCount: 1000, loopIntervalSeconds: 0.5, waitMinutes: 0.01 });
    await waitFor('first loop', async () => (await status(id)).totals.loops >= 1);
    const h = t.client.workflow.getHandle(id);
    // A client cannot name another file: the update is rejected before it reaches the history.
    const other = path.join(sb.dir, 'other.json');
    writeFileSync(other, readFileSync(sb.configPath));
    await assert.rejects(h.executeUpdate(reloadConfigUpdate, { args: [{ path: other } as never] }), (err: unknown) => {
      assert.ok(err instanceof WorkflowUpdateFailedError);
      assert.match(String((err.cause as Error).message), /\$\.?: field\(s\) path not accepted: a path cannot be sent/);
      return true;
    });
    // An invalid edit of the worker's own file is refused; the daemon keeps its config and loops on.
    const good = readFileSync(sb.configPath, 'utf8');
    writeFileSync(sb.configPath, JSON.stringify({ error_patterns: [{ id: 'x', name: 'x', pattern: 'a', severity: 'fatal' }] }));
    await assert.rejects(h.executeUpdate(reloadConfigUpdate, { args: [{}] }), (err: unknown) => {
      assert.ok(err instanceof WorkflowUpdateFailedError);
      assert.match(String((err.cause as Error).message), /error_patterns\[0\]\.severity/);
      return true;
    });
    const loops = (await status(id)).totals.loops;
    await waitFor('loops go on', async () => (await status(id)).totals.loops > loops + 1);
    assert.equal((await status(id)).config, sb.configPath);
    writeFileSync(sb.configPath, good);
    const r = await h.executeUpdate(reloadConfigUpdate, { args: [{}] });
    assert.equal(r.source, sb.configPath);
    assert.equal(r.patterns, 1);
    await h.terminate('test done');
  });

  test('one-shot mode runs one loop, fixes, and returns a summary', async () => {
    sb.writeConfig();
    const once = () => t.client.workflow.execute(autoFixDaemon, { workflowId: `daemon-once-${Date.now()}`, taskQueue: t.taskQueue, args: [{ once: true }] });
    // One-shot runs continue where the last scan stopped: the first sees nothing new.
    await once();
    appendFileSync(sb.appLog, line500(1) + line500(2) + 'GET /errors HTTP/1.1" 200 12\n');
    const summary = await once();
    assert.equal(summary.loops, 1);
    assert.equal(summary.detections.length, 1);
    assert.equal(summary.detections[0]?.count, 2);
    assert.equal(summary.incidents.length, 1);
    assert.equal(summary.incidents[0]?.outcome, 'fixed');
  });
});
