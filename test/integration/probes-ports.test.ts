/** Ports probe and whoHoldsPort against listeners opened here; disk and memory on this machine. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { probePorts, whoHoldsPort } from '../../src/probes/ports';
import { probeDisk } from '../../src/probes/disk';
import { probeMemory } from '../../src/probes/memory';
import { runHealthChecks, healthDetections } from '../../src/probes';
import { freePort, makeConfig } from './probes-support';

async function listen(host: string): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, host, r));
  return { server, port: (server.address() as net.AddressInfo).port };
}

void test('ports: a port we listen on is healthy (with us as holder); a closed one is unhealthy', async () => {
  const { server, port } = await listen('127.0.0.1');
  const closed = await freePort();
  try {
    const r = await probePorts(
      [
        { port, name: 'mine' },
        { port: closed, name: 'gone' },
      ],
      3000,
    );
    assert.equal(r.status, 'unhealthy');
    const ports = r.ports as Record<
      string,
      { status: string; listening: boolean; held_by?: Array<{ pid: number }> }
    >;
    assert.equal(ports.mine?.status, 'healthy');
    assert.ok(ports.mine?.held_by?.some((h) => h.pid === process.pid));
    assert.equal(ports.gone?.listening, false);
    assert.match(r.message, new RegExp(`gone: nothing listening on ${closed}`));
  } finally {
    server.close();
  }
});

void test('whoHoldsPort: finds this process on IPv4 and IPv6 listeners, with its command line', async () => {
  for (const host of ['127.0.0.1', '::']) {
    const { server, port } = await listen(host);
    try {
      const holders = await whoHoldsPort(port);
      const me = holders.find((h) => h.pid === process.pid);
      assert.ok(me, `pid ${process.pid} not among ${JSON.stringify(holders)} for ${host}:${port}`);
      assert.ok(me.cmdline.includes(process.execPath) || me.cmdline.includes('node'), me.cmdline);
      assert.ok(me.user && me.user.length > 0);
    } finally {
      server.close();
    }
  }
  assert.deepEqual(await whoHoldsPort(await freePort()), []);
});

void test('whoHoldsPort: another process (a child we start) is found by its own pid', async () => {
  const { spawn } = await import('node:child_process');
  const port = await freePort();
  const child = spawn(
    process.execPath,
    ['-e', `require('net').createServer().listen(${port}, '127.0.0.1', () => console.log('up'))`],
    {
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  try {
    await new Promise<void>((r) => child.stdout.once('data', () => r()));
    const holders = await whoHoldsPort(port);
    assert.deepEqual(
      holders.map((h) => h.pid),
      [child.pid],
    );
    assert.match(holders[0]?.cmdline ?? '', /createServer/);
  } finally {
    child.kill('SIGKILL');
  }
});

void test('disk: threshold 1% is unhealthy and raises disk_full; 100% is healthy', async () => {
  const over = await probeDisk(['/'], 1, 3000);
  assert.equal(over.status, 'unhealthy');
  assert.ok(typeof over.usage_percent === 'number' && over.usage_percent > 1);
  assert.ok(typeof over.free_gb === 'number' && over.free_gb >= 0);
  assert.equal((await probeDisk(['/'], 100, 3000)).status, 'healthy');
  const cfg = makeConfig({
    error_patterns: [
      { id: 'disk_full', name: 'Disk full', pattern: 'No space left on device', severity: 'critical' },
    ],
    health_checks: { disk: { threshold_percent: 1, paths: ['/', '/tmp'] } },
  });
  const report = await runHealthChecks(cfg, { only: ['disk'], metrics: false });
  assert.equal(report.overall_status, 'unhealthy');
  const d = healthDetections(report, cfg);
  assert.equal(d[0]?.id, 'disk_full');
  assert.equal(d[0]?.severity, 'critical');
  assert.equal(d[0]?.file, 'disk_space');
});

void test('disk: a missing path is unknown, not a full disk', async () => {
  const r = await probeDisk(['/no/such/autofix/path'], 90, 3000);
  assert.equal(r.status, 'unknown');
  assert.match(r.message, /ENOENT/);
});

void test('memory: usage from available memory, against the threshold', async () => {
  const low = await probeMemory(100, 3000);
  assert.equal(low.status, 'healthy');
  const pct = low.usage_percent as number;
  assert.ok(pct > 0 && pct < 100);
  assert.ok((low.available_gb as number) <= (low.total_gb as number));
  assert.equal((await probeMemory(1, 3000)).status, pct >= 1 ? 'unhealthy' : 'healthy');
});

void test('metrics: CPU, memory, disks, network and processes are collected', async () => {
  const cfg = makeConfig({ health_checks: { postgres: { enabled: false }, redis: { enabled: false } } });
  const report = await runHealthChecks(cfg, { only: ['memory'] });
  const m = report.metrics;
  assert.ok(m);
  assert.ok(m.cpu && m.cpu.usage_percent >= 0 && m.cpu.usage_percent <= 100);
  assert.ok(m.memory && m.memory.usage_percent > 0);
  assert.ok(m.disk && m.disk.some((d) => d.mount === '/'));
  assert.ok(m.network && m.network.interfaces.some((i) => i.iface === 'lo'));
  assert.ok(m.processes && m.processes.count > 1);
  assert.deepEqual(Object.keys(report.checks), ['memory']);
});
