/**
 * Our own CLI driving the daemon, as the README shows it: `run` (one cycle, with an in-process
 * worker when none serves the queue), `run --continuous`, `pause`, `status`, `resume`, `run-now`,
 * `stop` — each a child process against the real dev server.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { appendFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { DaemonStatus, DaemonSummary } from '../../src/workflows/definitions';
import { makeSandbox, type Sandbox } from '../helpers/sandbox';
import { startTestWorker, temporalAddress, waitFor, type TestTemporal } from '../helpers/temporal';

const CLI = path.resolve(__dirname, '../../../bin/autofix');

async function autofix(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await promisify(execFile)(process.execPath, [CLI, ...args], { env: { ...process.env, TEMPORAL_ADDRESS: temporalAddress() }, timeout: 120_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('the autofix CLI drives the daemon', () => {
  let sb: Sandbox;
  let t: TestTemporal | undefined;
  const host = `cli${Date.now().toString(36)}`;
  before(() => {
    sb = makeSandbox();
  });
  after(async () => {
    await t?.close();
    sb.cleanup();
  });

  test('`run` (one cycle) detects, fixes and prints a summary, with no daemon or worker running', async () => {
    // What the log held before the first run is the past; each run continues where the last stopped.
    writeFileSync(sb.appLog, '127.0.0.1 - - [28/Dec/2025 10:29:00] "GET /old HTTP/1.1" 500 -\n');
    const first = await autofix(['run', '--config', sb.configPath, '--host', `${host}once0`, '--json']);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual((JSON.parse(first.stdout) as DaemonSummary).detections, []);
    appendFileSync(sb.appLog, '127.0.0.1 - - [28/Dec/2025 10:30:00] "GET /a HTTP/1.1" 500 -\n127.0.0.1 - - [28/Dec/2025 10:30:01] "GET /b HTTP/1.1" 503 -\n');
    const r = await autofix(['run', '--config', sb.configPath, '--host', `${host}once`, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout) as DaemonSummary;
    assert.equal(summary.loops, 1);
    assert.equal(summary.detections[0]?.id, 'http_5xx');
    assert.equal(summary.detections[0]?.count, 2);
    assert.equal(summary.incidents[0]?.outcome, 'fixed');
    appendFileSync(sb.appLog, '127.0.0.1 - - [28/Dec/2025 10:30:02] "GET /c HTTP/1.1" 502 -\n');
    const table = await autofix(['run', '--config', sb.configPath, '--host', `${host}once2`]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /http_5xx/);
  });

  test('`run --continuous`, `pause`, `status`, `resume`, `run-now`, `stop`', async () => {
    writeFileSync(sb.appLog, '');
    t = await startTestWorker({ configPath: sb.configPath, host, taskQueue: `autofix-${host}` });
    const started = await autofix(['run', '--continuous', '--host', host, '--config', sb.configPath, '--loop-count', '100', '--loop-interval', '3600', '--wait-minutes', '60', '--json']);
    assert.equal(started.code, 0, started.stderr);
    const out = JSON.parse(started.stdout) as { workflowId: string; attached: boolean };
    assert.equal(out.workflowId, `autofix-daemon-${host}`);
    assert.equal(out.attached, false);
    const again = JSON.parse((await autofix(['run', '--continuous', '--host', host, '--config', sb.configPath, '--json'])).stdout) as { attached: boolean };
    assert.equal(again.attached, true, 'a second start attaches to the running daemon');

    const status = async () => JSON.parse((await autofix(['status', '--host', host, '--json'])).stdout) as DaemonStatus;
    await waitFor('first loop', async () => (await status()).phase === 'between_loops', 60_000, 500);
    assert.equal((await autofix(['pause', '--host', host, '--reason', 'release 42', '--minutes', '30'])).code, 0);
    const paused = await waitFor('paused', async () => {
      const s = await status();
      return s.paused ? s : undefined;
    });
    assert.equal(paused.pauseReason, 'release 42');
    assert.ok(paused.pausedUntil);
    const table = await autofix(['status', '--host', host]);
    assert.match(table.stdout, /PAUSED — release 42/);

    assert.equal((await autofix(['resume', '--host', host])).code, 0);
    await waitFor('resumed', async () => !(await status()).paused);

    appendFileSync(sb.appLog, '127.0.0.1 - - [28/Dec/2025 10:30:02] "GET /c HTTP/1.1" 500 -\n');
    assert.equal((await autofix(['run-now', '--host', host])).code, 0);
    const s = await waitFor('loop 2 after run-now', async () => {
      const st = await status();
      return st.totals.loops >= 2 && st.totals.events >= 1 ? st : undefined;
    });
    assert.equal(s.totals.events, 1);

    assert.equal((await autofix(['stop', '--host', host])).code, 0);
    await waitFor('stopped', async () => (await t!.client.workflow.getHandle(`autofix-daemon-${host}`).describe()).status.name === 'COMPLETED');
  });

  test('signals to a daemon that does not exist say so and exit 1', async () => {
    const r = await autofix(['pause', '--host', `${host}-missing`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /is not running/);
  });
});
