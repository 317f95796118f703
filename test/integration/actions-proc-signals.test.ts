/**
 * Kill safety with real processes: the identity (pid + start time + uid + command line) is
 * re-checked before every signal, so a process that exec()s into another program between
 * SIGTERM and SIGKILL, or a pid whose start time changed (reused), gets no SIGKILL; the deny-list
 * protects PID 1, the worker and its ancestors, the Temporal server, sshd and systemd whatever
 * the config allows.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { killProcessOnPort } from '../../src/actions/kill-process-on-port';
import { terminateProcess } from '../../src/processes/signals';
import { processGuard, protectTemporalServer } from '../../src/processes/protected';
import { cmdlineRegex } from '../../src/processes/cmdline-match';
import { ancestors, identityChange, isAlive, listeningInodes, readIdentity, whoHoldsPort, type ProcessIdentity } from '../../src/proc';
import { eventually, freePort, makeConfig, makeCtx, tempDir } from './actions-proc-fixtures';

const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function start(cmd: string, args: string[], argv0?: string): ChildProcess {
  const c = spawn(cmd, args, { stdio: 'ignore', ...(argv0 ? { argv0 } : {}) });
  children.push(c);
  return c;
}

/** Starts a process that prints "ready" once its signal handler is installed; resolves then. */
async function startReady(cmd: string, args: string[]): Promise<ChildProcess> {
  const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] });
  children.push(c);
  await new Promise<void>((resolve, reject) => {
    c.stdout?.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    c.once('exit', () => reject(new Error(`${cmd} exited before it was ready`)));
  });
  return c;
}

async function identityOf(pid: number, cmdline: RegExp): Promise<ProcessIdentity> {
  let id: ProcessIdentity | null = null;
  assert.ok(await eventually(async () => Boolean((id = await readIdentity(pid)) && cmdline.test(id.cmdline))), `pid ${pid} did not start`);
  return id as unknown as ProcessIdentity;
}

const emptyConfig = () => makeConfig(tempDir());

void test('a process that exec()s into another program on SIGTERM keeps its pid but gets no SIGKILL', async () => {
  // bash runs its TERM trap between two sleeps: `exec sleep 100` keeps the pid and start time, changes the command line.
  const c = await startReady('bash', ['-c', 'trap "exec sleep 100" TERM; echo ready; while :; do sleep 0.1; done']);
  const planned = await identityOf(c.pid as number, /^bash -c trap/);
  const sent: string[] = [];
  const r = await terminateProcess(planned, { graceMs: 2000, guard: await processGuard(emptyConfig(), null), onSignal: (s) => sent.push(s) });
  assert.equal(r.outcome, 'identity-changed');
  assert.match(r.detail ?? '', /command line changed from "bash -c trap.*" to "sleep 100"/);
  // SIGCONT follows SIGTERM only if bash had not exec()ed yet; SIGKILL never.
  assert.equal(sent[0], 'SIGTERM');
  assert.ok(!sent.includes('SIGKILL'), sent.join(','));
  const now = await readIdentity(planned.pid);
  assert.equal(now?.cmdline, 'sleep 100');
  assert.equal(now?.startTime, planned.startTime, 'same process (exec in place), not a new one');
  assert.equal(await isAlive(planned.pid), true, 'SIGKILL was not sent to what the pid became');
});

void test('a big process releasing its memory on exit is the same process until it is gone, never "another program"', async () => {
  // Freeing 2 GiB takes the kernel ~0.1–0.2 s, during which /proc/<pid>/cmdline reads empty while
  // the task (and its sockets) are not yet gone: an identity read then is still the planned process.
  const c = await startReady('/usr/bin/python3', ['-c', 'import time\nb = bytearray(2 << 30)\nfor i in range(0, len(b), 4096): b[i] = 1\nprint("ready", flush=True)\ntime.sleep(600)']);
  const planned = await identityOf(c.pid as number, /^\/usr\/bin\/python3 -c /);
  const seen = new Map<string, string | null>();
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      const id = await readIdentity(planned.pid);
      if (!id) return;
      seen.set(id.cmdline, identityChange(planned, id));
    }
  })();
  const r = await terminateProcess(planned, { graceMs: 10_000, guard: await processGuard(emptyConfig(), null) });
  watching = false;
  await watcher;
  assert.equal(r.outcome, 'terminated', r.detail);
  for (const [cmdline, change] of seen) assert.equal(change, null, `seen as ${cmdline}`);
});

void test('a start time that changes between SIGTERM and SIGKILL (pid reuse) aborts the SIGKILL', async () => {
  const c = await startReady(process.execPath, ['-e', "process.on('SIGTERM', () => {}); console.log('ready'); setInterval(() => {}, 1000)", 'autofix-test-reused']);
  const planned = await identityOf(c.pid as number, /autofix-test-reused/);
  const sent: string[] = [];
  // What the pid is seen as: the real process until SIGTERM was sent, then "another process with the same pid".
  const identify = async (pid: number) => {
    const real = await readIdentity(pid);
    return real && sent.includes('SIGTERM') ? { ...real, startTime: real.startTime + 1 } : real;
  };
  const r = await terminateProcess(planned, { graceMs: 1000, guard: await processGuard(emptyConfig(), null), identify, onSignal: (s) => sent.push(s) });
  assert.equal(r.outcome, 'identity-changed');
  assert.match(r.detail ?? '', /start time changed: pid \d+ was reused/);
  assert.deepEqual(sent, ['SIGTERM']);
  assert.equal(await isAlive(planned.pid), true, 'nothing was killed');
  // Unchanged identity: the same process that ignores SIGTERM is SIGKILLed after the grace period.
  const again = await terminateProcess(planned, { graceMs: 500, guard: await processGuard(emptyConfig(), null) });
  assert.equal(again.outcome, 'killed');
  assert.ok(await eventually(() => c.signalCode === 'SIGKILL'));
});

void test('a pid that is already another process before SIGTERM is not signalled at all', async () => {
  const c = start('sleep', ['100']);
  const real = await identityOf(c.pid as number, /^sleep 100$/);
  const planned = { ...real, cmdline: 'redis-server 127.0.0.1:6379' };
  const r = await terminateProcess(planned, { graceMs: 500, guard: await processGuard(emptyConfig(), null) });
  assert.equal(r.outcome, 'identity-changed');
  assert.equal(await isAlive(real.pid), true);
});

void test('the deny-list: PID 1, the worker, its ancestors, the Temporal server, sshd and systemd', async () => {
  const guard = await processGuard(emptyConfig(), null);
  assert.match((await guard.reason(1)) ?? '', /init/);
  assert.match((await guard.reason(process.pid)) ?? '', /the autofix worker itself/);
  for (const pid of (await ancestors(process.pid)).filter((p) => p > 1)) assert.match((await guard.reason(pid)) ?? '', /ancestor of the autofix worker/);
  const sshd = start('sleep', ['100'], 'sshd: root@pts/0');
  const systemd = start('sleep', ['100'], '/lib/systemd/systemd --user');
  const plain = start('sleep', ['100']);
  await identityOf(sshd.pid as number, /^sshd: root@pts\/0/);
  await identityOf(systemd.pid as number, /systemd --user/);
  await identityOf(plain.pid as number, /^sleep 100$/);
  const fresh = await processGuard(emptyConfig(), null);
  assert.match((await fresh.reason(sshd.pid as number)) ?? '', /is sshd/);
  assert.match((await fresh.reason(systemd.pid as number)) ?? '', /is systemd/);
  assert.equal(await fresh.reason(plain.pid as number), null);

  // The dev server of this test run: protected by the address the worker uses, and by its executable.
  const address = process.env.TEMPORAL_ADDRESS;
  assert.ok(address, 'the test runner provides a dev server');
  const [server] = await whoHoldsPort(Number(address.split(':').pop()));
  assert.ok(server, `a process listens on ${address}`);
  assert.match((await fresh.reason(server.pid)) ?? '', /the Temporal server/);
  protectTemporalServer(address);
  assert.match((await (await processGuard(emptyConfig(), null)).reason(server.pid)) ?? '', /the Temporal server the worker is connected to/);
});

void test('no config can override the deny-list: an allow-list of ".*" still cannot kill an sshd holding a managed port', async () => {
  const port = await freePort();
  const fake = start(process.execPath, ['-e', `require('net').createServer().listen(${port}, '127.0.0.1')`], 'sshd: root@notty');
  assert.ok(await eventually(async () => (await listeningInodes(port)).size > 0));
  const ctx = makeCtx(makeConfig(tempDir(), { managed: { ports: [port], kill_allow_list: ['.*'] } }));
  await assert.rejects(killProcessOnPort.run(ctx, { type: 'kill_process_on_port', port, grace_seconds: 1, confirm: false }), (e: Error & { type?: string }) => {
    assert.equal(e.type, 'RefusedError');
    assert.match(e.message, /is held by pid \d+ is sshd/);
    return true;
  });
  assert.equal(await isAlive(fake.pid as number), true);
});

void test('cmdlineRegex: full-match semantics, and an invalid source stays invalid when wrapped', () => {
  assert.equal(cmdlineRegex('redis').test('/usr/bin/not-redis-evil'), false);
  assert.equal(cmdlineRegex('redis').test('redis'), true);
  assert.equal(cmdlineRegex('redis-server .*').test('redis-server 127.0.0.1:6379'), true);
  assert.equal(cmdlineRegex('a|b').test('ab'), false);
  assert.throws(() => cmdlineRegex('a)|(b'), SyntaxError);
});
