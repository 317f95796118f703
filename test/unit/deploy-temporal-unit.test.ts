/**
 * deploy/systemd/autofix-temporal.service: systemd-analyze accepts it without a warning (with its
 * paths pointed at this checkout and this node), and it runs the supervised server with the
 * restart policy, the state directory and the sandbox the docs describe.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../../..');
const UNIT = readFileSync(path.join(ROOT, 'deploy/systemd/autofix-temporal.service'), 'utf8');

/** The committed unit with its install paths moved into `dir` and node set to `node`. */
function relocated(dir: string, node: string): string {
  return UNIT.replaceAll('/usr/bin/node', node).replaceAll('/opt/autofix', dir);
}

void test('systemd-analyze verify accepts the Temporal server unit without a warning', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'autofix-tunit-'));
  try {
    mkdirSync(path.join(dir, 'bin'));
    copyFileSync(path.join(ROOT, 'bin/autofix'), path.join(dir, 'bin/autofix'));
    const unit = path.join(dir, 'autofix-temporal.service');
    writeFileSync(unit, relocated(dir, process.execPath));
    const r = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), '', 'no warnings (unknown keys, bad values)');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('systemd-analyze verify fails for the unit when its node does not exist (the check is real)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'autofix-tunit-'));
  try {
    const unit = path.join(dir, 'autofix-temporal.service');
    writeFileSync(unit, relocated(dir, '/nonexistent/node'));
    assert.notEqual(spawnSync('systemd-analyze', ['verify', unit]).status, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('the unit runs the supervised server on its own state directory, restarted on failure', () => {
  const lines = UNIT.split('\n');
  for (const line of [
    'ExecStart=/usr/bin/node /opt/autofix/bin/autofix server',
    'Environment=AUTOFIX_DATA_DIR=/var/lib/autofix-temporal',
    'Environment=TEMPORAL_CLI_PATH=/usr/local/bin/temporal',
    'Restart=on-failure',
    'KillSignal=SIGTERM',
    'DynamicUser=yes',
    'StateDirectory=autofix-temporal',
    'NoNewPrivileges=yes',
    'ProtectSystem=strict',
  ]) {
    assert.ok(lines.includes(line), `missing ${line}`);
  }
  // The instance lock is an abstract Unix socket: AF_UNIX must stay allowed.
  assert.match(UNIT, /^RestrictAddressFamilies=.*\bAF_UNIX\b/m);
  assert.doesNotMatch(UNIT, /^MemoryDenyWriteExecute=yes/m, 'node JIT needs W+X pages');
});
