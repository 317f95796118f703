/**
 * Many hosts on one Temporal server: two workers, each on its own task queue with its own config
 * (its own "machine"), one daemon per host. A fault on host A is repaired by A's worker only, and
 * A's /metrics endpoint shows the real counters moving; `status --all` sees both daemons.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { appendFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { statusQuery } from '../../src/workflows/definitions';
import { AutofixHost } from '../../src/workflows/search-attributes';
import { makeSandbox, type Sandbox } from '../helpers/sandbox';
import { freePort } from '../helpers/net';
import { startTestWorker, temporalAddress, waitFor, type TestTemporal } from '../helpers/temporal';

const REPO = path.resolve(__dirname, '../../..');

interface Host {
  name: string;
  sb: Sandbox;
  t: TestTemporal;
  uploads: string;
  daemonId: string;
}

describe('two hosts, one Temporal server', () => {
  const hosts: Host[] = [];
  let metricsPort: number;
  const run = Date.now();

  before(async () => {
    metricsPort = await freePort();
    for (const name of ['alpha', 'beta']) {
      const sb = makeSandbox();
      const uploads = path.join(sb.dir, 'uploads');
      sb.writeConfig({
        error_patterns: [
          {
            id: 'fs_not_found',
            name: 'ファイル不存在',
            pattern: 'FileNotFoundError|No such file or directory',
            severity: 'error',
            auto_fix: true,
            actions: [{ type: 'create_missing_dirs' }],
          },
        ],
        managed: { roots: [sb.dir], directories: { uploads } },
      });
      const t = await startTestWorker({
        configPath: sb.configPath,
        host: name,
        taskQueue: `autofix-${name}-${run}`,
        ...(name === 'alpha' ? { metricsBind: `127.0.0.1:${metricsPort}` } : {}),
      });
      const daemonId = `autofix-daemon-${name}-${run}`;
      await t.client.workflow.start('autoFixDaemon', {
        workflowId: daemonId,
        taskQueue: t.taskQueue,
        args: [{ host: name, loopCount: 10_000, loopIntervalSeconds: 0.3, waitMinutes: 0.01 }],
      });
      hosts.push({ name, sb, t, uploads, daemonId });
    }
  });

  after(async () => {
    for (const h of hosts) {
      await h.t.client.workflow.getHandle(h.daemonId).terminate('test done').catch(() => undefined);
      await h.t.close();
      h.sb.cleanup();
    }
  });

  test('a fault on one host is repaired by that host\'s worker only, and its /metrics counters move', async () => {
    const [alpha, beta] = hosts as [Host, Host];
    // What the log holds at the daemon's first loop is the past: write after it.
    await waitFor('first loop', async () => (await alpha.t.client.workflow.getHandle(alpha.daemonId).query(statusQuery)).totals.loops >= 1);
    appendFileSync(alpha.sb.appLog, `FileNotFoundError: [Errno 2] No such file or directory: '${alpha.uploads}/a.png'\n`);
    const incident = await waitFor('alpha incident', async () => {
      for await (const wf of alpha.t.client.workflow.list({ query: `WorkflowId STARTS_WITH "incident-alpha-fs_not_found-"` })) {
        // Visibility is eventually consistent: wait until the listing carries the attributes.
        if (wf.taskQueue === alpha.t.taskQueue && wf.typedSearchAttributes.get(AutofixHost)) return wf;
      }
      return undefined;
    });
    assert.equal(incident.typedSearchAttributes.get(AutofixHost), 'alpha');
    const result = await alpha.t.client.workflow.getHandle(incident.workflowId).result();
    assert.equal(result.outcome, 'fixed');
    assert.ok(existsSync(alpha.uploads), "alpha's directory was created on alpha");
    assert.equal(existsSync(beta.uploads), false, "beta's sandbox is untouched");
    const betaStatus = await beta.t.client.workflow.getHandle(beta.daemonId).query(statusQuery);
    assert.equal(betaStatus.totals.incidents, 0);
    assert.equal(betaStatus.host, 'beta');

    const metrics = await waitFor('metrics', async () => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      return /autofix_incidents_total\{pattern="fs_not_found",outcome="fixed"\} 1/.test(text) ? text : undefined;
    });
    assert.match(metrics, /autofix_actions_total\{type="create_missing_dirs",result="ok"\} 1/);
    assert.match(metrics, /autofix_detections_total\{pattern="fs_not_found",severity="error",source="log"\} [1-9]/);
    assert.match(metrics, /autofix_saga_duration_seconds_count\{pattern="fs_not_found",outcome="fixed"\} 1/);
    assert.match(metrics, /autofix_last_loop_timestamp_seconds \d/);
    assert.match(metrics, /autofix_fixes_paused 0/);
    assert.match(metrics, /^temporal_\w+/m, 'the SDK metrics are on the same endpoint');
  });

  test('status --all shows every host', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [path.join(REPO, 'bin', 'autofix'), 'status', '--all', '--json'], {
      env: { ...process.env, TEMPORAL_ADDRESS: temporalAddress() },
      timeout: 60_000,
    });
    const daemons = (JSON.parse(stdout) as { daemons: Array<{ workflowId: string; status?: { host?: string } }> }).daemons;
    for (const h of hosts) {
      const d = daemons.find((x) => x.workflowId === h.daemonId);
      assert.equal(d?.status?.host, h.name);
    }
  });
});
