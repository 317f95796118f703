/**
 * autofix's own files are never input: auto_fix.log, alerts.log, their rotated generations and
 * everything under data_dir are left out of watching whatever the globs say — by path, through a
 * symlink or a hard link — and a cursor cannot lead the scan to another file of the directory.
 */
import { afterEach, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../src/config/load';
import type { Config } from '../../src/config/schema';
import { detectLoop, type DetectInput } from '../../src/activities/detect';
import { isGenerationOf, OwnFiles, rotationBases } from '../../src/detection/own-files';
import { scanLogs } from '../../src/detection/log-scanner';
import { compileMatcher } from '../../src/detection/matcher';
import type { LogCursors } from '../../src/detection/types';

let tmp = '';
let backend = '';
beforeEach(() => {
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autofix-own-')));
  backend = path.join(tmp, 'backend');
  for (const d of ['scripts', 'logs', 'data']) fs.mkdirSync(path.join(backend, d), { recursive: true });
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A config in the seed's layout (backend/scripts/error_patterns.json) with the default log paths. */
function seedConfig(extra: Record<string, unknown> = {}): Config {
  return parseConfig(
    {
      // The name contains the pattern's own text: every `エラー検出` line about it would match it again.
      error_patterns: [{ id: 'db_connection', name: 'could not connect to server', pattern: 'could not connect to server', severity: 'critical' }],
      auto_fix_config: { notification_channels: ['log', 'alerts'] },
      watch: { logs: ['../logs/*.log'], json_files: ['../**/*.json'] },
      health_checks: { postgres: { enabled: false }, redis: { enabled: false }, disk: { enabled: false }, memory: { enabled: false } },
      ...extra,
    },
    path.join(backend, 'scripts', 'error_patterns.json'),
    {},
  );
}

test('rotated generations are recognised by name, and nothing else is', () => {
  for (const n of ['auto_fix.log', 'auto_fix.log.1', 'auto_fix.log.12.gz', 'auto_fix.log-20251228', 'auto_fix.log.2025-12-28', 'auto_fix-20251228.log', 'auto_fix.1.log']) {
    assert.ok(isGenerationOf(n, 'auto_fix.log'), n);
  }
  for (const n of ['auto_fix_report.log', 'auto_fix.log.bak', 'app.log', 'auto_fix.logs', 'xauto_fix.log', 'auto_fix.log.']) {
    assert.ok(!isGenerationOf(n, 'auto_fix.log'), n);
  }
});

test('a rotated name leads back to the name it rotated from', () => {
  assert.deepEqual(rotationBases('app.log.1'), ['app.log']);
  assert.deepEqual(rotationBases('app.log-20251228'), ['app.log']);
  assert.ok(rotationBases('app-20251228.log').includes('app.log'));
  assert.ok(rotationBases('app.log.2.gz').includes('app.log'));
  for (const n of ['app.log', 'app_report.log', 'passwd', 'app.log.bak']) assert.deepEqual(rotationBases(n), [], n);
});

test('own files are recognised by path, generation, data_dir, symlink and hard link', () => {
  const cfg = seedConfig();
  const logs = path.join(backend, 'logs');
  assert.equal(cfg.daemon.log_file, path.join(logs, 'auto_fix.log'));
  fs.writeFileSync(path.join(logs, 'auto_fix.log'), 'x\n');
  fs.writeFileSync(path.join(logs, 'alerts.log.1'), 'x\n');
  fs.mkdirSync(path.join(cfg.daemon.data_dir, 'state'), { recursive: true });
  fs.writeFileSync(path.join(cfg.daemon.data_dir, 'state', 'x.json'), '{}');
  fs.linkSync(path.join(logs, 'alerts.log.1'), path.join(logs, 'hard.log'));
  fs.symlinkSync(path.join(logs, 'auto_fix.log'), path.join(logs, 'soft.log'));
  fs.symlinkSync(cfg.daemon.data_dir, path.join(logs, 'state-link'));
  fs.writeFileSync(path.join(logs, 'app.log'), 'x\n');
  const own = OwnFiles.of(cfg);
  const why = (p: string) => own.reason(p, fs.existsSync(p) ? fs.statSync(p) : undefined);
  assert.match(why(path.join(logs, 'auto_fix.log')) ?? '', /own log auto_fix\.log/);
  assert.match(why(path.join(logs, 'alerts.log')) ?? '', /own log alerts\.log/);
  assert.match(why(path.join(logs, 'auto_fix.log.3')) ?? '', /rotated generation/);
  assert.match(why(path.join(cfg.daemon.data_dir, 'state', 'x.json')) ?? '', /under daemon\.data_dir/);
  assert.match(why(path.join(logs, 'soft.log')) ?? '', /through a symlink/);
  assert.match(why(path.join(logs, 'state-link', 'state', 'x.json')) ?? '', /data_dir .*through a symlink/);
  assert.match(why(path.join(logs, 'hard.log')) ?? '', /hard link/);
  assert.equal(why(path.join(logs, 'app.log')), undefined);
});

test('a glob over the log folder never feeds the daemon its own lines (seed layout, default paths)', async () => {
  const cfg = seedConfig();
  const app = path.join(backend, 'logs', 'app.log');
  fs.writeFileSync(app, '');
  const input = (loop: number, cursors: LogCursors): DetectInput => ({ cursors, checks: ['json'], iteration: 1, loop, host: 't' });
  const ctx = { workflowId: 'w', runId: 'r1' };
  let out = await detectLoop(cfg, input(1, {}), ctx);
  fs.appendFileSync(app, 'psycopg2.OperationalError: could not connect to server: Connection refused\n');
  out = await detectLoop(cfg, input(2, out.cursors), ctx);
  assert.deepEqual(out.detections.map((d) => [d.id, d.file, d.count]), [['db_connection', app, 1]]);
  // auto_fix.log now holds `エラー検出: could not connect to server`, and data_dir holds JSON state.
  const log = path.join(backend, 'logs', 'auto_fix.log');
  assert.match(fs.readFileSync(log, 'utf8'), /エラー検出: could not connect to server$/m);
  fs.mkdirSync(path.join(cfg.daemon.data_dir, 'state'), { recursive: true });
  fs.writeFileSync(path.join(cfg.daemon.data_dir, 'state', 'corrupt.json'), '{"a": ');
  for (let loop = 3; loop <= 5; loop++) {
    out = await detectLoop(cfg, input(loop, out.cursors), ctx);
    assert.deepEqual(out.detections, [], `loop ${loop} detected its own output`);
  }
  assert.deepEqual(Object.keys(out.cursors), [app]);
  // Said once per file in auto_fix.log, not once per loop.
  const excluded = fs.readFileSync(log, 'utf8').split('\n').filter((l) => l.includes('監視対象から除外: '));
  assert.deepEqual(excluded.map((l) => l.replace(/^.* - 監視対象から除外: /, '')).sort(), [
    log,
    path.join(cfg.daemon.data_dir, 'state', 'corrupt.json'),
    path.join(cfg.daemon.data_dir, 'state', 'log-cursors.json'),
  ].sort());
  assert.match(fs.readFileSync(log, 'utf8'), /^\S+ \S+ - AutoFixDaemon - \[WARNING\] - {3}reason="autofix's own log auto_fix\.log[^"]*" matched=\S+logs\/\*\.log$/m);
});

test('a cursor cannot lead the scan to another file of the directory (only to a rotated generation)', async () => {
  const logs = path.join(backend, 'logs');
  const app = path.join(logs, 'app.log');
  const secret = path.join(logs, 'secret.txt');
  fs.writeFileSync(app, '');
  fs.writeFileSync(secret, 'could not connect to server: password=hunter2\n');
  const st = fs.statSync(secret);
  // A workflow input claims app.log was last seen with secret.txt's identity.
  const forged: LogCursors = { [app]: { dev: st.dev, ino: st.ino, offset: 0, line: 0 } };
  const matcher = compileMatcher(seedConfig().error_patterns);
  const r = await scanLogs({ files: [app], cursors: forged, matcher });
  assert.deepEqual(r.detections, [], 'secret.txt was read through a forged cursor');
  // A real rotation is still followed: app.log.1 is a generation of app.log.
  fs.writeFileSync(app, 'x\n');
  const a = await scanLogs({ files: [app], cursors: {}, matcher });
  fs.appendFileSync(app, 'could not connect to server\n');
  fs.renameSync(app, `${app}.1`);
  fs.writeFileSync(app, '');
  const b = await scanLogs({ files: [app], cursors: a.cursors, matcher });
  assert.deepEqual(b.detections.map((d) => [d.file, d.count]), [[`${app}.1`, 1]]);
});
