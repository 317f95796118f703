/**
 * `autofix fix` twice in a row on the default task queue, with no daemon and no worker: each
 * call must serve its saga itself. The server keeps reporting a stopped worker as a poller of
 * the queue for minutes after it stopped, so a second CLI call that trusts that report waits for
 * a worker that is gone.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { SagaResult } from '../../src/workflows/definitions';
import { makeSandbox, type Sandbox } from '../helpers/sandbox';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { temporalAddress } from '../helpers/temporal';

const BIN = path.resolve(__dirname, '../../../bin/autofix');

function fix(args: string[], timeoutMs: number): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, 'fix', ...args],
      { env: { ...process.env, TEMPORAL_ADDRESS: temporalAddress() }, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 32 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const e = err as { code?: unknown; signal?: unknown } | null;
        resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, signal: e && typeof e.signal === 'string' ? e.signal : null, stdout, stderr });
      },
    );
  });
}

describe('autofix fix, twice in a row on the default task queue', () => {
  let sb: Sandbox;
  const pattern = `cli_repeat_${Date.now().toString(36)}`;
  before(() => {
    sb = makeSandbox();
    sb.writeConfig({
      error_patterns: [
        {
          id: pattern,
          name: 'CLI test: repeat',
          pattern: 'NO_SUCH_LINE_REPEAT',
          severity: 'warning',
          auto_fix: true,
          actions: [{ type: 'create_missing_dirs' }],
        },
      ],
      managed: { roots: [sb.dir], directories: { one: path.join(sb.dir, 'one') } },
    });
  });
  // Calls that hung left sagas no worker ran; terminate them so no later worker on the
  // "autofix" queue runs them against this (deleted) sandbox. Ids carry a one-second stamp.
  const windows: Array<[number, number]> = [];
  after(async () => {
    const connection = await Connection.connect({ address: temporalAddress() });
    try {
      const client = new Client({ connection });
      for (const [from, to] of windows) {
        for (let s = Math.floor(from / 1000) - 1; s <= Math.ceil(to / 1000) + 1; s++) {
          const stamp = new Date(s * 1000).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
          await client.workflow
            .getHandle(`incident-${pattern}-manual-${stamp}`)
            .terminate('test cleanup: no worker ran this saga')
            .catch((err: unknown) => {
              if (!(err instanceof WorkflowNotFoundError) && !/already completed|not found/i.test(String(err))) throw err;
            });
        }
      }
    } finally {
      await connection.close();
      sb.cleanup();
    }
  });

  test('the second call finishes too (it must not wait for the first call’s stopped worker)', async () => {
    const results: SagaResult[] = [];
    for (let i = 0; i < 2; i++) {
      // A saga of one mkdir takes about a second; 45 s is only there so a hang fails the test.
      const from = Date.now();
      const r = await fix([pattern, '--config', sb.configPath, '--json'], 45_000);
      windows.push([from, Date.now()]);
      assert.equal(
        r.signal,
        null,
        `call ${i + 1} of \`autofix fix\` did not finish within 45 s: it waited for a worker on the task queue "autofix" that had stopped ` +
          `(the server still lists the previous call's worker as a poller). stderr tail:\n${r.stderr.slice(-1500)}`,
      );
      assert.equal(r.code, 0, r.stderr.slice(-3000));
      results.push(JSON.parse(r.stdout) as SagaResult);
      // Incident ids carry a one-second stamp: keep the two calls in different seconds.
      await new Promise((res) => setTimeout(res, 1100));
    }
    assert.deepEqual(
      results.map((r) => r.outcome),
      ['fixed', 'fixed'],
    );
    assert.notEqual(results[0]?.incidentId, results[1]?.incidentId);
    assert.ok(existsSync(path.join(sb.dir, 'one')));
  });
});
