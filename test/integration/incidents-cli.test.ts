/**
 * Incidents through the real CLI (`node bin/autofix`, a child process) on the real dev server:
 * `fix` (fixed / failed / dry run), `incidents` (JSON, table, filters), `incident show`,
 * `incident retry`, and `replay` of ids and of a history exported by the real `temporal` CLI.
 *
 * Every `fix` passes its own `--host`, so it runs on its own task queue (`autofix-<host>`) with
 * the CLI's in-process worker: the server remembers a stopped CLI worker as a "poller" for
 * minutes, and a later CLI call on the same queue would wait for it (see
 * incidents-cli-repeat.test.ts).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SagaInput, SagaResult } from '../../src/workflows/definitions';
import type { Timeline } from '../../src/cli/commands/incident-timeline';
import { makeSandbox, type Sandbox } from '../helpers/sandbox';
import { startTestWorker, temporalAddress, waitFor } from '../helpers/temporal';

const REPO = path.resolve(__dirname, '../../..');
const BIN = path.join(REPO, 'bin', 'autofix');

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `bin/autofix` against the test server; never rejects. */
function autofix(args: string[], timeoutMs = 90_000): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...process.env, TEMPORAL_ADDRESS: temporalAddress() }, timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (err as { code?: unknown }).code : 0;
        resolve({ code: typeof code === 'number' ? code : null, stdout, stderr });
      },
    );
  });
}

/** Runs the CLI, expects exit 0 and JSON on stdout. */
async function autofixJson<T>(args: string[]): Promise<T> {
  const r = await autofix(args);
  assert.equal(r.code, 0, `autofix ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr.slice(-3000)}`);
  return JSON.parse(r.stdout) as T;
}

interface IncidentRow {
  incidentId: string;
  pattern?: string;
  severity?: string;
  outcome?: string;
  host?: string;
  status: string;
  webUi: string;
}

/** A host name no other test uses (also makes the task queue and incident id unique). */
const uniqueHost = (tag: string) => `ic${tag}${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;

describe('incidents through the CLI', () => {
  let sb: Sandbox;
  let uploads: string;
  let cache: string;
  const pFix = `cli_fix_${Date.now().toString(36)}`;
  const pFail = `cli_fail_${Date.now().toString(36)}`;
  const pDry = `cli_dry_${Date.now().toString(36)}`;
  let fixed: SagaResult;
  let failed: SagaResult;
  let dry: SagaResult;
  const host = { fixed: uniqueHost('f'), failed: uniqueHost('x'), dry: uniqueHost('d') };

  before(() => {
    sb = makeSandbox();
    uploads = path.join(sb.dir, 'app', 'uploads');
    cache = path.join(sb.dir, 'app', 'cache');
    sb.writeConfig({
      error_patterns: [
        {
          id: pFix,
          name: 'CLI test: fixable',
          pattern: 'NO_SUCH_LINE_FIX',
          severity: 'error',
          auto_fix: true,
          actions: [
            { type: 'alert', description: 'tell the operator' },
            { type: 'create_missing_dirs', names: ['uploads'] },
          ],
        },
        {
          id: pFail,
          name: 'CLI test: refused',
          pattern: 'NO_SUCH_LINE_FAIL',
          severity: 'critical',
          auto_fix: true,
          // Port 1 is not in managed.ports: the action is refused (RefusedError, never retried).
          actions: [{ type: 'kill_process_on_port', port: 1, grace_seconds: 1 }],
        },
        {
          id: pDry,
          name: 'CLI test: dry run',
          pattern: 'NO_SUCH_LINE_DRY',
          severity: 'warning',
          auto_fix: true,
          actions: [{ type: 'create_missing_dirs', names: ['cache'] }],
        },
      ],
      managed: { roots: [sb.dir], directories: { uploads, cache }, ports: [] },
    });
  });
  after(() => sb.cleanup());

  test('fix: real actions → fixed, the directory exists', async () => {
    assert.equal(existsSync(uploads), false);
    fixed = await autofixJson<SagaResult>(['fix', pFix, '--config', sb.configPath, '--host', host.fixed, '--json']);
    assert.equal(fixed.outcome, 'fixed', JSON.stringify(fixed));
    assert.equal(fixed.patternId, pFix);
    assert.match(fixed.incidentId, new RegExp(`^incident-${host.fixed}-${pFix}-manual-\\d{8}T\\d{9}Z$`));
    assert.deepEqual(
      fixed.steps.map((s) => [s.type, s.status]),
      [
        ['alert', 'done'],
        ['create_missing_dirs', 'done'],
      ],
    );
    assert.equal(fixed.verification?.ok, true);
    assert.ok(existsSync(uploads), `${uploads} was not created`);
    // The alert action really went to alerts.log; a fix that worked is not an alert.
    const alerts = readFileSync(path.join(sb.dataDir, 'logs', 'alerts.log'), 'utf8');
    assert.equal(alerts.split('\n').filter((l) => l.includes(`"incident_id": "${fixed.incidentId}"`)).length, 1, `alerts.log:\n${alerts}`);
    assert.ok(!alerts.includes(`(${pFix}): fixed"`), `alerts.log has a "fixed" alert:\n${alerts}`);
  });

  test('fix: a refused action → failed, not retried', async () => {
    failed = await autofixJson<SagaResult>(['fix', pFail, '--config', sb.configPath, '--host', host.failed, '--json']);
    assert.equal(failed.outcome, 'failed', JSON.stringify(failed));
    assert.equal(failed.steps.length, 1);
    assert.equal(failed.steps[0]?.status, 'failed');
    assert.match(failed.steps[0]?.error ?? '', /RefusedError: kill_process_on_port: port 1 is not in managed\.ports/);
    assert.match(failed.reason ?? '', /action 0 \(kill_process_on_port\) failed/);
    assert.equal(failed.verification, undefined, 'no verification after a failed action');
  });

  test('fix --dry-run: skipped, plans recorded, nothing created', async () => {
    dry = await autofixJson<SagaResult>(['fix', pDry, '--config', sb.configPath, '--host', host.dry, '--dry-run', '--json']);
    assert.equal(dry.outcome, 'skipped', JSON.stringify(dry));
    assert.match(dry.reason ?? '', /dry run/);
    assert.equal(dry.steps[0]?.status, 'planned');
    assert.match(dry.steps[0]?.summary ?? '', new RegExp(`mkdir ${cache.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.equal(existsSync(cache), false, 'a dry run created the directory');
  });

  test('incidents --json lists them with pattern, severity, outcome and host; --pattern / --outcome filter', async () => {
    const ours = new Set([fixed.incidentId, failed.incidentId, dry.incidentId]);
    // Visibility is eventually consistent: wait until all three show with their final outcome.
    const rows = await waitFor(
      'the three incidents in `autofix incidents`',
      async () => {
        const out = await autofixJson<{ query: string; incidents: IncidentRow[] }>(['incidents', '--since', '1h', '--json']);
        const mine = out.incidents.filter((r) => ours.has(r.incidentId));
        return mine.length === 3 && mine.every((r) => r.outcome !== 'running' && r.status === 'COMPLETED') ? mine : undefined;
      },
      60_000,
      1000,
    );
    const byId = new Map(rows.map((r) => [r.incidentId, r]));
    assert.deepEqual(
      [byId.get(fixed.incidentId), byId.get(failed.incidentId), byId.get(dry.incidentId)].map((r) => [r?.pattern, r?.severity, r?.outcome, r?.host]),
      [
        [pFix, 'error', 'fixed', host.fixed],
        [pFail, 'critical', 'failed', host.failed],
        [pDry, 'warning', 'skipped', host.dry],
      ],
    );
    assert.match(byId.get(fixed.incidentId)?.webUi ?? '', new RegExp(`/namespaces/default/workflows/${fixed.incidentId}$`));

    const byPattern = await autofixJson<{ query: string; incidents: IncidentRow[] }>(['incidents', '--since', '1h', '--pattern', pFail, '--json']);
    assert.match(byPattern.query, new RegExp(`AutofixPattern = '${pFail}'`));
    assert.deepEqual(
      byPattern.incidents.map((r) => r.incidentId),
      [failed.incidentId],
    );

    const byOutcome = await autofixJson<{ query: string; incidents: IncidentRow[] }>(['incidents', '--since', '1h', '--outcome', 'skipped', '--json']);
    const skippedIds = byOutcome.incidents.map((r) => r.incidentId);
    assert.ok(skippedIds.includes(dry.incidentId), `skipped: ${skippedIds.join(', ')}`);
    assert.ok(!skippedIds.includes(fixed.incidentId) && !skippedIds.includes(failed.incidentId));
    assert.ok(byOutcome.incidents.every((r) => r.outcome === 'skipped'));

    const both = await autofixJson<{ query: string; incidents: IncidentRow[] }>(['incidents', '--since', '1h', '--pattern', pFix, '--outcome', 'failed', '--json']);
    assert.deepEqual(both.incidents, []);

    const byHost = await autofixJson<{ query: string; incidents: IncidentRow[] }>(['incidents', '--since', '1h', '--host', host.dry, '--json']);
    assert.deepEqual(
      byHost.incidents.map((r) => r.incidentId),
      [dry.incidentId],
    );
  });

  test('incidents (table) shows the ids, patterns and outcomes', async () => {
    const r = await autofix(['incidents', '--since', '1h']);
    assert.equal(r.code, 0, r.stderr);
    for (const [id, pattern, outcome] of [
      [fixed.incidentId, pFix, 'fixed'],
      [failed.incidentId, pFail, 'failed'],
      [dry.incidentId, pDry, 'skipped'],
    ] as const) {
      const line = r.stdout.split('\n').find((l) => l.includes(id));
      assert.ok(line, `no table row for ${id}:\n${r.stdout}`);
      assert.ok(line.includes(pattern) && line.includes(outcome), `row for ${id}: ${line}`);
    }
    const none = await autofix(['incidents', '--since', '1h', '--pattern', 'no_such_pattern_anywhere']);
    assert.equal(none.code, 0, none.stderr);
    assert.match(none.stdout, /^no incidents \(.*AutofixPattern = 'no_such_pattern_anywhere'/);
  });

  test('incident show --json: detection, each action, verification, alert, outcome', async () => {
    const t = await autofixJson<Timeline>(['incident', 'show', fixed.incidentId, '--json']);
    assert.equal(t.status, 'COMPLETED');
    assert.equal(t.outcome, 'fixed');
    assert.equal(t.taskQueue, `autofix-${host.fixed}`);
    assert.equal(t.input?.patternId, pFix);
    const steps = t.events.map((e) => e.step);
    const at = (step: string) => {
      const i = steps.indexOf(step);
      assert.ok(i >= 0, `no "${step}" event in ${JSON.stringify(steps)}`);
      return i;
    };
    const order = [at('detected'), at('action #0 alert'), at('action #1 create_missing_dirs'), at('verification'), at('outcome')];
    assert.deepEqual(
      order,
      [...order].sort((a, b) => a - b),
      `events out of order: ${JSON.stringify(steps)}`,
    );
    assert.match(t.events[at('detected')]?.detail ?? '', new RegExp(`\\(${pFix}, error\\)`));
    assert.match(t.events[at('action #1 create_missing_dirs')]?.detail ?? '', /created \d+ director/);
    assert.match(t.events[at('verification')]?.detail ?? '', /^ok: /);
    assert.equal(t.events[at('outcome')]?.detail, 'fixed');
    assert.match(t.events[at('recorded')]?.detail ?? '', /^outcome fixed logged and counted; alert: none$/, 'a fix that worked is recorded, not alerted');
    for (const e of t.events) assert.ok(!Number.isNaN(Date.parse(e.time)), `bad time ${e.time}`);

    const tf = await autofixJson<Timeline>(['incident', 'show', failed.incidentId, '--json']);
    assert.equal(tf.outcome, 'failed');
    const fail = tf.events.find((e) => / FAILED$/.test(e.step));
    assert.ok(fail, `no failed step: ${JSON.stringify(tf.events)}`);
    assert.match(fail.detail, /RefusedError: kill_process_on_port: port 1 is not in managed\.ports.*\(after 1 attempt\(s\)\)/);
    assert.ok(!tf.events.some((e) => e.step === 'verification'));
    assert.match(tf.events.at(-1)?.detail ?? '', /^failed — action 0 \(kill_process_on_port\) failed/);

    const td = await autofixJson<Timeline>(['incident', 'show', dry.incidentId, '--json']);
    assert.equal(td.outcome, 'skipped');
    assert.ok(td.events.some((e) => e.step === 'mode' && e.detail === 'dry run'));
    assert.ok(td.events.some((e) => e.step === 'dry-run #0 create_missing_dirs' && e.detail.includes(`mkdir ${cache}`)));

    // The plain table too, and a clear error for an unknown id.
    const table = await autofix(['incident', 'show', fixed.incidentId]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /verification/);
    assert.match(table.stdout, /outcome: fixed/);
    const missing = await autofix(['incident', 'show', 'incident-does-not-exist']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no incident incident-does-not-exist/);
  });

  test('incident retry: a new incident linked to the old one', async () => {
    // The old incident's queue is served by a real worker (as the daemon's worker would);
    // the CLI sees its poller and leaves the work to it.
    const w = await startTestWorker({ configPath: sb.configPath, taskQueue: `autofix-${host.failed}`, host: host.failed });
    let retry: SagaResult;
    try {
      retry = await autofixJson<SagaResult>(['incident', 'retry', failed.incidentId, '--json']);
    } finally {
      await w.close();
    }
    assert.notEqual(retry.incidentId, failed.incidentId);
    assert.match(retry.incidentId, new RegExp(`^${failed.incidentId}-retry-\\d{8}T\\d{9}Z$`));
    assert.equal(retry.patternId, pFail);
    assert.equal(retry.outcome, 'failed');
    const t = await autofixJson<Timeline>(['incident', 'show', retry.incidentId, '--json']);
    const input = t.input as SagaInput;
    assert.equal(input.retryOf, failed.incidentId);
    assert.equal(input.startedBy, 'cli');
    assert.equal(input.dryRun, false);
    assert.ok(t.events.some((e) => e.step === 'retry of' && e.detail === failed.incidentId));
    const listed = await waitFor(
      'the retry in `incidents --pattern`',
      async () => {
        const out = await autofixJson<{ incidents: IncidentRow[] }>(['incidents', '--since', '1h', '--pattern', pFail, '--json']);
        return out.incidents.length === 2 && out.incidents.every((r) => r.outcome === 'failed') ? out.incidents : undefined;
      },
      60_000,
      1000,
    );
    assert.deepEqual(listed.map((r) => r.incidentId).sort(), [failed.incidentId, retry.incidentId].sort());
    const missing = await autofix(['incident', 'retry', 'incident-does-not-exist']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no incident incident-does-not-exist/);
  });

  test('replay: the incidents by id, and a history exported by `temporal workflow show`', async () => {
    const ids = [fixed.incidentId, failed.incidentId, dry.incidentId];
    const r = await autofix(['replay', ...ids]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr.slice(-3000)}`);
    for (const id of ids) assert.match(r.stdout, new RegExp(`${id}\\s*│\\s*ok\\s`));
    assert.match(r.stdout, /3 ok, 0 failed/);

    const cli = process.env.AUTOFIX_TEST_TEMPORAL_CLI;
    assert.ok(cli, 'AUTOFIX_TEST_TEMPORAL_CLI is not set: run with the test runner');
    const exported = await new Promise<string>((resolve, reject) =>
      execFile(
        cli,
        ['workflow', 'show', '-w', fixed.incidentId, '--output', 'json', '--address', temporalAddress(), '--namespace', 'default'],
        { maxBuffer: 32 * 1024 * 1024, timeout: 60_000 },
        (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)),
      ),
    );
    const parsed = JSON.parse(exported) as { events: Array<{ eventType: string }> };
    assert.equal(parsed.events[0]?.eventType, 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED');
    assert.equal(parsed.events.at(-1)?.eventType, 'EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED');
    const dir = path.join(sb.dir, 'histories');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${fixed.incidentId}.json`);
    writeFileSync(file, exported);
    const j = await autofixJson<{ results: Array<{ workflowId: string; ok: boolean; error?: string }> }>(['replay', file, '--json']);
    assert.deepEqual(j.results, [{ workflowId: fixed.incidentId, ok: true }]);

    // Replay really checks: the same history against a different workflow type fails (exit 1).
    const tampered = JSON.parse(exported) as { events: Array<Record<string, unknown>> };
    const started = tampered.events[0]?.workflowExecutionStartedEventAttributes as { workflowType: { name: string } };
    started.workflowType.name = 'autoFixDaemon';
    const bad = path.join(dir, 'tampered.json');
    writeFileSync(bad, JSON.stringify(tampered));
    const rb = await autofix(['replay', bad]);
    assert.equal(rb.code, 1, `${rb.stdout}\n${rb.stderr.slice(-2000)}`);
    assert.match(rb.stdout, /0 ok, 1 failed/);
  });
});
