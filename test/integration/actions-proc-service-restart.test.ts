/**
 * service_restart against real services started by this test on free ports (never the shared
 * 5432/6379): a killed redis, a SIGSTOPped (hung) redis, a stopped PostgreSQL cluster; a healthy
 * redis is not restarted; stale, unsafe or foreign pid files kill nothing.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { restartService, serviceRestart } from '../../src/actions/service-restart';
import { checkServiceHealth } from '../../src/processes/health-wait';
import type { CommandRunner } from '../../src/processes/run-command';
import { ancestors, isAlive, whoHoldsPort } from '../../src/proc';
import { eventually, freePort, makeConfig, makeCtx, tempDir } from './actions-proc-fixtures';
import { startPgCluster } from '../helpers/postgres';
import { requireTool } from '../helpers/tools';

const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanups.reverse()) {
    try {
      await c();
    } catch {
      // best effort: the service may already be gone
    }
  }
});

/** The pid a pid file names, or null. */
async function readPidFile(file: string): Promise<number | null> {
  try {
    return Number(readFileSync(file, 'utf8').trim()) || null;
  } catch {
    return null;
  }
}

function redisArgv(port: number, pidFile: string, dir: string): string[] {
  return ['redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'yes', '--pidfile', pidFile, '--dir', dir];
}

async function startRedis() {
  const dir = tempDir('autofix-redis-');
  const port = await freePort();
  const pidFile = path.join(dir, 'redis.pid');
  requireTool('redis-server');
  const argv = redisArgv(port, pidFile, dir);
  execFileSync(argv[0] as string, argv.slice(1));
  const health = { type: 'redis' as const, url: `redis://127.0.0.1:${port}`, host: '127.0.0.1' };
  assert.ok(await eventually(() => checkServiceHealth(health, 1000).then(() => true, () => false)), 'test redis did not start');
  cleanups.push(() => {
    const pid = Number(execFileSync('cat', [pidFile]).toString());
    process.kill(pid, 'SIGCONT');
    process.kill(pid, 'SIGKILL');
  });
  const config = makeConfig(dir, {
    services: {
      redis: { restart: argv, pid_file: pidFile, process_match: `redis-server 127\\.0\\.0\\.1:${port}`, stop_signal_timeout_seconds: 1, health, health_timeout_seconds: 20 },
    },
  });
  return { config, pidFile, health, pid: (await readPidFile(pidFile)) as number };
}

void test('a killed redis-server is brought back by its restart argv and answers PING', async () => {
  const { config, pid, health, pidFile } = await startRedis();
  process.kill(pid, 'SIGKILL');
  assert.ok(await eventually(async () => !(await isAlive(pid))));
  await assert.rejects(checkServiceHealth(health, 500));
  const ctx = makeCtx(config);
  const plan = await serviceRestart.plan(ctx, { type: 'service_restart', service: 'redis' });
  assert.ok(plan.steps.some((s) => s.includes('"redis-server","--port"')), plan.steps.join('\n'));
  const r = await serviceRestart.run(ctx, { type: 'service_restart', service: 'redis' });
  assert.deepEqual(r.details?.stopped, []);
  assert.match(r.summary, /^confirmed unhealthy: redis health check fails: redis 127\.0\.0\.1:\d+: no PONG, not accepting connections: .*ECONNREFUSED/);
  await checkServiceHealth(health, 2000);
  const newPid = await readPidFile(pidFile);
  assert.ok(newPid && newPid !== pid && (await isAlive(newPid)));
});

void test('a hung (SIGSTOPped) redis-server is stopped (SIGTERM + SIGCONT), restarted and answers PING', async () => {
  const { config, pid, health, pidFile } = await startRedis();
  process.kill(pid, 'SIGSTOP');
  const ctx = makeCtx(config);
  const r = await serviceRestart.run(ctx, { type: 'service_restart', service: 'redis' });
  // A stopped process acts on SIGTERM only once continued: the SIGCONT that follows lets it shut down cleanly.
  assert.deepEqual(r.details?.stopped, [`pid ${pid}: terminated`]);
  assert.equal(await isAlive(pid), false);
  assert.ok(ctx.lines.some((l) => l.startsWith('[WARNING]') && l.includes('is hung')), ctx.lines.join('\n'));
  await checkServiceHealth(health, 2000);
  assert.notEqual(await readPidFile(pidFile), pid);
});

void test('a hung service that ignores SIGTERM is SIGKILLed after the grace period, then restarted', async () => {
  const dir = tempDir('autofix-hung-');
  const port = await freePort();
  const pidFile = path.join(dir, 'svc.pid');
  const serve = (handler: string) =>
    `process.on('SIGTERM', () => {}); require('fs').writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); require('http').createServer(${handler}).listen(${port}, '127.0.0.1');`;
  // Accepts TCP but never answers HTTP, and ignores SIGTERM: hung for real.
  const hung = serve('() => {}');
  const healthy = serve("(q, r) => r.end('ok')");
  const startSvc = () => {
    const c = spawn(process.execPath, ['-e', hung], { detached: true, stdio: 'ignore' });
    c.unref();
    return c.pid as number;
  };
  const first = startSvc();
  cleanups.push(() => {
    for (const pid of [first, Number(execFileSync('cat', [pidFile]).toString())]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  });
  assert.ok(await eventually(async () => (await readPidFile(pidFile)) === first), 'service did not start');
  const config = makeConfig(dir, {
    services: {
      web: {
        // The restart starts a fresh copy that answers (the old one kept hanging).
        restart: [process.execPath, '-e', `require('child_process').spawn(process.execPath, ['-e', ${JSON.stringify(healthy)}], { detached: true, stdio: 'ignore' }).unref()`],
        pid_file: pidFile,
        health: { type: 'http', url: `http://127.0.0.1:${port}/`, host: '127.0.0.1' },
        stop_signal_timeout_seconds: 1,
        health_timeout_seconds: 10,
      },
    },
  });
  const ctx = makeCtx(config);
  const r = await serviceRestart.run(ctx, { type: 'service_restart', service: 'web' });
  assert.deepEqual(r.details?.stopped, [`pid ${first}: killed`]);
  assert.equal(await isAlive(first), false);
  const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) });
  assert.equal(await res.text(), 'ok');
});

void test('a stopped PostgreSQL cluster is restarted by its configured argv and answers SELECT 1', async () => {
  const pg = await startPgCluster();
  cleanups.push(() => pg.cleanup());
  const health = { type: 'postgres' as const, url: pg.url, host: '127.0.0.1' };
  await checkServiceHealth(health, 3000);
  pg.kill();
  await assert.rejects(checkServiceHealth(health, 1000));
  assert.equal(existsSync(path.join(pg.data, 'postmaster.pid')), false);

  const config = makeConfig(tempDir(), {
    services: { postgresql: { restart: pg.start, pid_file: path.join(pg.data, 'postmaster.pid'), user: 'postgres', health, health_timeout_seconds: 30 } },
  });
  const r = await serviceRestart.run(makeCtx(config), { type: 'service_restart', service: 'postgresql' });
  assert.deepEqual(r.details?.argv, pg.start);
  assert.match(r.summary, /^confirmed unhealthy: postgres health check fails: .*ECONNREFUSED/);
  await checkServiceHealth(health, 3000);
});

void test('a healthy redis is NOT restarted: ServiceHealthy "service healthy; not restarted", the restart argv never runs', async () => {
  const { config, pid, health } = await startRedis();
  const calls: string[][] = [];
  const runner: CommandRunner = async (argv) => {
    calls.push(argv);
    return { argv, code: 0, signal: null, stdout: '', stderr: '', timedOut: false };
  };
  await assert.rejects(restartService(makeCtx(config), { type: 'service_restart', service: 'redis' }, { runner }), (e: Error & { type?: string; nonRetryable?: boolean }) => {
    assert.equal(e.type, 'ServiceHealthy');
    assert.equal(e.nonRetryable, true);
    assert.match(e.message, /^service_restart redis: redis 127\.0\.0\.1:\d+: PONG: service healthy; not restarted$/);
    return true;
  });
  assert.deepEqual(calls, []);
  assert.equal(await isAlive(pid), true);
  await checkServiceHealth(health, 2000);
});

/** A service "web" whose tcp health check fails (nothing listens on its port) and whose restart starts a listener there. */
async function brokenWeb(dir: string, pidFile: string, extra: Record<string, unknown> = {}) {
  const port = await freePort();
  cleanups.push(async () => {
    for (const h of await whoHoldsPort(port)) process.kill(h.pid, 'SIGKILL');
  });
  const listen = `require('net').createServer().listen(${port}, '127.0.0.1')`;
  const config = makeConfig(dir, {
    services: {
      web: {
        restart: [process.execPath, '-e', `require('child_process').spawn(process.execPath, ['-e', ${JSON.stringify(listen)}], { detached: true, stdio: 'ignore' }).unref()`],
        pid_file: pidFile,
        health: { type: 'tcp', port, host: '127.0.0.1' },
        stop_signal_timeout_seconds: 1,
        health_timeout_seconds: 10,
      },
      ...extra,
    },
  });
  return { config, port };
}

/** A `sleep` started by the test: an unrelated process a pid file may name. */
function startSleep(seconds: number): number {
  const c = spawn('sleep', [String(seconds)], { stdio: 'ignore' });
  cleanups.push(() => c.kill('SIGKILL'));
  return c.pid as number;
}

void test('a stale pid file (its process started after the file was written) kills nothing; the restart still runs', async () => {
  const dir = tempDir('autofix-stale-');
  const pidFile = path.join(dir, 'web.pid');
  const victim = startSleep(1000);
  writeFileSync(pidFile, `${victim}\n`);
  const past = new Date(Date.now() - 60_000);
  utimesSync(pidFile, past, past); // written a minute ago, before the sleep existed: the pid was reused
  const { config, port } = await brokenWeb(dir, pidFile);
  const ctx = makeCtx(config);
  const r = await serviceRestart.run(ctx, { type: 'service_restart', service: 'web' });
  assert.deepEqual(r.details?.stopped, []);
  assert.ok(ctx.lines.some((l) => l.includes('is stale') && l.includes(`pid ${victim}`)), ctx.lines.join('\n'));
  assert.equal(await isAlive(victim), true, 'the unrelated sleep is alive');
  assert.ok((await whoHoldsPort(port)).length > 0, 'the restart ran');
});

void test('a pid file writable by others is refused and kills nothing', async () => {
  const dir = tempDir('autofix-pidmode-');
  const pidFile = path.join(dir, 'web.pid');
  const victim = startSleep(1000);
  writeFileSync(pidFile, `${victim}\n`);
  chmodSync(pidFile, 0o666);
  const { config } = await brokenWeb(dir, pidFile);
  await assert.rejects(serviceRestart.run(makeCtx(config), { type: 'service_restart', service: 'web' }), (e: Error & { type?: string }) => {
    assert.equal(e.type, 'RefusedError');
    assert.match(e.message, /pid file .*web\.pid is writable by others \(mode 0666\)/);
    return true;
  });
  assert.equal(await isAlive(victim), true);
});

void test('a symlinked pid file is refused (O_NOFOLLOW) and kills nothing', async () => {
  const dir = tempDir('autofix-pidlink-');
  const real = path.join(dir, 'other.pid');
  const pidFile = path.join(dir, 'web.pid');
  const victim = startSleep(1000);
  writeFileSync(real, `${victim}\n`);
  symlinkSync(real, pidFile);
  const { config } = await brokenWeb(dir, pidFile);
  await assert.rejects(serviceRestart.run(makeCtx(config), { type: 'service_restart', service: 'web' }), (e: Error & { type?: string }) => {
    assert.equal(e.type, 'RefusedError');
    assert.match(e.message, /web\.pid is a symbolic link/);
    return true;
  });
  assert.equal(await isAlive(victim), true);
});

void test('a pid file naming a process of another configured service is refused by the deny-list', async () => {
  const dir = tempDir('autofix-pidother-');
  const pidFile = path.join(dir, 'web.pid');
  const victim = startSleep(1001);
  writeFileSync(pidFile, `${victim}\n`);
  const { config } = await brokenWeb(dir, pidFile, { worker: { unit: 'worker', process_match: 'sleep 1001' } });
  await assert.rejects(serviceRestart.run(makeCtx(config), { type: 'service_restart', service: 'web' }), (e: Error & { type?: string }) => {
    assert.equal(e.type, 'RefusedError');
    assert.match(e.message, new RegExp(`refusing to signal pid ${victim} is a process of service "worker"`));
    return true;
  });
  assert.equal(await isAlive(victim), true);
});

void test('a pid file naming an ancestor of the worker (the test runner) is refused by the deny-list', async () => {
  const dir = tempDir('autofix-pidancestor-');
  const pidFile = path.join(dir, 'web.pid');
  const [, grandparent] = await ancestors(process.pid);
  assert.ok(grandparent && grandparent > 1, 'the test runs under a runner with a parent');
  writeFileSync(pidFile, `${grandparent}\n`);
  const { config } = await brokenWeb(dir, pidFile);
  await assert.rejects(serviceRestart.run(makeCtx(config), { type: 'service_restart', service: 'web' }), (e: Error & { type?: string }) => {
    assert.equal(e.type, 'RefusedError');
    assert.match(e.message, new RegExp(`refusing to signal pid ${grandparent} is an ancestor of the autofix worker`));
    return true;
  });
  assert.equal(await isAlive(grandparent), true);
});

void test('a service with no health check whose process runs cannot be confirmed: refused unless confirm is false', async () => {
  const dir = tempDir('autofix-noprobe-');
  const marker = startSleep(1002);
  const restart = [process.execPath, '-e', '0'];
  const config = makeConfig(dir, {
    services: {
      job: { restart, process_match: 'sleep 1002' },
      blind: { restart },
      trusting: { restart, confirm: false },
    },
  });
  await assert.rejects(serviceRestart.run(makeCtx(config), { type: 'service_restart', service: 'job' }), /no live probe can confirm a fault \(its process is running and it has no health check\)/);
  await assert.rejects(serviceRestart.run(makeCtx(config), { type: 'service_restart', service: 'blind' }), /no health check, pid_file or process_match/);
  const r = await serviceRestart.run(makeCtx(config), { type: 'service_restart', service: 'trusting' });
  assert.match(r.summary, /^not confirmed \(services\.trusting\.confirm is false; no health check\); restarted trusting/);
  assert.equal(await isAlive(marker), true);
});
