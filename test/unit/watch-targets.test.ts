/**
 * What the watchers watch for a config (services, local ports, own log files), which directories
 * a set of watched paths needs (globs, directories that do not exist yet), which checks an event
 * loop runs, and what a runNow may carry.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../src/config/load';
import { loopChecks } from '../../src/policy';
import { checksForService, localPort, planWatch, watchTargets } from '../../src/watch';
import { parseInput, runNowArgsSchema } from '../../src/workflows/inputs';

const config = (extra: Record<string, unknown> = {}) =>
  parseConfig(
    {
      error_patterns: [
        {
          id: 'redis_connection',
          name: 'r',
          pattern: 'x',
          severity: 'critical',
          actions: [{ type: 'service_restart', service: 'cache' }],
          health_checks: ['redis_connection'],
        },
        {
          id: 'web_down',
          name: 'w',
          pattern: 'y',
          severity: 'error',
          actions: [{ type: 'service_restart', service: 'web' }],
        },
      ],
      daemon: { data_dir: '/srv/af' },
      watch: { logs: ['/var/log/app/*.log'], json_files: ['/srv/app/state.json'] },
      health_checks: {
        redis: { url: 'redis://127.0.0.1:6390' },
        postgres: { url: 'postgresql://app:s3cret@db.example.com:5432/app' },
        ports: { expect_listening: [{ port: 8080, name: 'web' }] },
        http: { endpoints: [{ name: 'api', url: 'http://localhost:5000/health', service: 'web' }] },
      },
      services: {
        cache: { restart: ['/bin/true'], pid_file: '/run/cache.pid', process_match: 'redis-server .*:6390' },
        web: { restart: ['/bin/true'], process_match: 'gunicorn', health: { type: 'tcp', port: 8080 } },
        plain: { unit: 'plain' },
      },
      ...extra,
    },
    '/etc/autofix/error_patterns.json',
    {},
  );

test('processes: pid files, command lines and local ports, each with the checks that notice them', () => {
  const t = watchTargets(config());
  assert.deepEqual(
    t.processes.map((p) =>
      p.kind === 'port' ? p : { kind: p.kind, label: p.label, checks: p.checks, service: p.service },
    ),
    [
      { kind: 'pid_file', label: 'service cache', checks: ['redis'], service: 'cache' },
      { kind: 'process_match', label: 'service cache', checks: ['redis'], service: 'cache' },
      { kind: 'process_match', label: 'service web', checks: ['ports', 'http'], service: 'web' },
      { kind: 'port', label: 'port 6390', checks: ['redis'], port: 6390 },
      { kind: 'port', label: 'port 8080', checks: ['ports'], port: 8080 },
      { kind: 'port', label: 'port 5000', checks: ['http'], port: 5000 },
    ],
  );
  // The services' own settings travel with their sources: the pid file is checked as for a signal.
  assert.equal(t.processes[0]?.kind === 'pid_file' && t.processes[0].config.pid_file, '/run/cache.pid');
  // The remote PostgreSQL is not this host's process; its URL (with a password) is not kept anywhere.
  assert.ok(!JSON.stringify(t).includes('s3cret'));
  assert.equal(t.loopIntervalMs, 30_000);
});

test('a disabled check is never forced', () => {
  const cfg = config({ health_checks: { redis: { enabled: false, url: 'redis://127.0.0.1:6390' } } });
  assert.deepEqual(checksForService(cfg, 'cache'), ['redis']);
  const t = watchTargets(cfg);
  assert.deepEqual(
    t.processes.filter((p) => p.label === 'service cache').map((p) => p.checks),
    [[], []],
  );
  assert.ok(!JSON.stringify(t.processes.filter((p) => p.kind === 'port')).includes('6390'));
  assert.ok(!t.processes.some((p) => p.kind === 'port' && p.port === 6390));
});

test("files: the watched logs and JSON files; autofix's own files never count", () => {
  const t = watchTargets(config());
  assert.deepEqual(t.files.logs, ['/var/log/app/*.log']);
  assert.deepEqual(t.files.json, ['/srv/app/state.json']);
  // The config's log_file default (../logs next to the config's directory) and data_dir.
  assert.ok(t.files.own.reason('/etc/logs/auto_fix.log'));
  assert.ok(t.files.own.reason('/etc/logs/alerts.log.1'));
  assert.ok(t.files.own.reason('/srv/af/state/cursors.json'));
  assert.equal(t.files.own.reason('/var/log/app/a.log'), undefined);
});

test('localPort: loopback hosts only, default ports, never a remote host', () => {
  assert.equal(localPort('redis://127.0.0.1:6379', 6379), 6379);
  assert.equal(localPort('redis://localhost', 6379), 6379);
  assert.equal(localPort('postgresql://u:p@[::1]:5433/db', 5432), 5433);
  assert.equal(localPort('postgresql://u:p@10.0.0.5:5432/db', 5432), undefined);
  assert.equal(localPort('not a url', 1), undefined);
});

test('planWatch: the file directories, and the parents to wait in for directories that come later', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'autofix-plan-'));
  try {
    mkdirSync(path.join(root, 'a', 'logs'), { recursive: true });
    mkdirSync(path.join(root, 'b', 'logs'), { recursive: true });
    mkdirSync(path.join(root, 'deep', 'x', 'y'), { recursive: true });
    writeFileSync(path.join(root, 'a', 'logs', 'app.log'), '');
    const plan = planWatch({
      logs: [
        path.join(root, '*', 'logs', '*.log'),
        path.join(root, 'later', 'sub', 'app.log'),
        path.join(root, 'deep', '**', '*.log'),
      ],
      json: [path.join(root, 'a', 'state.json')],
    });
    const dirs = [...plan.keys()].map((d) => path.relative(root, d) || '.').sort();
    assert.deepEqual(dirs, ['.', 'a', 'a/logs', 'b/logs', 'deep', 'deep/x', 'deep/x/y']);
    assert.deepEqual(
      plan.get(path.join(root, 'a', 'logs'))?.specs.map((s) => s.kind),
      ['log'],
    );
    assert.deepEqual(
      plan.get(path.join(root, 'a'))?.specs.map((s) => s.kind),
      ['json'],
    );
    // The root waits for `later` (literal) and for new `*` directories.
    const waits = plan.get(root)!.next;
    assert.ok(waits.some((m) => m('later')) && waits.some((m) => m('c')));
    assert.equal(plan.get(path.join(root, 'deep', 'x'))?.anyDir, true);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('loopChecks: an event loop runs the every-loop and forced checks and records only the scheduled ones', () => {
  const intervals = { json: 0, redis: 60, postgres: 60, disk: 300 };
  const last = { json: 0, redis: 0, postgres: 0, disk: 0 };
  assert.deepEqual(
    loopChecks(last, intervals, 10_000, { scheduled: false, forced: ['redis', 'redis', 'memory'] }),
    { run: ['json', 'redis'], record: ['json'] },
  );
  assert.deepEqual(loopChecks(last, intervals, 60_000, { scheduled: true }), {
    run: ['json', 'redis', 'postgres'],
    record: ['json', 'redis', 'postgres'],
  });
  assert.deepEqual(loopChecks(last, intervals, 30_000, { scheduled: true, forced: ['disk'] }), {
    run: ['json', 'disk'],
    record: ['json'],
  });
});

test('runNow carries a reason and check names, nothing else', () => {
  assert.deepEqual(parseInput(runNowArgsSchema, undefined, 'runNow'), {});
  assert.deepEqual(parseInput(runNowArgsSchema, { reason: 'process', checks: ['redis'] }, 'runNow'), {
    reason: 'process',
    checks: ['redis'],
  });
  assert.throws(
    () => parseInput(runNowArgsSchema, { reason: 'log', path: '/etc/shadow' }, 'runNow'),
    /field\(s\) path not accepted: a path cannot be sent/,
  );
  assert.throws(() => parseInput(runNowArgsSchema, { reason: 'because' }, 'runNow'), /\$\.reason/);
  assert.throws(() => parseInput(runNowArgsSchema, { checks: ['rm -rf /'] }, 'runNow'), /\$\.checks\[0\]/);
});
