/**
 * A burst of 10,000 log lines per second for 60 seconds (one in ten an HTTP 500, one in ten a
 * Python exception) into a log watched by a daemon at the shipped cadence (30 s loops, 300 s
 * cooldown): one detection loop at a time and a handful of wakes, bounded memory, every error
 * line counted exactly once, one incident per pattern.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { autoFixDaemon } from '../../src/workflows/daemon';
import { statusQuery } from '../../src/workflows/definitions';
import { makeSandbox, http500Pattern, type Sandbox } from '../helpers/sandbox';
import { startTestWorker, waitFor, type TestTemporal } from '../helpers/temporal';

const SECONDS = 60;
const LINES_PER_SECOND = 10_000;
const BATCH_MS = 100;

describe('a burst of error lines', () => {
  let sb: Sandbox;
  let t: TestTemporal;
  const id = `daemon-burst-${Date.now()}`;
  const status = () => t.client.workflow.getHandle(id).query(statusQuery);

  before(async () => {
    sb = makeSandbox();
    sb.writeConfig({
      error_patterns: [
        http500Pattern,
        { id: 'python_exception', name: 'Python例外', pattern: '^[A-Za-z_][\\w.]*(?:Error|Exception)(?:: |$)', severity: 'error', auto_fix: true, actions: [{ type: 'alert' }] },
      ],
      // The shipped cooldown (300 s) and cadence (no daemon overrides).
      auto_fix_config: { notification_channels: ['log'] },
    });
    t = await startTestWorker({ configPath: sb.configPath });
    await t.client.workflow.start(autoFixDaemon, { workflowId: id, taskQueue: t.taskQueue, args: [{}] });
    await waitFor('first loop', async () => (await status()).totals.loops >= 1);
  });
  after(async () => {
    await t.client.workflow.getHandle(id).terminate('test done').catch(() => undefined);
    await t.close();
    sb.cleanup();
  });

  test('coalesces into a few loops, bounded memory, each line counted once, one incident per pattern', async (ctx) => {
    global.gc?.();
    const baseline = process.memoryUsage().rss;
    const before = await status();
    const wakesBefore = t.watching!.waker.stats.wakes;
    let peak = baseline;
    let written = 0;
    const perBatch = (LINES_PER_SECOND * BATCH_MS) / 1000;
    const start = Date.now();
    for (let batch = 0; Date.now() - start < SECONDS * 1000; batch++) {
      const lines: string[] = [];
      for (let i = 0; i < perBatch; i++, written++) {
        if (written % 10 === 3) lines.push(`127.0.0.1 - - [28/Dec/2025 10:30:00] "GET /api/items/${written} HTTP/1.1" 500 -`);
        else if (written % 10 === 7) lines.push(`ValueError: bad item ${written}`);
        else lines.push(`2025-12-28 10:30:00 INFO handled request ${written} in 3 ms`);
      }
      appendFileSync(sb.appLog, lines.join('\n') + '\n');
      peak = Math.max(peak, process.memoryUsage().rss);
      const next = start + (batch + 1) * BATCH_MS;
      await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
    }
    const errors = written / 10 + written / 10;
    const s = await waitFor('every line counted', async () => {
      const st = await status();
      peak = Math.max(peak, process.memoryUsage().rss);
      return st.totals.events - before.totals.events >= errors ? st : undefined;
    }, 120_000, 500);
    assert.equal(s.totals.events - before.totals.events, errors, 'each error line counted exactly once');
    const loops = s.totals.loops - before.totals.loops;
    const wakes = t.watching!.waker.stats.wakes - wakesBefore;
    // Wakes spaced 1, 2, 4, 8, 16, 30 s apart: at most 7 in 60 s, plus the scheduled loops (30 s apart) and one to catch up.
    assert.ok(wakes <= 8, `${wakes} wakes for ${written} lines`);
    assert.ok(loops <= wakes + 4, `${loops} loops`);
    // The file watcher reports once per loop (it does not stat again until the next loop starts).
    assert.ok(wakes >= 2, 'the burst woke the daemon');
    const incidents: Record<string, number> = {};
    for await (const wf of t.client.workflow.list({ query: `WorkflowId STARTS_WITH "incident-"` })) {
      if (wf.taskQueue !== t.taskQueue) continue;
      const pattern = /^incident-(.+)-\d{8}T\d{6}Z$/.exec(wf.workflowId)?.[1] ?? '?';
      incidents[pattern] = (incidents[pattern] ?? 0) + 1;
    }
    assert.deepEqual(incidents, { http_5xx: 1, python_exception: 1 }, 'one incident per pattern within the cooldown');
    const growthMiB = (peak - baseline) / 2 ** 20;
    ctx.diagnostic(`${written} lines, ${errors} errors: ${loops} loops, ${wakes} wakes, RSS ${(baseline / 2 ** 20).toFixed(0)} → peak ${(peak / 2 ** 20).toFixed(0)} MiB`);
    assert.ok(growthMiB < 64, `RSS grew by ${growthMiB.toFixed(1)} MiB during a ${written}-line burst`);
  });
});
