/**
 * The engine monitor's rules with a fake clock and scripted probes: one outage alert per outage
 * once it lasted the threshold, one recovery alert with the outage's duration, none for a blip,
 * a failing alert channel does not stop it, and it stops with its worker.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineMonitor, type EngineAlert, type EngineState } from '../../src/worker/engine-monitor';
import { engineNotification, splitAddress } from '../../src/worker/engine-watch';

/** A monitor whose probe answers from `script` (true = up) and whose clock advances 1 s per probe. */
function scripted(script: boolean[], o: { outageAlertMs?: number; alertThrows?: boolean; active?: () => boolean } = {}) {
  let t = 1_000_000;
  const alerts: EngineAlert[] = [];
  const states: Array<{ s: EngineState; changed: boolean }> = [];
  const logs: string[] = [];
  let i = 0;
  const m = new EngineMonitor({
    address: '127.0.0.1:7233',
    outageAlertMs: o.outageAlertMs ?? 3000,
    now: () => t,
    probe: async () => {
      const up = script[i++];
      t += 1000; // each probe takes a second
      if (!up) throw new Error('14 UNAVAILABLE: connection refused\nsecond line');
    },
    alert: async (a) => {
      alerts.push(a);
      if (o.alertThrows) throw new Error('smtp down');
    },
    onState: (s, changed) => void states.push({ s: { ...s }, changed }),
    log: (l) => logs.push(l),
    ...(o.active ? { active: o.active } : {}),
  });
  return {
    m,
    alerts,
    states,
    logs,
    async run(n = script.length) {
      for (let k = 0; k < n; k++) await m.check();
    },
  };
}

void test('an outage longer than the threshold: one outage alert, one recovery alert with its duration', async () => {
  //           up    down  down  down  down  down  up    up
  const r = scripted([true, false, false, false, false, false, true, true]);
  await r.run();
  assert.deepEqual(
    r.alerts.map((a) => a.kind),
    ['outage', 'recovered'],
  );
  const [outage, recovered] = r.alerts as [EngineAlert, EngineAlert];
  // The outage began when the first failed probe started (t0 + 1 s), was reported once 3 s old.
  assert.equal(outage.since, 1_001_000);
  assert.equal(outage.durationMs, 3000);
  assert.match(outage.reason ?? '', /^14 UNAVAILABLE: connection refused$/, 'one line of the error');
  assert.equal(recovered.since, 1_001_000);
  assert.equal(recovered.durationMs, 6000, 'from the first failed probe to the answer');
  assert.equal(r.m.snapshot().reachable, true);
  assert.equal(r.m.snapshot().unreachableSince, undefined);
});

void test('a blip shorter than the threshold alerts nobody, and is logged', async () => {
  const r = scripted([true, false, false, true]);
  await r.run();
  assert.deepEqual(r.alerts, []);
  assert.ok(r.logs.some((l) => /answers again after 3 s/.test(l)), r.logs.join('\n'));
});

void test('two outages: two pairs of alerts; state changes are flagged for the state file', async () => {
  const r = scripted([false, false, false, false, true, false, false, false, false, true]);
  await r.run();
  assert.deepEqual(
    r.alerts.map((a) => a.kind),
    ['outage', 'recovered', 'outage', 'recovered'],
  );
  assert.deepEqual(
    r.states.filter((x) => x.changed).map((x) => x.s.reachable),
    [false, true, false, true],
  );
  assert.equal(r.states.length, 10, 'metrics are updated after every probe');
});

void test('an alert channel that throws does not stop the monitor', async () => {
  const r = scripted([false, false, false, false, true], { alertThrows: true });
  await r.run();
  assert.deepEqual(
    r.alerts.map((a) => a.kind),
    ['outage', 'recovered'],
  );
  assert.ok(r.logs.some((l) => /could not send the engine outage alert: smtp down/.test(l)));
});

void test('once its worker has stopped, the monitor probes no more and ignores a late result', async () => {
  let active = true;
  const r = scripted([false, false, false, false, false], { active: () => active });
  await r.m.check();
  active = false;
  await r.run(4);
  assert.deepEqual(r.alerts, [], 'a shutting-down worker does not report the engine gone');
  assert.equal(r.states.length, 1);
});

void test('the loop probes by itself and stop() ends it', async () => {
  let probes = 0;
  const m = new EngineMonitor({ address: 'x:1', probe: async () => void probes++, alert: async () => undefined });
  m.start(10);
  await new Promise((r) => setTimeout(r, 100));
  await m.stop();
  const seen = probes;
  assert.ok(seen >= 3, `probed ${seen} times`);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(probes, seen);
});

void test('alerts carry the address, the start and the duration; the recovery has the outage severity', () => {
  const out = engineNotification({ kind: 'outage', address: '10.0.0.5:7233', since: Date.UTC(2025, 0, 2, 3, 4, 5), durationMs: 65_000, reason: 'refused' });
  assert.equal(out.severity, 'critical');
  assert.match(out.message, /^Temporal server unreachable: 10\.0\.0\.5:7233 has not answered the autofix worker since 2025-01-02T03:04:05\.000Z \(1 min 5 s\)/);
  assert.deepEqual({ ...out.details, worker_host: 'h', worker_pid: 1 }, {
    event: 'engine_unreachable',
    engine_address: '10.0.0.5:7233',
    unreachable_since: '2025-01-02T03:04:05.000Z',
    outage_seconds: 65,
    worker_host: 'h',
    worker_pid: 1,
    last_error: 'refused',
  });
  const back = engineNotification({ kind: 'recovered', address: 'a:1', since: 0, durationMs: 3_600_000 });
  assert.equal(back.severity, out.severity);
  assert.match(back.message, /reachable again: a:1 .* after an outage of 1 h/);
  assert.equal((back.details as { event: string }).event, 'engine_recovered');
});

void test('engine addresses split into host and port', () => {
  assert.deepEqual(splitAddress('127.0.0.1:7233'), { host: '127.0.0.1', port: 7233 });
  assert.deepEqual(splitAddress('[::1]:7233'), { host: '::1', port: 7233 });
  assert.deepEqual(splitAddress('temporal.example:443'), { host: 'temporal.example', port: 443 });
  assert.equal(splitAddress('dns:///temporal'), undefined);
});
