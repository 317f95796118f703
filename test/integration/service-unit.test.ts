/**
 * `systemctl start auto-fix-daemon` on a fresh host, as far as a machine without systemd allows:
 * `autofix install-service` (user nobody) writes the unit, copies the Temporal CLI and creates the
 * data dirs; `systemd-analyze verify` accepts the unit; the unit is then started the way systemd
 * starts it (test/helpers/systemd-unit: User=, WorkingDirectory=, Environment=, EnvironmentFile=,
 * StateDirectory=, ExecStart=). One process brings up the embedded server, the worker and the
 * daemon; the "journal" shows auto_fix.log's lines as the logger wrote them; SIGTERM
 * (`systemctl stop`) stops everything with exit 0; the next start resumes the same daemon.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DaemonStatus } from '../../src/workflows/definitions';
import { canConnect } from '../../src/util/net';
import { freePort } from '../helpers/net';
import { waitFor } from '../helpers/temporal';
import { requireTool } from '../helpers/tools';
import { startUnit, type StartedUnit } from '../helpers/systemd-unit';

const ROOT = path.resolve(__dirname, '../../..');
const BIN = path.join(ROOT, 'bin/autofix');
/** A line exactly as the seed's logger formats it. */
const SEED_LINE = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} - AutoFixDaemon - \[(?:INFO|WARNING|ERROR|CRITICAL)\] - .+$/;

describe('auto-fix-daemon.service on a fresh host', () => {
  let root = '';
  let unitFile = '';
  let appLog = '';
  let dataDir = '';
  let port = 0;
  let stateName = '';
  let svc: StartedUnit | undefined;

  before(async () => {
    requireTool('visudo');
    root = mkdtempSync(path.join(os.tmpdir(), 'autofix-unit-it-'));
    chmodSync(root, 0o755); // the service's user reads its config and log below
    dataDir = path.join(root, 'srv', 'data');
    mkdirSync(path.join(root, 'app'));
    appLog = path.join(root, 'app', 'app.log');
    writeFileSync(appLog, '');
    const config = path.join(root, 'error_patterns.json');
    writeFileSync(
      config,
      JSON.stringify({
        error_patterns: [{ id: 'http_5xx', name: 'HTTP 5xxエラー', pattern: '" 5\\d\\d ', severity: 'error', auto_fix: true, actions: [{ type: 'alert' }] }],
        auto_fix_config: { cooldown_period: 1, notification_channels: ['log'] },
        daemon: { data_dir: dataDir, log_file: path.join(dataDir, 'logs', 'auto_fix.log'), loop_interval_seconds: 0.5 },
        watch: { logs: [appLog] },
        health_checks: { postgres: { enabled: false }, redis: { enabled: false }, disk: { enabled: false }, memory: { enabled: false } },
      }),
    );
    stateName = `autofix-it-${path.basename(root).slice(-6).toLowerCase()}`;
    const r = spawnSync(
      process.execPath,
      [BIN, 'install-service', '--config', config, '--user', 'nobody', '--group', 'nogroup', '--prefix', ROOT, '--node', process.execPath,
        '--temporal-cli', path.join(root, 'usr-local-bin', 'temporal'), '--state-directory', stateName,
        '--unit-dir', path.join(root, 'systemd'), '--sudoers-dir', path.join(root, 'sudoers.d'), '--env-dir', path.join(root, 'etc-autofix')],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    unitFile = path.join(root, 'systemd', 'auto-fix-daemon.service');
    // What an operator does on a busy host: other ports for the embedded server, no metrics port.
    port = await freePort();
    appendFileSync(path.join(root, 'etc-autofix', 'autofix.env'), `AUTOFIX_TEMPORAL_PORT=${port}\nAUTOFIX_UI_PORT=${await freePort()}\nAUTOFIX_METRICS_BIND=off\nAUTOFIX_LOG_LEVEL=WARN\n`);
  });
  after(async () => {
    await svc?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  const status = async (): Promise<DaemonStatus | undefined> => {
    const r = spawnSync(process.execPath, [BIN, 'status', '--json'], { encoding: 'utf8', env: { ...process.env, TEMPORAL_ADDRESS: `127.0.0.1:${port}` }, timeout: 30_000 });
    return r.status === 0 ? (JSON.parse(r.stdout) as DaemonStatus) : undefined;
  };

  test('systemd-analyze verify accepts the installed unit', () => {
    const r = spawnSync(requireTool('systemd-analyze'), ['verify', unitFile], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    // The one remark systemd makes is about the test's choice of user (nobody), not the unit.
    assert.deepEqual(r.stderr.split('\n').filter((l) => l.trim() && !/Special user nobody configured/.test(l)), []);
  });

  test('start: one process runs server, worker and daemon; the journal has the seed\'s lines; stop: exit 0', async () => {
    const stateRoot = path.join(root, 'var-lib');
    svc = startUnit(unitFile, stateRoot);
    await waitFor('daemon running', async () => svc!.journal().includes('daemon running') || (svc!.child.exitCode !== null && assert.fail(svc!.journal())), 120_000);
    await waitFor('a loop line in the journal', async () => /検知サイクル/.test(svc!.journal()), 30_000);
    appendFileSync(appLog, '10.0.0.1 - - [28/Dec/2025:10:30:00 +0000] "GET /api HTTP/1.1" 502 0 "-" "curl"\n');
    await waitFor('the detection in the journal', async () => /エラー検出/.test(svc!.journal()), 30_000);
    const s = await waitFor('status', status);
    assert.equal(s.running, true);
    // The journal's seed-format lines are auto_fix.log's lines, in order.
    const journalLines = svc.journal().split('\n').filter((l) => SEED_LINE.test(l));
    const fileLines = readFileSync(path.join(dataDir, 'logs', 'auto_fix.log'), 'utf8').split('\n');
    assert.ok(journalLines.length >= 2, svc.journal());
    const start = fileLines.indexOf(journalLines[0] as string);
    assert.ok(start >= 0, `journal line not in auto_fix.log: ${journalLines[0]}`);
    assert.deepEqual(fileLines.slice(start, start + journalLines.length), journalLines);
    // The embedded server's database is in the state directory, owned by the service's user.
    const db = path.join(stateRoot, stateName, 'temporal', 'dev.db');
    assert.equal(statSync(db).uid, 65534);
    assert.equal(statSync(path.join(dataDir, 'logs', 'auto_fix.log')).uid, 65534);
    assert.equal(await svc.stop(), 0, svc.journal());
    assert.match(svc.journal(), /\[autofix\] stopped/);
    assert.equal(await canConnect(port), false, 'the embedded server stopped with the unit');
    svc = undefined;
  });

  test('the next start resumes the same daemon', async () => {
    svc = startUnit(unitFile, path.join(root, 'var-lib'));
    await waitFor('daemon running', async () => svc!.journal().includes('daemon running') || (svc!.child.exitCode !== null && assert.fail(svc!.journal())), 120_000);
    assert.match(svc.journal(), /\(it was already running\)/);
    const before = await waitFor('status', status);
    await waitFor('more loops', async () => ((await status())?.totals.loops ?? 0) > before.totals.loops, 30_000);
    assert.equal(await svc.stop(), 0, svc.journal());
    svc = undefined;
    assert.equal(existsSync(path.join(dataDir, 'logs', 'auto_fix.log')), true);
  });
});
