/**
 * "Down" versus "accepting but refusing us", on real servers of our own: a PostgreSQL cluster
 * with md5 / SCRAM password auth, a tiny max_connections and a smart shutdown in progress; a
 * redis-server with requirepass, maxclients 1 and a dataset still loading. The probes must call
 * only a server that does not accept connections `down` (isDown), the health mapping must raise
 * the restart pattern only then, and the shipped config must classify what psql and redis-cli
 * print in each case the same way.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import Redis from 'ioredis';
import { probePostgres } from '../../src/probes/postgres';
import { probeRedis } from '../../src/probes/redis';
import { isDown, connectionFailureOf } from '../../src/probes/availability';
import { healthDetections, type CheckResult, type HealthReport } from '../../src/probes';
import { loadConfig } from '../../src/config/load';
import { compileMatcher } from '../../src/detection/matcher';
import { scanFilesFromStart } from '../../src/detection/log-scanner';
import { startPgCluster, type PgCluster } from '../helpers/pg-cluster';
import { requireTool } from '../helpers/tools';
import { freePort, startRedis, stopProcess } from './probes-support';

const ROOT = path.resolve(__dirname, '../../..');
const shipped = loadConfig(path.join(ROOT, 'config/error_patterns.json'));
const matcher = compileMatcher(shipped.error_patterns);
let dir = '';

before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'autofix-refusing-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** What the shipped config raises for a check result (daemon health mapping). */
function raised(check: 'database_connection' | 'redis_connection', r: CheckResult): string[] {
  const report: HealthReport = { timestamp: '', overall_status: r.status, checks: { [check]: r } };
  return healthDetections(report, shipped).map((d) => d.id);
}

/** Asserts a result is "refusing" with `code`, not down, and raises only the alert pattern. */
function assertRefusing(check: 'database_connection' | 'redis_connection', r: CheckResult, code: string): void {
  assert.equal(r.status, 'unhealthy', r.message);
  assert.deepEqual(connectionFailureOf(r), { kind: 'refusing', code }, r.message);
  assert.equal(isDown(r), false);
  assert.match(r.message, /accepting connections but refusing this one/);
  assert.deepEqual(raised(check, r), [check === 'database_connection' ? 'db_refused' : 'redis_refused']);
}

/** Asserts a result is "down" and raises the restart pattern. */
function assertDown(check: 'database_connection' | 'redis_connection', r: CheckResult, code: RegExp): void {
  assert.equal(r.status, 'unhealthy', r.message);
  assert.equal(connectionFailureOf(r)?.kind, 'down', r.message);
  assert.match(connectionFailureOf(r)?.code ?? '', code);
  assert.equal(isDown(r), true);
  assert.match(r.message, /not accepting connections/);
  assert.deepEqual(raised(check, r), [check === 'database_connection' ? 'db_connection' : 'redis_connection']);
}

/** Classifies program output with the shipped config, as if it were an app log: id → count. */
async function classify(text: string): Promise<Record<string, number>> {
  const file = path.join(dir, `t-${Math.random().toString(36).slice(2)}.log`);
  writeFileSync(file, text.endsWith('\n') ? text : `${text}\n`);
  const out: Record<string, number> = {};
  for (const d of await scanFilesFromStart([file], matcher)) out[d.id] = d.count;
  return out;
}

/** Runs a client program; returns what it printed (what an app would log). */
function output(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): string {
  const r = spawnSync(requireTool(cmd), args, { encoding: 'utf8', timeout: 20_000, env: { ...process.env, ...env } });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`;
}

const psql = (pg: PgCluster, password: string, db = 'postgres') =>
  output('psql', ['-h', '127.0.0.1', '-p', String(pg.port), '-U', 'postgres', '-d', db, '-w', '-c', 'select 1'], { PGPASSWORD: password, PGCONNECT_TIMEOUT: '5' });

for (const auth of ['scram-sha-256', 'md5'] as const) {
  describe(`postgres with ${auth} password auth`, () => {
    let pg: PgCluster;
    before(async () => {
      pg = await startPgCluster({ auth });
    });
    after(() => pg.cleanup());

    test('the right password: healthy; a wrong one: refusing (28P01), never down', async () => {
      assert.equal((await probePostgres(pg.url, 5000)).status, 'healthy');
      const r = await probePostgres(pg.wrongPasswordUrl, 5000);
      assertRefusing('database_connection', r, '28P01');
      assert.match(r.message, /password authentication failed/);
      assert.doesNotMatch(JSON.stringify(r), new RegExp(pg.password));
      const line = psql(pg, 'wrong');
      assert.match(line, /password authentication failed/);
      assert.deepEqual(await classify(line), { db_refused: 1 }, line);
    });

    test('a missing role or database: refusing', async () => {
      const role = await probePostgres(pg.url.replace('postgres:', 'no_such_role:'), 5000);
      assertRefusing('database_connection', role, '28P01'); // password auth does not reveal that the role is missing
      const db = await probePostgres(pg.url.replace(/\/postgres$/, '/no_such_db'), 5000);
      assertRefusing('database_connection', db, '3D000');
      const line = psql(pg, pg.password, 'no_such_db');
      assert.deepEqual(await classify(line), { db_refused: 1 }, line);
    });
  });
}

describe('postgres: too many clients, shutting down, dead', () => {
  let pg: PgCluster;
  before(async () => {
    pg = await startPgCluster({ settings: { max_connections: '3', superuser_reserved_connections: '0' } });
  });
  after(() => pg.cleanup());

  test('every slot held: refusing (53300) for the probe and for psql', async () => {
    const held: Client[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const c = new Client({ connectionString: pg.url });
        await c.connect();
        held.push(c);
      }
      assertRefusing('database_connection', await probePostgres(pg.url, 5000), '53300');
      // Even with a wrong password: the server says "too many clients" before it asks for one.
      assertRefusing('database_connection', await probePostgres(pg.wrongPasswordUrl, 5000), '53300');
      const line = psql(pg, pg.password);
      assert.match(line, /too many clients/);
      assert.deepEqual(await classify(line), { db_refused: 1 }, line);
    } finally {
      await Promise.all(held.map((c) => c.end()));
    }
    assert.equal((await probePostgres(pg.url, 5000)).status, 'healthy');
  });

  test('a smart shutdown waiting for a session: refusing (57P03); once stopped: down (ECONNREFUSED), and so is a missing socket', async () => {
    const session = new Client({ connectionString: pg.url });
    await session.connect();
    session.on('error', () => undefined);
    pg.stop('smart', false);
    const shuttingDown = await (async () => {
      for (let i = 0; i < 50; i++) {
        const r = await probePostgres(pg.url, 5000);
        if (r.status !== 'healthy') return r;
        await new Promise((res) => setTimeout(res, 100));
      }
      throw new Error('the server never started shutting down');
    })();
    assertRefusing('database_connection', shuttingDown, '57P03');
    assert.match(shuttingDown.message, /shutting down/);
    const line = psql(pg, pg.password);
    assert.deepEqual(await classify(line), { db_refused: 1 }, line);
    await session.end();
    let dead = await probePostgres(pg.url, 5000);
    for (let i = 0; i < 100 && !isDown(dead); i++) {
      await new Promise((res) => setTimeout(res, 100));
      dead = await probePostgres(pg.url, 5000);
    }
    assertDown('database_connection', dead, /^ECONNREFUSED$/);
    const refusedLine = psql(pg, pg.password);
    assert.deepEqual(await classify(refusedLine), { db_connection: 1 }, refusedLine);
    const viaSocket = await probePostgres(`postgresql://postgres@/postgres?host=${encodeURIComponent(pg.socketDir)}&port=${pg.port}`, 5000);
    assertDown('database_connection', viaSocket, /^ENOENT$/);
  });
});

test('postgres: a listener that never answers is down (timeout)', async () => {
  const sockets: net.Socket[] = [];
  const srv = net.createServer((s) => sockets.push(s));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    const { port } = srv.address() as net.AddressInfo;
    assertDown('database_connection', await probePostgres(`postgresql://root@127.0.0.1:${port}/test`, 1000), /^timeout$/);
  } finally {
    sockets.forEach((s) => s.destroy());
    srv.close();
  }
});

test('postgres: an unresolvable host name is a probe error, not down', async () => {
  const r = await probePostgres('postgresql://u:p@no-such-host.invalid:5432/db', 5000);
  assert.equal(connectionFailureOf(r)?.kind, 'probe_error', r.message);
  assert.equal(isDown(r), false);
  assert.deepEqual(raised('database_connection', r), ['db_refused']);
});

describe('redis', () => {
  test('requirepass: no password → NOAUTH, wrong → WRONGPASS, both refusing; right → healthy', async () => {
    const { proc, port, url } = await startRedis([], 's3cret');
    try {
      assert.equal((await probeRedis(url, 3000)).status, 'healthy');
      assertRefusing('redis_connection', await probeRedis(`redis://127.0.0.1:${port}`, 3000), 'NOAUTH');
      const wrong = await probeRedis(`redis://:nope@127.0.0.1:${port}`, 3000);
      assertRefusing('redis_connection', wrong, 'WRONGPASS');
      assert.doesNotMatch(JSON.stringify(wrong), /s3cret|nope/);
      const noauth = output('redis-cli', ['-p', String(port), 'ping']);
      assert.match(noauth, /NOAUTH/);
      assert.deepEqual(await classify(noauth), { redis_refused: 1 }, noauth);
      const wrongpass = output('redis-cli', ['-p', String(port), '--no-auth-warning', '-a', 'nope', 'ping']);
      assert.match(wrongpass, /WRONGPASS/);
      // redis-cli prints two lines here (AUTH failed: WRONGPASS…, then NOAUTH…): both alert-only.
      assert.deepEqual(Object.keys(await classify(wrongpass)), ['redis_refused'], wrongpass);
    } finally {
      await stopProcess(proc);
    }
  });

  test('maxclients reached: refusing (the server says so before closing)', async () => {
    const { proc, port, url } = await startRedis(['--maxclients', '1']);
    let holder: Redis | undefined;
    try {
      // The one slot: taken once the server has let go of startRedis's own probe connection.
      for (let i = 0; i < 50 && !holder; i++) {
        const h = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
        h.on('error', () => undefined);
        if (await h.connect().then(() => h.ping()).then(() => true, () => false)) holder = h;
        else {
          h.disconnect();
          await new Promise((res) => setTimeout(res, 100));
        }
      }
      assert.ok(holder, 'could not take the only client slot');
      for (let i = 0; i < 3; i++) assertRefusing('redis_connection', await probeRedis(url, 3000), 'ERR');
      const line = output('redis-cli', ['-p', String(port), 'ping']);
      assert.match(line, /max number of clients reached/);
      assert.deepEqual(await classify(line), { redis_refused: 1 }, line);
    } finally {
      holder?.disconnect();
      await stopProcess(proc);
    }
  });

  test('loading its dataset: refusing (LOADING)', async () => {
    const rdbDir = mkdtempSync(path.join(dir, 'rdb-'));
    // A dataset to load: 20k keys saved by a first server, then loaded slowly by a second one.
    const first = await startRedis(['--dir', rdbDir, '--enable-debug-command', 'yes']);
    const c = new Redis(first.url);
    await c.call('DEBUG', 'POPULATE', '20000');
    await c.call('SAVE');
    c.disconnect();
    await stopProcess(first.proc);
    const port = await freePort();
    const loading: ChildProcess = spawn(
      requireTool('redis-server'),
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', rdbDir, '--save', '', '--appendonly', 'no', '--key-load-delay', '200', '--loading-process-events-interval-bytes', '1024'],
      { stdio: 'ignore' },
    );
    try {
      const url = `redis://127.0.0.1:${port}`;
      let r: CheckResult | undefined;
      for (let i = 0; i < 100; i++) {
        r = await probeRedis(url, 3000);
        if (connectionFailureOf(r)?.kind === 'refusing') break;
        await new Promise((res) => setTimeout(res, 20));
      }
      assertRefusing('redis_connection', r as CheckResult, 'LOADING');
      const line = output('redis-cli', ['-p', String(port), 'ping']);
      assert.match(line, /LOADING/);
      assert.deepEqual(await classify(line), { redis_refused: 1 }, line);
    } finally {
      await stopProcess(loading);
    }
  });

  test('nothing on the port: down (ECONNREFUSED); SIGSTOPped: down (timeout)', async () => {
    const port = await freePort();
    assertDown('redis_connection', await probeRedis(`redis://127.0.0.1:${port}`, 3000), /^ECONNREFUSED$/);
    const line = output('redis-cli', ['-p', String(port), 'ping']);
    assert.deepEqual(await classify(line), { redis_connection: 1 }, line);
    const { proc, url } = await startRedis();
    try {
      proc.kill('SIGSTOP');
      assertDown('redis_connection', await probeRedis(url, 1000), /^timeout$/);
    } finally {
      await stopProcess(proc);
    }
  });
});
