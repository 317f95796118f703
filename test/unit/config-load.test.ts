/** Config validation: the seed's file loads unchanged; bad input names the file, JSON path and expectation. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ConfigError } from '../../src/config/errors';
import { configJsonSchema, DEFAULT_CONFIG_PATH, loadConfig, parseConfig } from '../../src/config/load';

const REPO = path.resolve(__dirname, '../../..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'autofix-config-'));
const write = (name: string, body: unknown) => {
  const f = path.join(tmp, name);
  writeFileSync(f, typeof body === 'string' ? body : JSON.stringify(body, null, 2));
  return f;
};

/** The seed README's example file, verbatim in shape. */
const seed = {
  error_patterns: [
    { id: 'unique_id', name: 'エラー名', pattern: '正規表現パターン', severity: 'warning', auto_fix: true, actions: [{ type: 'alert', description: '説明' }] },
  ],
  auto_fix_config: { max_retries: 3, retry_delay: 60, cooldown_period: 300, enable_notifications: true, notification_channels: ['log', 'email'], backup_before_fix: true },
};

test("the seed's error_patterns.json loads unchanged, with defaults for everything else", () => {
  const cfg = loadConfig(write('seed.json', seed), {});
  assert.equal(cfg.error_patterns[0]?.id, 'unique_id');
  assert.equal(cfg.auto_fix_config.cooldown_period, 300);
  assert.equal(cfg.daemon.loop_count, 15);
  assert.equal(cfg.daemon.wait_minutes, 5);
  assert.equal(cfg.health_checks.postgres.interval_seconds, 60);
  assert.equal(cfg.health_checks.disk.threshold_percent, 90);
  assert.equal(cfg.health_checks.memory.threshold_percent, 85);
  assert.equal(cfg.health_checks.http.interval_seconds, 30);
  // The seed's layout: run from backend/scripts with --log-file ../logs/auto_fix.log.
  assert.equal(cfg.daemon.log_file, path.resolve(tmp, '../logs/auto_fix.log'));
  assert.equal(cfg.daemon.alerts_file, path.resolve(tmp, '../logs/alerts.log'));
  assert.equal(cfg.daemon.data_dir, path.resolve(tmp, '../autofix'));
  assert.equal(cfg.watch.start_at, 'end');
  assert.deepEqual(
    Object.fromEntries(Object.entries(cfg.health_checks).map(([k, v]) => [k, v.critical])),
    { postgres: true, redis: false, disk: true, memory: false, http: true, ports: false },
  );
});

test('the shipped default config is valid and has all twelve pattern ids', () => {
  const cfg = loadConfig(DEFAULT_CONFIG_PATH, {});
  const ids = cfg.error_patterns.map((p) => p.id).sort();
  for (const id of ['http_4xx', 'http_5xx', 'python_exception', 'db_connection', 'fs_not_found', 'fs_permission', 'memory_error', 'disk_full', 'port_in_use', 'json_parse', 'redis_connection', 'ssl_certificate']) {
    assert.ok(ids.includes(id), `missing ${id}`);
  }
});

test('DATABASE_URL and REDIS_URL override the targets', () => {
  const cfg = parseConfig(seed, path.join(tmp, 'x.json'), { DATABASE_URL: 'postgresql://u@db:5433/app', REDIS_URL: 'redis://cache:6380' });
  assert.equal(cfg.health_checks.postgres.url, 'postgresql://u@db:5433/app');
  assert.equal(cfg.health_checks.redis.url, 'redis://cache:6380');
});

const bad: Array<[string, unknown, RegExp]> = [
  ['bad-severity', { error_patterns: [{ ...seed.error_patterns[0], severity: 'fatal' }] }, /\$\.error_patterns\[0\]\.severity: .*warning.*error.*critical/],
  ['unknown-action', { error_patterns: [{ ...seed.error_patterns[0], actions: [{ type: 'reboot_server' }] }] }, /\$\.error_patterns\[0\]\.actions\[0\]\.type/],
  ['bad-regex', { error_patterns: [{ ...seed.error_patterns[0], pattern: '(unclosed' }] }, /\$\.error_patterns\[0\]\.pattern: not a valid regular expression/],
  ['redos', { error_patterns: [{ ...seed.error_patterns[0], pattern: '(a+)+$' }] }, /\$\.error_patterns\[0\]\.pattern: refused: exponential backtracking .*attack string: 'a'/],
  ['undefined-service', { error_patterns: [{ ...seed.error_patterns[0], actions: [{ type: 'service_restart', service: 'nginx' }] }] }, /\$\.error_patterns\[0\]\.actions\[0\]\.service: service "nginx" is not defined/],
  ['duplicate-id', { error_patterns: [seed.error_patterns[0], seed.error_patterns[0]] }, /\$\.error_patterns\[1\]\.id: duplicate id/],
  ['wrong-type', { ...seed, auto_fix_config: { max_retries: 'three' } }, /\$\.auto_fix_config\.max_retries: .*number/],
  ['not-json', '{"error_patterns": [', /\$\.error_patterns\[0\]: not valid JSON: .*line 1, column 21/],
];
for (const [name, body, expected] of bad) {
  test(`a bad config (${name}) is refused with the file, the JSON path and what was expected`, () => {
    const file = write(`${name}.json`, body);
    assert.throws(() => loadConfig(file, {}), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.ok(err.message.includes(file), err.message);
      assert.match(err.message, expected);
      return true;
    });
  });
}

test('`autofix config check` exits 2 on a bad file and 0 on a good one; `config schema` prints a JSON Schema', async () => {
  const cli = path.join(REPO, 'bin', 'autofix');
  const badFile = write('cli-bad.json', { error_patterns: [{ id: 'x', name: 'x', pattern: 'a', severity: 'fatal' }] });
  await assert.rejects(promisify(execFile)(process.execPath, [cli, 'config', 'check', '--config', badFile]), (err: { code?: number; stderr?: string }) => {
    assert.equal(err.code, 2);
    assert.match(err.stderr ?? '', /error_patterns\[0\]\.severity/);
    assert.ok((err.stderr ?? '').includes(badFile));
    return true;
  });
  const ok = await promisify(execFile)(process.execPath, [cli, 'config', 'check', '--config', write('cli-good.json', seed)]);
  assert.match(ok.stdout, /^ok: /);
  const schema = configJsonSchema() as { properties?: Record<string, unknown> };
  assert.ok(schema.properties?.error_patterns && schema.properties.auto_fix_config);
});

test('create-mode rotation without a reopen step is refused at load, naming the JSON path; backups defaults and paths', () => {
  const f = write('create-no-reopen.json', { ...seed, managed: { log_rotate: { copy_truncate: false } } });
  assert.throws(
    () => loadConfig(f, {}),
    (e: unknown) => e instanceof ConfigError && e.issues.some((i) => i.path === '$.managed.log_rotate.copy_truncate' && /reopen.*postrotate/.test(i.message)),
  );
  const unknown = write('reopen-unknown.json', { ...seed, managed: { log_rotate: { copy_truncate: false, reopen: { service: 'nope' } } } });
  assert.throws(() => loadConfig(unknown, {}), (e: unknown) => e instanceof ConfigError && e.issues.some((i) => i.path === '$.managed.log_rotate.reopen.service'));
  const ok = loadConfig(write('create-ok.json', { ...seed, services: { flask: { process_match: 'gunicorn .*' } }, managed: { log_rotate: { copy_truncate: false, reopen: { service: 'flask' } } }, backups: { dir: 'b' } }), {});
  assert.equal(ok.managed.log_rotate.reopen?.signal, 'HUP');
  assert.equal(ok.backups.dir, path.join(tmp, 'b'));
  assert.equal(ok.backups.max_age_days, 14);
  assert.equal(ok.backups.max_total_mb, 1024);
});
