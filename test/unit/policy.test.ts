/** Pure decision logic: due checks, pause, cooldown, flap guard, incident ids. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ageFixMemory, decideFix, dueChecks, fixesInWindow, incidentId, isPaused, sagaTimeLimitMs, type FixDecisionInput } from '../../src/policy';
import { HEALTH_SECTIONS, LOOP_CHECKS, PROBE_KINDS, PROBE_NAMES } from '../../src/policy/checks';
import { PROBES, checkIntervals } from '../../src/probes';
import { parseConfig } from '../../src/config/load';

const flap = { max_fixes: 3, window_minutes: 30, reset_after_minutes: 60 };
const base: FixDecisionInput = { autoFix: true, hasActions: true, paused: false, inProgress: false, memory: undefined, cooldownSeconds: 300, flap, now: 10_000_000 };
const min = 60_000;

test('dueChecks honours each interval across loops', () => {
  const intervals = { postgres: 60, redis: 60, disk: 300, memory: 300, http: 30 };
  assert.deepEqual(dueChecks({}, intervals, 0).sort(), ['disk', 'http', 'memory', 'postgres', 'redis']);
  const last = { postgres: 0, redis: 0, disk: 0, memory: 0, http: 0 };
  assert.deepEqual(dueChecks(last, intervals, 30_000), ['http']);
  assert.deepEqual(dueChecks(last, intervals, 60_000).sort(), ['http', 'postgres', 'redis']);
  assert.deepEqual(dueChecks(last, intervals, 299_000).sort(), ['disk', 'http', 'memory', 'postgres', 'redis']);
  // Over a simulated hour of 30 s loops, a 60 s check runs every other loop and a 300 s one every tenth.
  const runs: Record<string, number> = {};
  const lastRun: Record<string, number> = {};
  for (let now = 0; now < 3_600_000; now += 30_000) {
    for (const c of dueChecks(lastRun, intervals, now)) {
      runs[c] = (runs[c] ?? 0) + 1;
      lastRun[c] = now;
    }
  }
  assert.deepEqual(runs, { postgres: 60, redis: 60, disk: 12, memory: 12, http: 120 });
});

test('isPaused: until resumed, or until a timed pause ends', () => {
  assert.equal(isPaused(null, 5), false);
  assert.equal(isPaused({ since: 0 }, 5), true);
  assert.equal(isPaused({ since: 0, until: 10 }, 5), true);
  assert.equal(isPaused({ since: 0, until: 10 }, 10), false);
});

test('decideFix: each reason not to fix, in order', () => {
  assert.deepEqual(decideFix({ ...base, autoFix: false, paused: true }), { action: 'skip', reason: 'auto_fix_off' });
  assert.deepEqual(decideFix({ ...base, hasActions: false }), { action: 'skip', reason: 'no_actions' });
  assert.deepEqual(decideFix({ ...base, paused: true, inProgress: true }), { action: 'skip', reason: 'paused' });
  assert.deepEqual(decideFix({ ...base, inProgress: true }), { action: 'skip', reason: 'in_progress' });
  assert.deepEqual(decideFix({ ...base, memory: { fixes: [], trippedAt: 1 } }), { action: 'skip', reason: 'flapping' });
  assert.deepEqual(decideFix({ ...base, memory: { fixes: [base.now - 299_000] } }), { action: 'skip', reason: 'cooldown' });
  assert.deepEqual(decideFix({ ...base, memory: { fixes: [base.now - 300_000] } }), { action: 'fix' });
  assert.deepEqual(decideFix(base), { action: 'fix' });
});

test('the flap guard trips on the fix after max_fixes within the window, not before', () => {
  const now = base.now;
  const three = { fixes: [now - 20 * min, now - 15 * min, now - 10 * min] };
  assert.equal(fixesInWindow(three, flap, now), 3);
  assert.deepEqual(decideFix({ ...base, memory: three }), { action: 'trip', reason: 'flapping', fixesInWindow: 3 });
  const two = { fixes: [now - 15 * min, now - 10 * min] };
  assert.deepEqual(decideFix({ ...base, memory: two }), { action: 'fix' });
  const old = { fixes: [now - 40 * min, now - 15 * min, now - 10 * min] };
  assert.deepEqual(decideFix({ ...base, memory: old }), { action: 'fix' }, 'fixes outside the window do not count');
});

test('ageFixMemory drops old fixes and resets a tripped guard after a quiet period, with a fresh count', () => {
  const now = base.now;
  const mem = { fixes: [now - 40 * min, now - 10 * min], lastDetected: now - 5 * min, trippedAt: now - 20 * min };
  assert.deepEqual(ageFixMemory(mem, flap, now), { fixes: [now - 10 * min], lastDetected: now - 5 * min, trippedAt: now - 20 * min });
  const quiet = { fixes: [now - 25 * min], lastDetected: now - 61 * min, trippedAt: now - 90 * min };
  assert.deepEqual(ageFixMemory(quiet, flap, now), { fixes: [], lastDetected: now - 61 * min });
});

test('incidentId is deterministic per pattern, bucket and host', () => {
  const t = Date.UTC(2025, 11, 28, 10, 31, 17);
  assert.equal(incidentId('http_5xx', t, 300), 'incident-http_5xx-20251228T103000Z');
  assert.equal(incidentId('http_5xx', t + 60_000, 300), 'incident-http_5xx-20251228T103000Z');
  assert.equal(incidentId('http_5xx', t + 300_000, 300), 'incident-http_5xx-20251228T103500Z');
  assert.equal(incidentId('db_connection', t, 300, 'web1'), 'incident-web1-db_connection-20251228T103000Z');
});

test('checkIntervals (from the probe registry) lists only checks that have something to check', () => {
  const cfg = parseConfig(
    {
      error_patterns: [],
      health_checks: {
        redis: { enabled: false },
        http: { interval_seconds: 30, endpoints: [] },
        ports: { expect_listening: [{ port: 5000, name: 'flask' }] },
      },
    },
    '/etc/autofix/error_patterns.json',
    {},
  );
  assert.deepEqual(checkIntervals(cfg), { json: 0, postgres: 60, disk: 300, memory: 300, ports: 60 });
  const withHttps = parseConfig({ error_patterns: [], health_checks: { http: { endpoints: [{ name: 'a', url: 'https://a.example/' }] } } }, '/x.json', {});
  assert.equal(checkIntervals(withHttps).http, 30, 'the http section runs when its http or tls probe applies');
});

test('the check names have one source: the probe registry implements exactly the declared kinds', () => {
  assert.deepEqual(Object.keys(PROBES), [...PROBE_NAMES]);
  for (const [name, probe] of Object.entries(PROBES)) assert.deepEqual({ section: probe.section, check: probe.check }, PROBE_KINDS[name as keyof typeof PROBE_KINDS]);
  assert.deepEqual([...LOOP_CHECKS], ['json', ...HEALTH_SECTIONS]);
});

test('sagaTimeLimitMs covers every attempt timing out and every backoff', () => {
  const a = { action_timeout_seconds: 300, max_retries: 3, retry_delay: 60, verify_timeout_seconds: 60 };
  // 2 actions × (300×3 + 60×2³) = 2760, + 60 verification + 600 slack = 3420 s
  assert.equal(sagaTimeLimitMs(a, 2), 3_420_000);
});
