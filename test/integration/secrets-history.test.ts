/**
 * No secret in any history. A full run — the daemon, sagas of every outcome, email through a real
 * SMTP server that requires authentication, a webhook that requires an Authorization header and
 * echoes its URL in an error, DATABASE_URL and REDIS_URL with passwords, an HTTP endpoint with
 * credentials in its URL — then every workflow's
 * history, exported with the real `temporal workflow show --output json`, holds none of the
 * sentinel secrets, while the secrets demonstrably did their work (the database and Redis checks
 * pass with them, the SMTP server and the webhook accept them).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { makeSandbox, type Sandbox } from '../helpers/sandbox';
import { startTestWorker, temporalAddress, waitFor, type TestTemporal } from '../helpers/temporal';
import { freePort } from '../helpers/net';
import { statusQuery, stopSignal, type SagaInput } from '../../src/workflows/definitions';

const run = promisify(execFile);
const SECRETS = {
  smtp: 'smtp-pass-SENTINEL-a1',
  hookToken: 'hook-token-SENTINEL-b2',
  hookAuth: 'hook-auth-SENTINEL-c3',
  pg: 'pg-pass-SENTINEL-d4',
  redis: 'redis-pass-SENTINEL-e5',
  http: 'http-pass-SENTINEL-f6',
};

let sb: Sandbox;
let t: TestTemporal;
let smtp: SMTPServer;
let hook: http.Server;
const seen = { smtpAuth: 0, mails: 0, hookAuthorized: 0 };

before(async () => {
  const smtpPort = await freePort();
  smtp = new SMTPServer({
    authMethods: ['PLAIN', 'LOGIN'],
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onAuth(auth, _session, cb) {
      if (auth.username === 'ops' && auth.password === SECRETS.smtp) {
        seen.smtpAuth++;
        return cb(null, { user: 'ops' });
      }
      cb(new Error('invalid credentials'));
    },
    onData(stream, _session, cb) {
      stream.on('data', () => undefined);
      stream.on('end', () => {
        seen.mails++;
        cb();
      });
    },
  });
  await new Promise<void>((res) => smtp.listen(smtpPort, '127.0.0.1', res));
  hook = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (req.headers.authorization !== `Bearer ${SECRETS.hookAuth}`) return res.writeHead(401).end('no');
      seen.hookAuthorized++;
      // Alerts about port_in_use fail, echoing the URL (as many servers do): the failure is
      // recorded in those incidents' close-out, and must not carry the token.
      if (body.includes('port_in_use')) return res.writeHead(500).end(`cannot deliver to ${req.url}`);
      res.end('ok');
    });
  });
  await new Promise<void>((res) => hook.listen(0, '127.0.0.1', res));
  const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hooks/${SECRETS.hookToken}`;

  process.env.DATABASE_URL = `postgresql://root:${SECRETS.pg}@127.0.0.1:5432/test`;
  process.env.REDIS_URL = `redis://:${SECRETS.redis}@127.0.0.1:6379`;
  process.env.AUTOFIX_TEST_HOOK_AUTH = `Bearer ${SECRETS.hookAuth}`;
  sb = makeSandbox();
  const bigLog = path.join(sb.dir, 'logs', 'big.log');
  writeFileSync(bigLog, 'x'.repeat(64 * 1024) + '\n');
  const alertOnly = (id: string, extra: Record<string, unknown> = {}) => ({ id, name: id, pattern: `${id}-never-in-a-log`, severity: 'error', auto_fix: true, actions: [{ type: 'alert' }], ...extra });
  sb.writeConfig({
    error_patterns: [
      { id: 'http_5xx', name: 'HTTP 5xx', pattern: '" 5\\d\\d ', severity: 'error', auto_fix: true, actions: [{ type: 'alert' }] },
      alertOnly('app_down', { health_checks: ['http_endpoints'] }),
      alertOnly('redis_connection', { health_checks: ['redis_connection'] }),
      alertOnly('db_connection', { health_checks: ['database_connection'] }),
      { id: 'disk_full', name: 'disk', pattern: 'ENOSPC', severity: 'critical', auto_fix: true, actions: [{ type: 'log_rotate', files: [bigLog], max_bytes: 1024 }, { type: 'kill_process_on_port', port: 1 }] },
      { id: 'port_in_use', name: 'port', pattern: 'EADDRINUSE', severity: 'error', auto_fix: true, actions: [{ type: 'kill_process_on_port', port: 1 }] },
    ],
    auto_fix_config: { max_retries: 1, retry_delay: 1, cooldown_period: 1, verify_timeout_seconds: 2, notification_channels: ['log', 'alerts', 'email', 'webhook'] },
    health_checks: {
      postgres: { interval_seconds: 1 },
      redis: { interval_seconds: 1 },
      disk: { enabled: false },
      memory: { enabled: false },
      // Not critical: the first alert (whose webhook call fails) is then a saga's, recorded in its history.
      http: { interval_seconds: 1, critical: false, endpoints: [{ name: 'app', url: `http://admin:${SECRETS.http}@127.0.0.1:${await freePort()}/health` }] },
    },
    notifications: {
      email: { host: '127.0.0.1', port: smtpPort, user: 'ops', pass: SECRETS.smtp, to: ['ops@example.test'] },
      webhook: { url: hookUrl, headers_env: { Authorization: 'AUTOFIX_TEST_HOOK_AUTH' } },
    },
  });
  t = await startTestWorker({ configPath: sb.configPath });
});

after(async () => {
  await t.close();
  await new Promise<void>((res) => smtp.close(res));
  await new Promise<void>((res) => hook.close(() => res()));
  sb.cleanup();
});

/** Every string of a history export, with its base64 payloads decoded. */
function decoded(exported: string): string {
  return exported.replace(/"data":\s*"([A-Za-z0-9+/=]+)"/g, (_, b64: string) => JSON.stringify(Buffer.from(b64, 'base64').toString('utf8')));
}

test('a full run keeps every secret out of every history', async () => {
  const daemonId = `daemon-secrets-${Date.now()}`;
  await t.client.workflow.start('autoFixDaemon', { workflowId: daemonId, taskQueue: t.taskQueue, args: [{ loopCount: 10_000, loopIntervalSeconds: 0.5, waitMinutes: 0.01 }] });
  // What the log holds at the daemon's first loop is the past: write after it.
  await waitFor('first loop', async () => (await t.client.workflow.getHandle(daemonId).query(statusQuery)).totals.loops >= 1);
  appendFileSync(sb.appLog, '127.0.0.1 - - [01/Dec/2026 00:00:00] "GET / HTTP/1.1" 500 -\n');
  const saga = (patternId: string, extra: Partial<SagaInput> = {}) => {
    const input: SagaInput = { incidentId: `incident-secrets-${patternId}-${Object.keys(extra).join('') || 'run'}-${Date.now()}`, patternId, detection: { id: patternId, count: 1, source: 'log', samples: ['x'] }, host: '', startedBy: 'cli', ...extra };
    return t.client.workflow.execute('remediationSaga', { workflowId: input.incidentId, taskQueue: t.taskQueue, args: [input] });
  };
  const outcomes = await Promise.all([saga('disk_full'), saga('port_in_use'), saga('port_in_use', { paused: true }), saga('disk_full', { dryRun: true })]);
  assert.deepEqual(outcomes.map((r) => r.outcome).sort(), ['failed', 'failed_compensated', 'skipped', 'skipped']);
  // The daemon's own incidents: the 500 line, and the health checks that fail because of the secrets' URLs.
  const incidents = async () => {
    const ids: string[] = [];
    for await (const wf of t.client.workflow.list({ query: `TaskQueue = '${t.taskQueue}' AND WorkflowId STARTS_WITH 'incident-' AND ExecutionStatus = 'Completed'` })) ids.push(wf.workflowId);
    return ids;
  };
  await waitFor('the daemon fixed the 500 and alerted on the app endpoint', async () => {
    const ids = await incidents();
    return ['http_5xx', 'app_down'].every((p) => ids.some((id) => id.startsWith(`incident-${p}-`)));
  }, 60_000).catch(async (err: Error) => {
    const log = readFileSync(path.join(sb.dataDir, 'logs', 'auto_fix.log'), 'utf8').split('\n').slice(-15).join('\n');
    throw new Error(`${err.message}; incidents: ${(await incidents()).join(', ')}; auto_fix.log ends with:\n${log}`);
  });
  await waitFor('an alert went out by email (authenticated) and by webhook (authorized)', async () => seen.mails > 0 && seen.smtpAuth > 0 && seen.hookAuthorized > 1, 30_000);
  const health = (await t.client.workflow.getHandle(daemonId).query(statusQuery)).lastHealth?.checks;
  assert.equal(health?.database_connection, 'healthy', 'DATABASE_URL with its password works');
  assert.equal(health?.redis_connection, 'healthy', 'REDIS_URL with its password works');
  await t.client.workflow.getHandle(daemonId).signal(stopSignal);
  await t.client.workflow.getHandle(daemonId).result();

  const cli = process.env.AUTOFIX_TEST_TEMPORAL_CLI as string;
  let all = '';
  let histories = 0;
  for await (const wf of t.client.workflow.list({ query: `TaskQueue = '${t.taskQueue}'` })) {
    const { stdout } = await run(cli, ['workflow', 'show', '--address', temporalAddress(), '-w', wf.workflowId, '-r', wf.runId, '--output', 'json'], { maxBuffer: 64 * 1024 * 1024 });
    all += decoded(stdout);
    histories++;
  }
  assert.ok(histories >= 7, `only ${histories} histories`);
  // The run really went through the paths that could leak: a failing probe and a failing channel.
  assert.match(all, /app: unreachable/);
  assert.match(all, /webhook 127\.0\.0\.1:\d+ answered 500/);
  for (const [name, secret] of Object.entries(SECRETS)) {
    const at = all.indexOf(secret);
    assert.ok(at < 0, `the ${name} secret is in a history: …${all.slice(Math.max(0, at - 300), at + 60)}…`);
  }
});
