/**
 * The embedded server's SQLite state survives kill -9 at any moment: a real `up` watches a real
 * log; bursts of error lines start one incident (a remediation saga) per pattern; the server is
 * killed while each burst is being handled, at a different moment each time. After its restarts,
 * every incident is listed exactly once and has completed, each of its alerts is in alerts.log
 * exactly once, and the daemon goes on looping.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { waitFor } from '../helpers/temporal';
import { alertsIn, cli, loopsAbove, startUp, type UpProcess } from '../helpers/up';

const ROUNDS = [0.1, 0.4, 0.9]; // seconds between a burst and the kill
const PER_ROUND = 5;

interface Row {
  incidentId: string;
  pattern?: string;
  status: string;
  outcome?: string;
}

describe('crash-safe state on the embedded server', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'autofix-crashsafe-'));
  let up: UpProcess | undefined;
  after(async () => {
    await up?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  test('kill -9 during bursts of incidents: every incident listed once, each alert once, the daemon resumes', async () => {
    const appLog = path.join(tmp, 'app', 'app.log');
    mkdirSync(path.dirname(appLog), { recursive: true });
    writeFileSync(appLog, '');
    const ids = ROUNDS.flatMap((_, r) => Array.from({ length: PER_ROUND }, (_, i) => `burst_r${r}_p${i}`));
    up = await startUp(tmp, {
      error_patterns: ids.map((id) => ({
        id,
        name: `burst ${id}`,
        pattern: `BURST ${id}\\b`,
        severity: 'error',
        auto_fix: true,
        actions: [{ type: 'alert', description: 'alert only' }],
      })),
      // An activity that finished while the server was dying may have lost its completion: Temporal
      // runs it again once its start-to-close timeout passes. Short timeouts keep the test short.
      auto_fix_config: { notification_channels: ['alerts'], cooldown_period: 1, retry_delay: 1, action_timeout_seconds: 10, verify_timeout_seconds: 10 },
      daemon: { loop_interval_seconds: 0.5, wait_minutes: 0.01 },
      watch: { logs: [appLog] },
      health_checks: { postgres: { enabled: false }, redis: { enabled: false }, disk: { enabled: false }, memory: { enabled: false } },
    });
    const u = up;
    let loops = await loopsAbove(u, 1, 30_000); // the log cursor is set: lines from now on count
    for (const [r, delay] of ROUNDS.entries()) {
      const pid = u.serverPid() as number;
      appendFileSync(appLog, ids.filter((id) => id.startsWith(`burst_r${r}_`)).map((id) => `2025-01-01 ERROR BURST ${id} failed\n`).join(''));
      await new Promise((res) => setTimeout(res, delay * 1000));
      process.kill(pid, 'SIGKILL');
      await waitFor('a new server', async () => u.serverPid() !== pid, 30_000, 100);
      loops = await loopsAbove(u, loops, 30_000);
    }

    const rows = await waitFor('every incident closed', async () => {
      const res = await cli(['incidents', '--json', '--since', '1h'], u.clientEnv);
      if (res.code !== 0) return undefined;
      const list = (JSON.parse(res.stdout) as { incidents: Row[] }).incidents;
      if (list.length >= ids.length && list.every((x) => x.status === 'COMPLETED')) return list;
      throw new Error(`${list.length} incidents: ${list.map((x) => `${x.pattern}=${x.status}`).join(' ')}`); // shown on time-out

    }, 180_000, 1000);
    assert.equal(rows.length, ids.length, JSON.stringify(rows, null, 1));
    assert.deepEqual(rows.map((x) => x.pattern).sort(), [...ids].sort(), 'one incident per pattern, none lost, none twice');
    assert.equal(new Set(rows.map((x) => x.incidentId)).size, ids.length);
    for (const x of rows) assert.equal(x.outcome, 'fixed', x.incidentId);

    // Each incident alerts once (its alert action; a fixed outcome is no alert), never repeated.
    const alerts = alertsIn(u.dataDir).filter((a) => a.incident_id);
    for (const x of rows) {
      const mine = alerts.filter((a) => a.incident_id === x.incidentId).map((a) => a.message.replace(/ in \S+:\d+ on.*$/, ''));
      assert.deepEqual(mine, [`burst ${x.pattern} (${x.pattern}) detected 1 time(s)`], x.incidentId);
    }
    assert.match(u.out(), /restart 3\)/);
    await loopsAbove(u, loops, 30_000); // and the daemon goes on
  });
});
