/** The systemd unit and env file renderers: systemd-analyze accepts the unit; committed copies match. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { renderDaemonUnit, renderEnvFile, renderUnit } from '../../src/deploy';
import { requireTool } from '../helpers/tools';

const ROOT = path.resolve(__dirname, '../../..');

for (const [name, render] of [
  ['autofix-worker.service', renderUnit],
  ['auto-fix-daemon.service', renderDaemonUnit],
] as const) {
  void test(`systemd-analyze verify accepts ${name} without a warning`, () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'autofix-unit-'));
    try {
      // verify checks that ExecStart's binary exists: point it at this node and a real bin/autofix.
      mkdirSync(path.join(dir, 'bin'));
      copyFileSync(path.join(ROOT, 'bin/autofix'), path.join(dir, 'bin/autofix'));
      const unit = path.join(dir, name);
      writeFileSync(unit, render({ prefix: dir, nodePath: process.execPath }));
      const r = spawnSync(requireTool('systemd-analyze'), ['verify', unit], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr.trim(), '', 'no warnings (unknown keys, bad values)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

void test('systemd-analyze verify fails for a unit whose node does not exist (the check is real)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'autofix-unit-'));
  try {
    const unit = path.join(dir, 'autofix-worker.service');
    writeFileSync(unit, renderUnit({ prefix: dir, nodePath: '/nonexistent/node' }));
    assert.notEqual(spawnSync(requireTool('systemd-analyze'), ['verify', unit]).status, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('the unit carries the seed limits, the user and a sudo-compatible sandbox', () => {
  const text = renderUnit();
  for (const line of [
    'User=www-data',
    'MemoryMax=512M',
    'CPUQuota=50%',
    'PrivateTmp=true',
    'Restart=on-failure',
    'EnvironmentFile=-/etc/autofix/autofix.env',
    'ExecStart=/usr/bin/node /opt/autofix/bin/autofix worker',
    'KillSignal=SIGTERM',
    'TimeoutStopSec=60s',
    'NoNewPrivileges=no',
  ]) {
    assert.ok(text.split('\n').includes(line), `missing ${line}`);
  }
  // Each of these implies NoNewPrivileges=yes for a non-root service, which breaks sudo.
  for (const key of ['RestrictSUIDSGID', 'SystemCallFilter', 'ProtectKernelTunables', 'PrivateDevices', 'LockPersonality', 'RestrictNamespaces']) {
    assert.doesNotMatch(text, new RegExp(`^${key}=`, 'm'));
  }
});

void test('auto-fix-daemon.service: one process (up) with its state in /var/lib/autofix, the seed limits and a sudo-compatible sandbox', () => {
  const text = renderDaemonUnit();
  for (const line of [
    'User=www-data',
    'ExecStart=/usr/bin/node /opt/autofix/bin/autofix up',
    'StateDirectory=autofix',
    'Environment=AUTOFIX_DATA_DIR=/var/lib/autofix',
    'Environment=TEMPORAL_CLI_PATH=/usr/local/bin/temporal',
    'EnvironmentFile=-/etc/autofix/autofix.env',
    'KillMode=mixed',
    'KillSignal=SIGTERM',
    'Restart=on-failure',
    'CPUQuota=50%',
    'MemoryMax=768M',
    'PrivateTmp=true',
    'NoNewPrivileges=no',
  ]) {
    assert.ok(text.split('\n').includes(line), `missing ${line}`);
  }
  for (const key of ['RestrictSUIDSGID', 'SystemCallFilter', 'ProtectKernelTunables', 'PrivateDevices', 'LockPersonality', 'RestrictNamespaces']) {
    assert.doesNotMatch(text, new RegExp(`^${key}=`, 'm'));
  }
  // The env file leaves TEMPORAL_ADDRESS unset, so the daemon unit runs its own server.
  assert.doesNotMatch(renderEnvFile(), /^TEMPORAL_ADDRESS=/m);
  assert.match(renderEnvFile({ temporalAddress: 'temporal.example:7233' }), /^TEMPORAL_ADDRESS=temporal\.example:7233$/m);
  assert.throws(() => renderDaemonUnit({ stateDirectory: '../etc' }), /stateDirectory: /);
  assert.throws(() => renderDaemonUnit({ temporalCliPath: 'temporal' }), /temporalCliPath: /);
});

void test('the committed units and env example are what the renderers produce', () => {
  assert.equal(readFileSync(path.join(ROOT, 'deploy/systemd/autofix-worker.service'), 'utf8'), renderUnit());
  assert.equal(readFileSync(path.join(ROOT, 'deploy/systemd/auto-fix-daemon.service'), 'utf8'), renderDaemonUnit());
  assert.equal(readFileSync(path.join(ROOT, 'deploy/autofix.env.example'), 'utf8'), renderEnvFile());
});

void test('options that systemd would misparse are refused, naming the option', () => {
  assert.throws(() => renderUnit({ prefix: '/opt/auto fix' }), /prefix: "\/opt\/auto fix" must be/);
  assert.throws(() => renderUnit({ prefix: 'opt/autofix' }), /prefix: "opt\/autofix" must be a normalized absolute path/);
  assert.throws(() => renderUnit({ nodePath: '/usr/bin/node\nExecStartPre=/bin/sh' }), /nodePath: /);
  assert.throws(() => renderUnit({ user: 'root\nUser=root' }), /user: /);
  assert.throws(() => renderUnit({ memoryMax: 'lots' }), /memoryMax: /);
  assert.throws(() => renderUnit({ cpuQuota: '50' }), /cpuQuota: /);
  assert.throws(() => renderEnvFile({ configPath: '/etc/a b.json' }), /configPath: /);
  assert.match(renderUnit({ prefix: '/srv/autofix/', user: 'autofix' }), /^ExecStart=\/usr\/bin\/node \/srv\/autofix\/bin\/autofix worker$/m);
});
