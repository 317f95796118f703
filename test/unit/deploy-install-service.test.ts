/**
 * `autofix install-service` as a child process: dry-run touches nothing; a real install writes
 * the files (auto-fix-daemon.service by default, autofix-worker.service with --unit worker),
 * copies the Temporal CLI where the daemon unit runs it, and creates the config's data and log
 * directories for the service user; a data directory the unit makes read-only is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requireTool } from '../helpers/tools';

const ROOT = path.resolve(__dirname, '../../..');
const BIN = path.join(ROOT, 'bin/autofix');

const CONFIG = {
  error_patterns: [],
  services: {
    flask: { unit: 'flask.service' },
    redis: { restart: ['sudo', '-n', 'systemctl', 'restart', 'redis-server.service'] },
  },
};

/**
 * A temp root with a config file (its data dir below the root); the install dirs and the
 * Temporal CLI target are paths below it that do not exist yet.
 */
function fixture(config: Record<string, unknown> = CONFIG) {
  requireTool('visudo'); // install-service checks the sudoers file with it
  const root = mkdtempSync(path.join(os.tmpdir(), 'autofix-install-'));
  const cfg = path.join(root, 'error_patterns.json');
  const dataDir = path.join(root, 'var', 'data');
  writeFileSync(cfg, JSON.stringify({ daemon: { data_dir: dataDir, log_file: path.join(dataDir, 'logs', 'auto_fix.log') }, ...config }));
  const dirs = { unit: path.join(root, 'systemd'), sudoers: path.join(root, 'sudoers.d'), env: path.join(root, 'etc-autofix') };
  const temporalCli = path.join(root, 'usr-local-bin', 'temporal');
  const run = (...extra: string[]) =>
    spawnSync(
      process.execPath,
      [BIN, 'install-service', '--config', cfg, '--prefix', ROOT, '--node', process.execPath, '--temporal-cli', temporalCli,
        '--unit-dir', dirs.unit, '--sudoers-dir', dirs.sudoers, '--env-dir', dirs.env, ...extra],
      { encoding: 'utf8' },
    );
  return { root, cfg, dirs, dataDir, temporalCli, run, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

const mode = (p: string) => statSync(p).mode & 0o777;

void test('--dry-run shows auto-fix-daemon.service, the sudoers rules, the env file, the CLI copy and the dirs, and writes nothing', () => {
  const f = fixture();
  try {
    const before = readdirSync(f.root);
    const r = f.run('--dry-run', '--enable');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^--- would write ${f.dirs.unit}/auto-fix-daemon\\.service \\(0644\\) ---$`, 'm'));
    assert.match(r.stdout, /^ExecStart=.* up$/m);
    assert.match(r.stdout, /^StateDirectory=autofix$/m);
    assert.match(r.stdout, new RegExp(`^Environment=TEMPORAL_CLI_PATH=${f.temporalCli}$`, 'm'));
    assert.match(r.stdout, /^www-data ALL=\(root\) NOPASSWD: \/usr\/bin\/systemctl restart flask\.service$/m);
    assert.match(r.stdout, /^www-data ALL=\(root\) NOPASSWD: \/usr\/bin\/systemctl restart redis-server\.service$/m);
    assert.match(r.stdout, /^#TEMPORAL_ADDRESS=/m);
    assert.match(r.stdout, new RegExp(`^would install ${f.temporalCli} \\(0755\\) from /`, 'm'));
    assert.match(r.stdout, new RegExp(`^would create ${f.dataDir} \\(0750, owner www-data:www-data\\) for \\$\\.daemon\\.data_dir$`, 'm'));
    assert.match(r.stdout, /^would run: systemctl enable --now auto-fix-daemon\.service$/m);
    assert.deepEqual(readdirSync(f.root), before, 'no file or directory was created');
    const worker = f.run('--dry-run', '--enable', '--unit', 'worker');
    assert.equal(worker.status, 0, worker.stderr);
    assert.match(worker.stdout, /^ExecStart=.* worker$/m);
    assert.match(worker.stdout, /^would run: systemctl enable --now autofix-worker\.service$/m);
    assert.doesNotMatch(worker.stdout, /would install .*temporal/);
    assert.equal(f.run('--dry-run', '--unit', 'both').status, 2);
  } finally {
    f.cleanup();
  }
});

void test('a real install writes auto-fix-daemon.service (0644, verified), copies the Temporal CLI and creates the data dirs for the user', () => {
  const f = fixture();
  try {
    const r = f.run('--user', 'nobody', '--group', 'nogroup');
    assert.equal(r.status, 0, r.stderr);
    const unit = path.join(f.dirs.unit, 'auto-fix-daemon.service');
    assert.equal(mode(unit), 0o644);
    assert.match(readFileSync(unit, 'utf8'), new RegExp(`^ExecStart=${process.execPath} ${ROOT}/bin/autofix up$`, 'm'));
    assert.match(readFileSync(unit, 'utf8'), /^User=nobody$/m);
    const v = spawnSync(requireTool('systemd-analyze'), ['verify', unit], { encoding: 'utf8' });
    assert.equal(v.status, 0, v.stderr);
    assert.equal(mode(f.temporalCli), 0o755);
    assert.equal(spawnSync(f.temporalCli, ['--version'], { encoding: 'utf8' }).status, 0, 'the copied CLI runs');
    for (const d of [f.dataDir, path.join(f.dataDir, 'logs')]) {
      assert.equal(statSync(d).uid, 65534, `${d} belongs to nobody`);
      assert.equal(mode(d), 0o750);
    }
    assert.equal(statSync(path.dirname(f.dataDir)).uid, 65534, 'a missing parent made here belongs to nobody too');
    assert.equal(statSync(f.root).uid, 0, 'an existing directory keeps its owner');
    // A second install keeps the CLI (already there) and creates nothing.
    const again = f.run('--user', 'nobody', '--group', 'nogroup');
    assert.equal(again.status, 0, again.stderr);
    assert.doesNotMatch(again.stdout, /installed|created/);
  } finally {
    f.cleanup();
  }
});

void test('a data or log directory the unit makes read-only is refused (exit 2, file and JSON path), nothing written', () => {
  const f = fixture({ ...CONFIG, daemon: { data_dir: '/etc/autofix-data', log_file: '/var/log/autofix/auto_fix.log' } });
  try {
    const r = f.run();
    assert.equal(r.status, 2);
    assert.match(r.stderr, new RegExp(`${f.cfg}`));
    assert.match(r.stderr, /\$\.daemon\.data_dir: resolves to \/etc\/autofix-data, under \/etc, which the unit makes read-only \(ProtectSystem=full\)/);
    for (const d of Object.values(f.dirs)) assert.equal(existsSync(d), false, `${d} was not created`);
  } finally {
    f.cleanup();
  }
});

void test('an existing data dir the user cannot write is reported', () => {
  const f = fixture();
  try {
    mkdirSync(f.dataDir, { recursive: true });
    chmodSync(f.dataDir, 0o755);
    const r = f.run('--dry-run', '--user', 'nobody', '--group', 'nogroup');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^warning: nobody cannot write ${f.dataDir} \\(\\$\\.daemon\\.data_dir\\)`, 'm'));
  } finally {
    f.cleanup();
  }
});

void test('--unit worker: a real install writes the unit (0644), the sudoers file (0440) and the env file (0640)', () => {
  const f = fixture();
  try {
    const r = f.run('--unit', 'worker');
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
    assert.equal(spawnSync(requireTool('visudo'), ['-cf', sudoers]).status, 0);
    assert.equal(readFileSync(sudoers, 'utf8').match(/NOPASSWD/g)?.length, 2);
    assert.deepEqual(readdirSync(f.dirs.sudoers), ['autofix'], 'no temp file left behind');
    assert.equal(spawnSync(requireTool('systemd-analyze'), ['verify', unit]).status, 0);
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
