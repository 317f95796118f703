/**
 * docs/migrating-from-python.md runs as written. Its `sh` blocks are read line by line, in page
 * order, against a sandbox copy of the seed's layout (the page's path prefix mapped to a temp
 * dir; the page's `<!-- file: … -->` JSON blocks written there):
 *
 * - `autofix …`: run (`sudo` dropped: the tests are root). `run --continuous` is the seed's
 *   foreground daemon: on this fresh "host" it starts the embedded server, the worker and the
 *   daemon and echoes auto_fix.log; the test waits for the daemon, wakes a loop, checks the echoed
 *   cycle line (and the `--log-file` it names), then Ctrl-C: exit 0. The commands that talk to a
 *   running daemon (`run`, `status`, `pause`, `reload`…) get one in the background, reached the way
 *   the installed service is (TEMPORAL_ADDRESS = its server). `install-service` writes into temp
 *   dirs (`--unit-dir`, … added), and its unit must pass `systemd-analyze verify`. `health` must
 *   print the seed's report with the exit code of its overall status; the others exit 0.
 * - `systemctl` / `journalctl`: not run (no systemd here); the verb must be one systemctl knows and
 *   the unit the one `install-service` installed and systemd-analyze accepted.
 * - `pg_isready`, `redis-cli ping`, `ls`, `cd`: run against the local services / the sandbox.
 * Any other command fails the test: the page may only show what is verified.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../helpers/net';
import { waitFor } from '../helpers/temporal';
import { requireTool } from '../helpers/tools';

const ROOT = path.resolve(__dirname, '../../..');
const BIN = path.join(ROOT, 'bin/autofix');
const PAGE = path.join(ROOT, 'docs/migrating-from-python.md');
/** The seed's install path, used by the page; mapped to the sandbox. */
const APP = '/mnt/LinuxHDD/Mirai-Knowledge-Systems';
const CYCLE = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} - AutoFixDaemon - \[INFO\] - === 検知サイクル .* 開始 ===$/m;
const SYSTEMCTL_VERBS = new Set(['daemon-reload', 'enable', 'disable', 'start', 'stop', 'restart', 'status']);
const HEALTH_EXIT: Record<string, number> = { healthy: 0, degraded: 1, unhealthy: 2, unknown: 3 };

/** A fenced block of the page, with the `<!-- file: … -->` comment just above it, if any. */
interface Block {
  lang: string;
  lines: string[];
  file?: string;
  at: number;
}

function parseBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i] as string);
    if (!open) continue;
    const file = /^<!-- file: (\S+) -->$/.exec(lines[i - 1] ?? '')?.[1];
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !/^```\s*$/.test(lines[j] as string); j++) body.push(lines[j] as string);
    blocks.push({ lang: open[1] as string, lines: body, at: i + 1, ...(file ? { file } : {}) });
    i = j;
  }
  return blocks;
}

/** Splits a command line like a shell would for these simple lines (double quotes only). */
function words(line: string): string[] {
  return [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? (m[2] as string));
}

/** The value of `--name X` in argv, if any. */
const optionOf = (argv: string[], name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};

describe('docs/migrating-from-python.md', () => {
  const page = readFileSync(PAGE, 'utf8');
  const blocks = parseBlocks(page);
  let sandbox = '';
  const map = (s: string) => s.split(APP).join(sandbox);
  let port = 0;
  let env: NodeJS.ProcessEnv = {};
  let clientEnv: NodeJS.ProcessEnv = {};
  let background: { child: ChildProcess; out: () => string; exit: Promise<number | null> } | undefined;
  let installed: { unitDir: string; unit?: string } = { unitDir: '' };
  let cwd = '';

  /** Starts the CLI with output collected. */
  const start = (args: string[], e: NodeJS.ProcessEnv, dir: string) => {
    let out = '';
    const child = spawn(process.execPath, [BIN, ...args], { env: e, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    return { child, out: () => out, exit: new Promise<number | null>((r) => child.once('exit', (code) => r(code))) };
  };
  const runCli = (args: string[], e: NodeJS.ProcessEnv = clientEnv) => spawnSync(process.execPath, [BIN, ...args], { env: e, cwd, encoding: 'utf8', timeout: 120_000 });

  const stopBackground = async () => {
    if (!background) return;
    background.child.kill('SIGINT');
    assert.equal(await background.exit, 0, background.out());
    background = undefined;
  };

  /** Waits until a foreground daemon runs and a loop (woken by run-now) is echoed. */
  const daemonUp = async (p: { child: ChildProcess; out: () => string }, what: string) => {
    await waitFor(`${what}: daemon running`, async () => p.out().includes('daemon running') || (p.child.exitCode !== null && assert.fail(`${what} exited:\n${p.out()}`)), 120_000);
    await waitFor(`${what}: an echoed loop`, async () => {
      if (CYCLE.test(p.out())) return true;
      runCli(['run-now']);
      return false;
    }, 60_000, 1000);
  };

  before(async () => {
    requireTool('visudo');
    sandbox = mkdtempSync(path.join(os.tmpdir(), 'autofix-migrating-'));
    chmodSync(sandbox, 0o755);
    for (const d of ['backend/scripts', 'backend/logs', 'backend/data']) mkdirSync(path.join(sandbox, d), { recursive: true });
    writeFileSync(path.join(sandbox, 'backend/logs/app.log'), '10.0.0.1 - - [28/Dec/2025:10:30:00 +0000] "GET /api HTTP/1.1" 502 0 "-" "curl"\n');
    for (const b of blocks.filter((x) => x.file)) writeFileSync(map(b.file as string), b.lines.join('\n'));
    port = await freePort();
    env = { ...process.env, AUTOFIX_TEMPORAL_PORT: String(port), AUTOFIX_UI_PORT: String(await freePort()), AUTOFIX_DATA_DIR: path.join(sandbox, 'state'), AUTOFIX_METRICS_BIND: 'off', AUTOFIX_LOG_LEVEL: 'WARN' };
    delete env.TEMPORAL_ADDRESS; // a fresh host: nothing but what autofix starts
    clientEnv = { ...env, TEMPORAL_ADDRESS: `127.0.0.1:${port}` };
    cwd = sandbox;
  });
  after(async () => {
    await stopBackground().catch(() => undefined);
    rmSync(sandbox, { recursive: true, force: true });
  });

  /** A running daemon for the commands that talk to one (the installed service's role). */
  const ensureBackground = async () => {
    if (background) return;
    background = start(['run', '--continuous', '--config', map(`${APP}/backend/scripts/error_patterns.json`)], env, cwd);
    await daemonUp(background, 'background daemon');
  };

  async function runAutofix(argv: string[], where: string): Promise<void> {
    const [cmd, sub] = argv;
    if (cmd === 'run' && argv.includes('--continuous')) {
      await stopBackground();
      const p = start(argv, env, cwd);
      try {
        await daemonUp(p, where);
        const logFile = optionOf(argv, '--log-file');
        if (logFile) {
          assert.match(readFileSync(logFile, 'utf8'), CYCLE, `${where}: --log-file ${logFile}`);
          assert.ok(p.out().includes(readFileSync(logFile, 'utf8').split('\n').filter((l) => CYCLE.test(l)).at(-1) as string), `${where}: the echo is the log's lines`);
        }
        p.child.kill('SIGINT');
        assert.equal(await p.exit, 0, `${where}:\n${p.out()}`);
      } finally {
        p.child.kill('SIGKILL');
      }
      return;
    }
    if (cmd === 'install-service') {
      installed = { unitDir: path.join(sandbox, 'install', 'systemd') };
      const extra = ['--prefix', ROOT, '--node', process.execPath, '--unit-dir', installed.unitDir, '--sudoers-dir', path.join(sandbox, 'install', 'sudoers.d'), '--env-dir', path.join(sandbox, 'install', 'etc'), '--temporal-cli', path.join(sandbox, 'install', 'bin', 'temporal')];
      const r = runCli([...argv, ...extra], env);
      assert.equal(r.status, 0, `${where}: ${r.stderr}`);
      const unitText = argv.includes('--dry-run')
        ? /--- would write \S+\/auto-fix-daemon\.service \(0644\) ---\n([\s\S]*?)\n--- /.exec(r.stdout)?.[1]
        : readFileSync(path.join(installed.unitDir, 'auto-fix-daemon.service'), 'utf8');
      assert.ok(unitText, `${where}: no auto-fix-daemon.service in:\n${r.stdout}`);
      const check = path.join(sandbox, 'install', 'verify', 'auto-fix-daemon.service');
      mkdirSync(path.dirname(check), { recursive: true });
      writeFileSync(check, unitText);
      const v = spawnSync(requireTool('systemd-analyze'), ['verify', check], { encoding: 'utf8' });
      assert.equal(v.status, 0, `${where}: systemd-analyze verify: ${v.stderr}`);
      if (!argv.includes('--dry-run')) installed.unit = 'auto-fix-daemon';
      return;
    }
    if (cmd === 'health') {
      const r = runCli(argv);
      if (!argv.includes('--table')) {
        const report = JSON.parse(r.stdout || '{}') as { timestamp?: string; checks?: Record<string, unknown>; overall_status?: string; metrics?: unknown };
        assert.ok(report.timestamp && report.checks && report.metrics, `${where}: ${r.stdout}`);
        assert.ok('database_connection' in (report.checks ?? {}) && 'redis_connection' in (report.checks ?? {}), where);
        assert.equal(r.status, HEALTH_EXIT[report.overall_status ?? ''], `${where}: exit code of ${report.overall_status}`);
      } else {
        assert.ok(r.status !== null && r.status <= 3, `${where}: ${r.stderr}`);
        assert.match(r.stdout, /database_connection/);
      }
      return;
    }
    if (cmd !== 'config' && cmd !== 'scan') await ensureBackground();
    let patterns = 0;
    if (cmd === 'reload') patterns = addPattern(); // the habit: edit the file, then reload
    const r = runCli(argv);
    assert.equal(r.status, 0, `${where}: autofix ${argv.join(' ')}\n${r.stdout}${r.stderr}`);
    if (cmd === 'config' && sub === 'check') assert.match(r.stdout, /^ok: /m);
    if (cmd === 'scan') assert.match(r.stdout, /http_5xx/, `${where}: the 502 line of app.log`);
    if (cmd === 'run') assert.match(r.stdout, /pattern.*severity.*count/, `${where}: the cycle's summary table`);
    if (cmd === 'reload') assert.match(r.stdout, new RegExp(`^reloaded: .*error_patterns\\.json \\(${patterns} patterns\\)$`, 'm'), where);
  }

  /** Adds a pattern to the example config as a person would (comments kept); returns the new count. */
  function addPattern(): number {
    const file = map(`${APP}/backend/scripts/error_patterns.json`);
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.replace('"error_patterns": [', '"error_patterns": [\n    { "id": "disk_full", "name": "ディスク容量不足", "pattern": "No space left on device", "severity": "critical", "auto_fix": false, "actions": [] },'));
    return (readFileSync(file, 'utf8').match(/"id":/g) ?? []).length;
  }

  function checkSystemd(argv: string[], where: string): void {
    assert.ok(installed.unit, `${where}: a systemctl line before install-service installed a unit`);
    if (argv[0] === 'journalctl') {
      assert.equal(optionOf(argv, '-u'), installed.unit, where);
      for (const a of argv.slice(1)) assert.match(a, /^(?:-u|-f|-n|\d+|[a-z-]+)$/, `${where}: journalctl argument ${a}`);
      return;
    }
    const [, verb, unit] = argv;
    assert.ok(SYSTEMCTL_VERBS.has(verb as string), `${where}: systemctl ${verb}`);
    if (verb !== 'daemon-reload') assert.equal(unit, installed.unit, where);
  }

  test('every sh block runs as written', async () => {
    const sh = blocks.filter((b) => b.lang === 'sh');
    assert.ok(sh.length >= 10, 'the page shows its commands in sh blocks');
    for (const b of sh) {
      for (const [k, raw] of b.lines.entries()) {
        const line = raw.trim();
        if (!line || line.startsWith('#')) continue;
        const where = `${path.basename(PAGE)}:${b.at + k + 1}`;
        const argv = words(map(line)).filter((w, i) => !(i === 0 && w === 'sudo'));
        const [prog, ...rest] = argv;
        switch (prog) {
          case 'autofix':
            await runAutofix(rest, where);
            break;
          case 'systemctl':
          case 'journalctl':
            checkSystemd(argv, where);
            break;
          case 'cd':
            cwd = rest[0] as string;
            assert.ok(existsSync(cwd), where);
            break;
          case 'ls': {
            const r = spawnSync('ls', rest, { encoding: 'utf8' });
            assert.equal(r.status, 0, `${where}: ${r.stderr}`);
            break;
          }
          case 'pg_isready': {
            const r = spawnSync(requireTool('pg_isready'), rest, { encoding: 'utf8' });
            assert.equal(r.status, 0, `${where}: ${r.stdout}`);
            assert.match(r.stdout, /accepting connections/);
            break;
          }
          case 'redis-cli': {
            const r = spawnSync(requireTool('redis-cli'), rest, { encoding: 'utf8' });
            assert.equal(r.stdout.trim(), 'PONG', where);
            break;
          }
          default:
            assert.fail(`${where}: the page shows \`${line}\`, which this test does not verify`);
        }
      }
    }
    await stopBackground();
  });

  test('the page covers each seed command and file', () => {
    for (const s of ['--continuous', '--loop-count', '--wait-minutes', '--config', '--log-file', 'install-service', 'systemctl status auto-fix-daemon', 'journalctl -u auto-fix-daemon', 'health_monitor.py', 'auto_fix_config', 'auto_fix.log', 'alerts.log', 'autofix reload', 'pg_isready', 'redis-cli ping']) {
      assert.ok(page.includes(s), `the page mentions ${s}`);
    }
  });
});
