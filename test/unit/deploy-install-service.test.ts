/** `autofix install-service` as a child process: dry-run touches nothing; a real install writes the files. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../../..');
const BIN = path.join(ROOT, 'bin/autofix');

const CONFIG = {
  error_patterns: [],
  services: {
    flask: { unit: 'flask.service' },
    redis: { restart: ['sudo', '-n', 'systemctl', 'restart', 'redis-server.service'] },
  },
};

/** A temp root with a config file; the install dirs are paths below it that do not exist yet. */
function fixture(config: unknown = CONFIG) {
  const root = mkdtempSync(path.join(os.tmpdir(), 'autofix-install-'));
  const cfg = path.join(root, 'error_patterns.json');
  writeFileSync(cfg, JSON.stringify(config));
  const dirs = { unit: path.join(root, 'systemd'), sudoers: path.join(root, 'sudoers.d'), env: path.join(root, 'etc-autofix') };
  const run = (...extra: string[]) =>
    spawnSync(
      process.execPath,
      [BIN, 'install-service', '--config', cfg, '--prefix', ROOT, '--node', process.execPath,
        '--unit-dir', dirs.unit, '--sudoers-dir', dirs.sudoers, '--env-dir', dirs.env, ...extra],
      { encoding: 'utf8' },
    );
  return { root, cfg, dirs, run, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

const mode = (p: string) => statSync(p).mode & 0o777;

void test('--dry-run prints both files and writes nothing', () => {
  const f = fixture();
  try {
    const before = readdirSync(f.root);
    const r = f.run('--dry-run', '--enable');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^ExecStart=.* worker$/m);
    assert.match(r.stdout, /^www-data ALL=\(root\) NOPASSWD: \/usr\/bin\/systemctl restart flask\.service$/m);
    assert.match(r.stdout, /^www-data ALL=\(root\) NOPASSWD: \/usr\/bin\/systemctl restart redis-server\.service$/m);
    assert.match(r.stdout, /^would run: systemctl enable --now autofix-worker\.service$/m);
    assert.deepEqual(readdirSync(f.root), before, 'no file or directory was created');
  } finally {
    f.cleanup();
  }
});

void test('a real install writes the unit (0644), the sudoers file (0440) and the env file (0640)', () => {
  const f = fixture();
  try {
    const r = f.run();
    assert.equal(r.status, 0, r.stderr);
    const unit = path.join(f.dirs.unit, 'autofix-worker.service');
    const sudoers = path.join(f.dirs.sudoers, 'autofix');
    const env = path.join(f.dirs.env, 'autofix.env');
    assert.equal(mode(unit), 0o644);
    assert.equal(mode(sudoers), 0o440);
    assert.equal(mode(env), 0o640);
    assert.match(readFileSync(unit, 'utf8'), new RegExp(`^ExecStart=${process.execPath} ${ROOT}/bin/autofix worker$`, 'm'));
    assert.match(readFileSync(unit, 'utf8'), new RegExp(`^EnvironmentFile=-${env}$`, 'm'));
    assert.match(readFileSync(env, 'utf8'), new RegExp(`^AUTOFIX_CONFIG=${f.cfg}$`, 'm'));
    assert.equal(spawnSync('/usr/sbin/visudo', ['-cf', sudoers]).status, 0);
    assert.equal(readFileSync(sudoers, 'utf8').match(/NOPASSWD/g)?.length, 2);
    assert.deepEqual(readdirSync(f.dirs.sudoers), ['autofix'], 'no temp file left behind');
    assert.equal(spawnSync('systemd-analyze', ['verify', unit]).status, 0);
    assert.match(r.stdout, /^next: systemctl daemon-reload && systemctl enable --now autofix-worker\.service$/m);
  } finally {
    f.cleanup();
  }
});

void test('an existing env file is kept as it is', () => {
  const f = fixture();
  try {
    mkdirSync(f.dirs.env);
    writeFileSync(path.join(f.dirs.env, 'autofix.env'), 'TEMPORAL_ADDRESS=10.0.0.5:7233\n', { mode: 0o600 });
    const r = f.run();
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(path.join(f.dirs.env, 'autofix.env'), 'utf8'), 'TEMPORAL_ADDRESS=10.0.0.5:7233\n');
    assert.equal(mode(path.join(f.dirs.env, 'autofix.env')), 0o600);
    assert.match(r.stdout, /^kept .*autofix\.env \(exists\)$/m);
  } finally {
    f.cleanup();
  }
});

void test('a restart argv with a sudoers special character is refused (exit 2) and nothing is written', () => {
  const f = fixture({ error_patterns: [], services: { web: { restart: ['systemctl', 'restart', 'web*'] } } });
  try {
    const r = f.run();
    assert.equal(r.status, 2);
    assert.match(r.stderr, /services\.web\.restart: argument 2 "web\*" cannot be written into sudoers/);
    for (const d of Object.values(f.dirs)) assert.equal(existsSync(d), false, `${d} was not created`);
  } finally {
    f.cleanup();
  }
});

void test('when visudo rejects the sudoers text, nothing is installed (exit 1)', () => {
  const f = fixture();
  try {
    const r = f.run('--visudo', '/bin/false');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /visudo rejected the rendered sudoers file/);
    for (const d of Object.values(f.dirs)) assert.equal(existsSync(d), false, `${d} was not created`);
  } finally {
    f.cleanup();
  }
});
