/**
 * check_port and kill_process_on_port against real child processes listening on free ports:
 * full-match allow-list, live confirmation through the port's service health check, SIGKILL.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { checkPort } from '../../src/actions/check-port';
import { killProcessOnPort } from '../../src/actions/kill-process-on-port';
import { isAlive, listeningInodes } from '../../src/proc';
import { eventually, freePort, makeConfig, makeCtx, tempDir } from './actions-proc-fixtures';

const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/**
 * Starts `node -e <script>` with a marker argument, waits until it listens on `port`. By default
 * it accepts TCP but never answers HTTP (hung for an http health check); `answerHttp` makes it
 * answer 200; `argv0` replaces argv[0] in its command line.
 */
async function startListener(port: number, marker: string, o: { ignoreTerm?: boolean; answerHttp?: boolean; argv0?: string } = {}): Promise<ChildProcess> {
  const server = o.answerHttp ? "require('http').createServer((q, r) => r.end('ok'))" : "require('net').createServer()";
  const script = `${o.ignoreTerm ? "process.on('SIGTERM',()=>{});" : ''}${server}.listen(${port}, '127.0.0.1')`;
  const child = spawn(process.execPath, ['-e', script, marker], { stdio: 'ignore', ...(o.argv0 ? { argv0: o.argv0 } : {}) });
  children.push(child);
  assert.ok(await eventually(async () => (await listeningInodes(port)).size > 0), `listener on ${port} did not start`);
  return child;
}

/** A config managing `port`; with `withService`, a service "web" whose http health check is on that port. */
function configFor(port: number, allow: string[], withService = false) {
  const services = withService ? { web: { health: { type: 'http', url: `http://127.0.0.1:${port}/` }, health_timeout_seconds: 1 } } : {};
  return makeConfig(tempDir(), { managed: { ports: [port], kill_allow_list: allow }, services });
}

void test('check_port reports the pid, user and command line of the holder', async () => {
  const port = await freePort();
  const child = await startListener(port, 'autofix-test-check-port');
  const ctx = makeCtx(configFor(port, []));
  const r = await checkPort.run(ctx, { type: 'check_port', port });
  const holders = (r.details?.ports as Record<string, Array<{ pid: number; user: string; cmdline: string }>>)[String(port)];
  assert.equal(holders?.length, 1);
  assert.equal(holders?.[0]?.pid, child.pid);
  assert.equal(holders?.[0]?.user, 'root');
  assert.match(holders?.[0]?.cmdline ?? '', /autofix-test-check-port/);
  assert.equal(await isAlive(child.pid as number), true, 'check_port must not touch the process');
});

void test('kill_process_on_port kills an allow-listed holder and frees the port', async () => {
  const port = await freePort();
  const child = await startListener(port, 'autofix-test-stale-worker');
  const ctx = makeCtx(configFor(port, ['.*autofix-test-stale-worker']));
  const spec = { type: 'kill_process_on_port' as const, port, grace_seconds: 2, confirm: false };
  const plan = await killProcessOnPort.plan(ctx, spec);
  assert.match(plan.steps[1] ?? '', new RegExp(`SIGTERM pid ${child.pid}`));
  const r = await killProcessOnPort.run(ctx, spec);
  assert.match(r.summary, /^not confirmed \(confirm is false/);
  assert.deepEqual(r.changed, [`pid:${child.pid}`]);
  assert.equal((r.details?.outcomes as Record<string, string>)[String(child.pid)], 'terminated');
  assert.equal((await listeningInodes(port)).size, 0);
  assert.equal(await isAlive(child.pid as number), false);
});

void test('kill_process_on_port refuses a holder that is not allow-listed and leaves it alive', async () => {
  const port = await freePort();
  const child = await startListener(port, 'autofix-test-precious');
  const ctx = makeCtx(configFor(port, ['^gunicorn']));
  await assert.rejects(killProcessOnPort.run(ctx, { type: 'kill_process_on_port', port, grace_seconds: 1, confirm: false }), (e: Error & { type?: string; nonRetryable?: boolean }) => {
    assert.equal(e.type, 'RefusedError');
    assert.equal(e.nonRetryable, true);
    assert.match(e.message, /matches no regex of managed\.kill_allow_list/);
    return true;
  });
  assert.equal(await isAlive(child.pid as number), true);
  assert.ok((await listeningInodes(port)).size > 0);
});

void test('kill_process_on_port refuses a port outside managed.ports', async () => {
  const port = await freePort();
  const child = await startListener(port, 'autofix-test-unmanaged');
  const ctx = makeCtx(makeConfig(tempDir(), { managed: { ports: [port + 1], kill_allow_list: ['.*'] } }));
  await assert.rejects(killProcessOnPort.run(ctx, { type: 'kill_process_on_port', port, grace_seconds: 1, confirm: false }), /not in managed\.ports/);
  assert.equal(await isAlive(child.pid as number), true);
});

void test('kill_process_on_port SIGKILLs a holder that ignores SIGTERM', async () => {
  const port = await freePort();
  const child = await startListener(port, 'autofix-test-stubborn', { ignoreTerm: true });
  const ctx = makeCtx(configFor(port, ['.*autofix-test-stubborn']));
  const r = await killProcessOnPort.run(ctx, { type: 'kill_process_on_port', port, grace_seconds: 1, confirm: false });
  assert.equal((r.details?.outcomes as Record<string, string>)[String(child.pid)], 'killed');
  assert.ok(await eventually(() => child.signalCode === 'SIGKILL'), `child ended with ${child.signalCode}`);
  assert.equal((await listeningInodes(port)).size, 0);
});

void test('kill_process_on_port: an allow-list regex must match the whole command line ("redis" is not "/usr/bin/not-redis-evil")', async () => {
  const port = await freePort();
  const child = await startListener(port, 'autofix-test-evil', { argv0: '/usr/bin/not-redis-evil' });
  const ctx = makeCtx(configFor(port, ['redis']));
  await assert.rejects(killProcessOnPort.run(ctx, { type: 'kill_process_on_port', port, grace_seconds: 1, confirm: false }), (e: Error & { type?: string }) => {
    assert.equal(e.type, 'RefusedError');
    assert.match(e.message, /not-redis-evil.*matches no regex of managed\.kill_allow_list/);
    return true;
  });
  assert.equal(await isAlive(child.pid as number), true);
  // The same regex written for the whole line allows it.
  const full = makeCtx(configFor(port, ['/usr/bin/not-redis-evil .*']));
  const r = await killProcessOnPort.run(full, { type: 'kill_process_on_port', port, grace_seconds: 1, confirm: false });
  assert.equal((r.details?.outcomes as Record<string, string>)[String(child.pid)], 'terminated');
});

void test('kill_process_on_port confirms live: a holder that accepts TCP but never answers its http health check is killed', async () => {
  const port = await freePort();
  const child = await startListener(port, 'autofix-test-hung-web');
  const ctx = makeCtx(configFor(port, ['.*autofix-test-hung-web'], true));
  const r = await killProcessOnPort.run(ctx, { type: 'kill_process_on_port', port, grace_seconds: 1, confirm: true });
  assert.match(r.summary, /^confirmed unhealthy: web http health check fails: GET http:\/\/127\.0\.0\.1:\d+\/: .*; freed port/);
  assert.equal(await isAlive(child.pid as number), false);
});

void test('kill_process_on_port leaves a healthy service alone (ServiceHealthy) and refuses when nothing can confirm a fault', async () => {
  const port = await freePort();
  const child = await startListener(port, 'autofix-test-healthy-web', { answerHttp: true });
  const healthy = makeCtx(configFor(port, ['.*autofix-test-healthy-web'], true));
  await assert.rejects(killProcessOnPort.run(healthy, { type: 'kill_process_on_port', port, grace_seconds: 1, confirm: true }), (e: Error & { type?: string; nonRetryable?: boolean }) => {
    assert.equal(e.type, 'ServiceHealthy');
    assert.equal(e.nonRetryable, true);
    assert.match(e.message, /answered 200: service healthy; not killed/);
    return true;
  });
  const unprobed = makeCtx(configFor(port, ['.*autofix-test-healthy-web']));
  await assert.rejects(killProcessOnPort.run(unprobed, { type: 'kill_process_on_port', port, grace_seconds: 1, confirm: true }), /RefusedError|no live probe can confirm a fault/);
  assert.equal(await isAlive(child.pid as number), true);
  assert.ok((await listeningInodes(port)).size > 0);
});
