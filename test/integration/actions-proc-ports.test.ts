/**
 * check_port and kill_process_on_port against real child processes listening on free ports.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { checkPort } from '../../src/activities/actions/check-port';
import { killProcessOnPort } from '../../src/activities/actions/kill-process-on-port';
import { listeningInodes } from '../../src/activities/processes/port-holders';
import { isAlive } from '../../src/activities/processes/signals';
import { eventually, freePort, makeConfig, makeCtx, tempDir } from './actions-proc-fixtures';

const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** Starts `node -e <script>` with a marker argument, waits until it listens on `port`. */
async function startListener(port: number, marker: string, ignoreTerm = false): Promise<ChildProcess> {
  const script = `${ignoreTerm ? "process.on('SIGTERM',()=>{});" : ''}require('net').createServer().listen(${port}, '127.0.0.1')`;
  const child = spawn(process.execPath, ['-e', script, marker], { stdio: 'ignore' });
  children.push(child);
  assert.ok(await eventually(async () => (await listeningInodes(port)).size > 0), `listener on ${port} did not start`);
  return child;
}

function configFor(port: number, allow: string[]) {
  return makeConfig(tempDir(), { managed: { ports: [port], kill_allow_list: allow } });
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
  const ctx = makeCtx(configFor(port, ['autofix-test-stale-worker$']));
  const plan = await killProcessOnPort.plan(ctx, { type: 'kill_process_on_port', port, grace_seconds: 2 });
  assert.match(plan.steps[0] ?? '', new RegExp(`SIGTERM pid ${child.pid}`));
  const r = await killProcessOnPort.run(ctx, { type: 'kill_process_on_port', port, grace_seconds: 2 });
  assert.deepEqual(r.changed, [`pid:${child.pid}`]);
  assert.equal((r.details?.outcomes as Record<string, string>)[String(child.pid)], 'terminated');
  assert.equal((await listeningInodes(port)).size, 0);
  assert.equal(await isAlive(child.pid as number), false);
});

void test('kill_process_on_port refuses a holder that is not allow-listed and leaves it alive', async () => {
  const port = await freePort();
  const child = await startListener(port, 'autofix-test-precious');
  const ctx = makeCtx(configFor(port, ['^gunicorn']));
  await assert.rejects(killProcessOnPort.run(ctx, { type: 'kill_process_on_port', port, grace_seconds: 1 }), (e: Error & { type?: string; nonRetryable?: boolean }) => {
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
  await assert.rejects(killProcessOnPort.run(ctx, { type: 'kill_process_on_port', port, grace_seconds: 1 }), /not in managed\.ports/);
  assert.equal(await isAlive(child.pid as number), true);
});

void test('kill_process_on_port SIGKILLs a holder that ignores SIGTERM', async () => {
  const port = await freePort();
  const child = await startListener(port, 'autofix-test-stubborn', true);
  const ctx = makeCtx(configFor(port, ['autofix-test-stubborn']));
  const r = await killProcessOnPort.run(ctx, { type: 'kill_process_on_port', port, grace_seconds: 1 });
  assert.equal((r.details?.outcomes as Record<string, string>)[String(child.pid)], 'killed');
  assert.ok(await eventually(() => child.signalCode === 'SIGKILL'), `child ended with ${child.signalCode}`);
  assert.equal((await listeningInodes(port)).size, 0);
});
