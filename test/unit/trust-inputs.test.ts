/**
 * What a Temporal client may send (src/workflows/inputs.ts): ids and small numbers only. Old
 * input shapes that carried a config or a path, and any unknown field, are refused with a message
 * that names the field but never echoes its value. And the redactor masks every secret of a config.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { daemonInputSchema, parseInput, reloadArgsSchema, sagaInputSchema } from '../../src/workflows/inputs';
import { FailureType } from '../../src/errors';
import { parseConfig } from '../../src/config/load';
import { makeRedactor, secretsOf } from '../../src/config/secrets';

const detection = { id: 'redis_connection', name: 'Redis', severity: 'critical', count: 1, source: 'log', samples: ['x'] };
const saga = { incidentId: 'incident-redis_connection-1', patternId: 'redis_connection', detection, host: '', startedBy: 'cli' };

function refused(fn: () => unknown, field: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ApplicationFailure, String(e));
    assert.equal(e.type, FailureType.InvalidInput);
    assert.equal(e.nonRetryable, true);
    assert.match(e.message, field);
    assert.doesNotMatch(e.message, /touch|\/bin\/sh|SENTINEL/);
    return true;
  });
}

test('a saga input names an incident; one that defines a config is refused', () => {
  assert.equal(parseInput(sagaInputSchema, saga, 'saga').patternId, 'redis_connection');
  const config = { error_patterns: [], services: { redis: { restart: ['/bin/sh', '-c', 'touch /tmp/SENTINEL'] } } };
  refused(() => parseInput(sagaInputSchema, { ...saga, config }, 'saga'), /config cannot be sent/);
  refused(() => parseInput(sagaInputSchema, { ...saga, severity: 'critical', config }, 'saga'), /severity, config/);
  refused(() => parseInput(sagaInputSchema, { ...saga, patternId: '../etc' }, 'saga'), /\$\.patternId/);
  refused(() => parseInput(sagaInputSchema, { ...saga, incidentId: 'a/b' }, 'saga'), /\$\.incidentId/);
  refused(() => parseInput(sagaInputSchema, { ...saga, detection: { ...detection, argv: ['x'] } }, 'saga'), /\$\.detection: field\(s\) argv/);
  refused(() => parseInput(sagaInputSchema, { ...saga, configRef: { name: 'x', digest: 'SENTINEL' } }, 'saga'), /configRef\.digest/);
});

test('a daemon input carries cadence and ids; a config path, log file or config in its state is refused', () => {
  assert.equal(parseInput(daemonInputSchema, { loopCount: 3 }, 'daemon').loopCount, 3);
  refused(() => parseInput(daemonInputSchema, { configPath: '/tmp/SENTINEL.json' }, 'daemon'), /a config path cannot be sent/);
  refused(() => parseInput(daemonInputSchema, { logFile: '/etc/cron.d/SENTINEL' }, 'daemon'), /a log file path cannot be sent/);
  const oldState = { v: 1, iteration: 1, config: { error_patterns: [] }, cursors: {}, lastRun: {}, memory: {}, openIncidents: {}, pause: null, totals: { loops: 0, detections: 0, events: 0, incidents: 0 } };
  refused(() => parseInput(daemonInputSchema, { state: oldState }, 'daemon'), /\$\.state/);
  refused(() => parseInput(daemonInputSchema, { loopIntervalSeconds: 0 }, 'daemon'), /loopIntervalSeconds/);
});

test('reloadConfig takes no path', () => {
  assert.deepEqual(parseInput(reloadArgsSchema, undefined, 'reload'), {});
  refused(() => parseInput(reloadArgsSchema, { path: '/etc/passwd' }, 'reload'), /a path cannot be sent/);
});

test('the redactor masks every secret of a config, in strings at any depth, known or not', () => {
  const cfg = parseConfig(
    {
      error_patterns: [],
      health_checks: {
        postgres: { url: 'postgresql://app:pg-SENTINEL-1@db:5432/app' },
        redis: { url: 'redis://:redis-SENTINEL-2@cache:6379' },
        http: { endpoints: [{ name: 'app', url: 'http://admin:http%40SENTINEL-3@app:5000/health' }] },
      },
      notifications: {
        email: { host: 'smtp', to: ['a@b'], user: 'ops', pass: 'smtp-SENTINEL-4' },
        webhook: { url: 'https://hooks.example/services/T00/hook-SENTINEL-5', headers: { Authorization: 'Bearer header-SENTINEL-6' } },
      },
    },
    '/etc/autofix/error_patterns.json',
    {},
  );
  const redact = makeRedactor(secretsOf(cfg));
  const leaky = {
    message: 'connect failed for postgresql://app:pg-SENTINEL-1@db:5432/app (password pg-SENTINEL-1)',
    nested: [{ why: 'AUTH redis-SENTINEL-2 refused; http@SENTINEL-3; smtp-SENTINEL-4' }, 'POST https://hooks.example/services/T00/hook-SENTINEL-5 with header-SENTINEL-6'],
    other: 'mysql://root:unknown-SENTINEL-7@h/db',
    n: 5,
  };
  const out = JSON.stringify(redact(leaky));
  assert.doesNotMatch(out, /SENTINEL/, out);
  assert.match(out, /\*\*\*/);
  assert.equal(redact(leaky).n, 5);
});
