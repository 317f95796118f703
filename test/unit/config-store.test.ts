/**
 * The worker's config store: versions by reference, kept across edits and worker restarts
 * (0600 files in a 0700 folder, without environment secrets), unknown references refused, and
 * errors that never echo the file's content.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { ConfigStore } from '../../src/config/store';
import { ConfigError } from '../../src/config/errors';
import { FailureType } from '../../src/errors';

function sandbox() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'autofix-store-'));
  const file = path.join(dir, 'error_patterns.json');
  const write = (patterns: string[], extra: Record<string, unknown> = {}) =>
    writeFileSync(
      file,
      JSON.stringify({
        error_patterns: patterns.map((id) => ({ id, name: id, pattern: id, severity: 'error' })),
        daemon: { data_dir: path.join(dir, 'data'), log_file: path.join(dir, 'data', 'logs', 'auto_fix.log') },
        ...extra,
      }),
    );
  return { dir, file, write, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

test('a version stays resolvable after the file changes and after a worker restart', (t) => {
  const sb = sandbox();
  t.after(sb.cleanup);
  sb.write(['one']);
  const store = new ConfigStore({ path: sb.file });
  const first = store.current();
  sb.write(['one', 'two']);
  const { changed, loaded } = store.refresh();
  assert.equal(changed, true);
  assert.notEqual(loaded.ref.digest, first.ref.digest);
  assert.deepEqual(store.resolve(first.ref).error_patterns.map((p) => p.id), ['one'], 'the in-flight version is kept');
  assert.deepEqual(store.resolve(loaded.ref).error_patterns.map((p) => p.id), ['one', 'two']);
  // A new worker process on the same file finds the old version on disk.
  const restarted = new ConfigStore({ path: sb.file });
  assert.deepEqual(restarted.resolve(first.ref).error_patterns.map((p) => p.id), ['one']);
});

test('stored versions are 0600 in a 0700 folder, bounded, and hold no environment secret', (t) => {
  const sb = sandbox();
  t.after(sb.cleanup);
  const env = { DATABASE_URL: 'postgresql://app:ENV-SECRET-123@127.0.0.1:5432/app' };
  sb.write(['a']);
  const store = new ConfigStore({ path: sb.file, env, keep: 3 });
  assert.equal(store.current().config.health_checks.postgres.url, env.DATABASE_URL, 'the environment still applies');
  for (let i = 0; i < 6; i++) {
    sb.write(['a', `p${i}`]);
    store.refresh();
  }
  const dir = path.join(sb.dir, 'data', 'config');
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  const files = readdirSync(dir);
  assert.equal(files.length, 3, 'only the newest versions are kept');
  for (const f of files) {
    assert.equal(statSync(path.join(dir, f)).mode & 0o777, 0o600);
    assert.doesNotMatch(readFileSync(path.join(dir, f), 'utf8'), /ENV-SECRET-123/);
  }
});

test('a reference the worker never served is refused, non-retryable', (t) => {
  const sb = sandbox();
  t.after(sb.cleanup);
  sb.write(['a']);
  const store = new ConfigStore({ path: sb.file });
  for (const ref of [{ name: 'x', digest: 'f'.repeat(64) }, { name: 'x', digest: '../../etc/passwd' }, null, 'abc']) {
    assert.throws(
      () => store.resolve(ref),
      (e: unknown) => e instanceof ApplicationFailure && e.type === FailureType.UnknownConfig && e.nonRetryable === true,
    );
  }
});

test('a stored version that was tampered with is not served', (t) => {
  const sb = sandbox();
  t.after(sb.cleanup);
  sb.write(['a']);
  const first = new ConfigStore({ path: sb.file }).current().ref;
  sb.write(['b']);
  const store = new ConfigStore({ path: sb.file });
  const stored = path.join(sb.dir, 'data', 'config', `${first.digest}.json`);
  const rec = JSON.parse(readFileSync(stored, 'utf8')) as { raw: { error_patterns: Array<{ pattern: string }> } };
  rec.raw.error_patterns[0]!.pattern = 'changed';
  writeFileSync(stored, JSON.stringify(rec));
  assert.throws(() => store.resolve(first), (e: unknown) => e instanceof ApplicationFailure && e.type === FailureType.UnknownConfig);
});

test('an invalid edit keeps the current version and is reported once', (t) => {
  const sb = sandbox();
  t.after(sb.cleanup);
  sb.write(['a']);
  const store = new ConfigStore({ path: sb.file });
  const before = store.current().ref;
  writeFileSync(sb.file, '{"error_patterns": [');
  const r = store.refresh();
  assert.ok(r.error instanceof ConfigError);
  assert.deepEqual(r.loaded.ref, before);
  assert.equal(store.refresh().error, undefined, 'the same bad edit is not reported again');
});

test('config errors never echo the file content', (t) => {
  const sb = sandbox();
  t.after(sb.cleanup);
  const secret = 'root:x:0:0:SENTINEL-CONTENT';
  for (const text of [`${secret}\n`, `{"error_patterns": "${secret}"}`, `{"error_patterns": [], "daemon": {"loop_count": "${secret}"}}`, `{"error_patterns": [{"id": "a", "name": "a", "pattern": "a", "severity": "${secret}"}]}`]) {
    writeFileSync(sb.file, text);
    assert.throws(
      () => new ConfigStore({ path: sb.file }),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.doesNotMatch(e.message, /SENTINEL|root:x/, e.message);
        assert.match(e.message, new RegExp(sb.file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
        return true;
      },
    );
  }
});

test('secrets named by environment variable come from the environment', (t) => {
  const sb = sandbox();
  t.after(sb.cleanup);
  sb.write(['a'], {
    notifications: {
      email: { host: '127.0.0.1', to: ['ops@example.com'], user: 'ops', pass_env: 'AUTOFIX_TEST_SMTP_PASS' },
      webhook: { url_env: 'AUTOFIX_TEST_HOOK', headers_env: { Authorization: 'AUTOFIX_TEST_AUTH' } },
    },
  });
  const env = { AUTOFIX_TEST_SMTP_PASS: 'pw-from-env', AUTOFIX_TEST_HOOK: 'https://hooks.example/T/abc', AUTOFIX_TEST_AUTH: 'Bearer tok' };
  const cfg = new ConfigStore({ path: sb.file, env }).current().config;
  assert.equal(cfg.notifications.email?.pass, 'pw-from-env');
  assert.equal(cfg.notifications.webhook?.url, 'https://hooks.example/T/abc');
  assert.equal(cfg.notifications.webhook?.headers.Authorization, 'Bearer tok');
  assert.throws(() => new ConfigStore({ path: sb.file, env: {} }), /AUTOFIX_TEST_SMTP_PASS is not set/);
});
