/**
 * service_restart against real services started by this test on free ports (never the shared
 * 5432/6379): a killed redis, a SIGSTOPped (hung) redis, a stopped PostgreSQL cluster.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, existsSync, mkdirSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { serviceRestart } from '../../src/activities/actions/service-restart';
import { checkServiceHealth } from '../../src/activities/processes/health-wait';
import { isAlive, readPidFile } from '../../src/activities/processes/signals';
import { eventually, freePort, makeConfig, makeCtx, tempDir } from './actions-proc-fixtures';

const PG_BIN = '/usr/lib/postgresql/15/bin';
const cleanups: Array<() => void> = [];
after(() => {
  for (const c of cleanups.reverse()) {
    try {
      c();
    } catch {
      // best effort: the service may already be gone
    }
  }
});

function redisArgv(port: number, pidFile: string, dir: string): string[] {
  return ['redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'yes', '--pidfile', pidFile, '--dir', dir];
}

async function startRedis() {
  const dir = tempDir('autofix-redis-');
  const port = await freePort();
  const pidFile = path.join(dir, 'redis.pid');
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
      redis: { restart: argv, pid_file: pidFile, process_match: `^redis-server 127\\.0\\.0\\.1:${port}\\b`, stop_signal_timeout_seconds: 1, health, health_timeout_seconds: 20 },
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
  const root = tempDir('autofix-pg-');
  const data = path.join(root, 'data');
  const sock = path.join(root, 'sock');
  const log = path.join(root, 'pg.log');
  mkdirSync(data, { mode: 0o700 });
  mkdirSync(sock);
  for (const p of [root, data, sock]) chownSync(p, Number(execFileSync('id', ['-u', 'postgres']).toString()), Number(execFileSync('id', ['-g', 'postgres']).toString()));
  const asPg = (...argv: string[]) => execFileSync('runuser', ['-u', 'postgres', '--', ...argv], { stdio: 'pipe' });
  asPg(`${PG_BIN}/initdb`, '-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync');
  const port = await freePort();
  const start = ['runuser', '-u', 'postgres', '--', `${PG_BIN}/pg_ctl`, '-D', data, '-o', `-p ${port} -k ${sock}`, '-l', log, 'start', '-w'];
  execFileSync(start[0] as string, start.slice(1), { stdio: 'pipe' });
  cleanups.push(() => asPg(`${PG_BIN}/pg_ctl`, '-D', data, 'stop', '-m', 'immediate'));
  const health = { type: 'postgres' as const, url: `postgresql://postgres@127.0.0.1:${port}/postgres`, host: '127.0.0.1' };
  await checkServiceHealth(health, 3000);

  asPg(`${PG_BIN}/pg_ctl`, '-D', data, 'stop', '-m', 'fast', '-w');
  await assert.rejects(checkServiceHealth(health, 1000));
  assert.equal(existsSync(path.join(data, 'postmaster.pid')), false);

  const config = makeConfig(root, {
    services: { postgresql: { restart: start, pid_file: path.join(data, 'postmaster.pid'), health, health_timeout_seconds: 30 } },
  });
  const r = await serviceRestart.run(makeCtx(config), { type: 'service_restart', service: 'postgresql' });
  assert.deepEqual(r.details?.argv, start);
  await checkServiceHealth(health, 3000);
});
