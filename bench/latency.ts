/**
 * Reaction time at the SHIPPED DEFAULT cadence (30 s between loops, 60 s between service
 * checks), autofix side by side in one run with Monit at its default cycle (`set daemon 30`) and
 * with supervisord, which hears its child die:
 *
 *   1. a killed redis-server (SIGKILL) → it answers PONG again;
 *   2. an error line appended to a watched log → detected (autofix: its `エラー検出` line in
 *      auto_fix.log; Monit: its "content match" line in monit.log; supervisord reads no logs;
 *      `tail -F | grep --line-buffered` on the same file is the inotify floor);
 *   3. idle CPU over `--idle` seconds, measured first, after everything started: the autofix
 *      worker with its watchers and, in the same window, a second worker with `--no-watch`
 *      started with it (dry run, its own quiet log); Monit; supervisord;
 *   4. history events of the daemon in that window, with and without watchers (per hour).
 *
 *   node dist/bench/latency.js [--trials 5] [--idle 60] [--json]
 *
 * An in-memory Temporal dev server on free ports; `bin/autofix worker` child processes (as
 * systemd runs them); each tool its own redis-server on a free port (the shared :6379 is never
 * touched). autofix runs the daemon with no cadence override (the config's defaults: 15 loops
 * 30 s apart, 5-min rest; redis check every 60 s): pattern `redis_connection` → `service_restart`
 * (restart argv, pid file, process_match, redis health) and `http_5xx` → `alert`; cooldown 1 s
 * (not a cadence: consecutive trials must not fall in one cooldown). Each trial first waits a
 * random time within the tool's cycle (30 s for autofix and Monit, 1 s for supervisord) so the
 * fault lands at any phase, then measures to the first PONG (a PING on a fresh connection every
 * 50 ms) or to the detection line (the log files polled every 10 ms). Prints every sample, a
 * table of medians and the ratios.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Table from 'cli-table3';
import { Client, Connection } from '@temporalio/client';
import type { autoFixDaemon } from '../src/workflows/daemon';
import { statusQuery } from '../src/workflows/definitions';
import { freePort, killRedisOnPort, makeTempDir, median, numArg, pingOnce, redisArgv, redisPid, redisPidFile, sec, sleep, startBenchServer, startRedis } from './lib/common';
import { startMonit, writeMonitrc, type MonitChild } from './lib/monit';
import { cpuSeconds } from './lib/proc';
import { startSupervisord, type SupervisordChild } from './lib/supervisord';
import { spawnWorker, type WorkerChild } from './lib/worker-child';

const CYCLE_MS = 30_000;
const line500 = (tag: string) => `127.0.0.1 - - [18/Jan/2025 10:00:00] "GET /${tag} HTTP/1.1" 500 -\n`;

/** The autofix config: the shipped cadence (no daemon or check interval set), our redis, one watched log. */
function writeConfig(dir: string, name: string, port: number, appLog: string, dryRun: boolean): string {
  const cfg = {
    error_patterns: [
      {
        id: 'redis_connection',
        name: 'Redis connection error',
        pattern: 'Could not connect to Redis at',
        severity: 'critical',
        auto_fix: true,
        actions: [{ type: 'service_restart', service: 'redis' }],
        health_checks: ['redis_connection'],
      },
      { id: 'http_5xx', name: 'HTTP 5xx', pattern: '" 5\\d\\d ', severity: 'error', auto_fix: true, actions: [{ type: 'alert' }] },
    ],
    auto_fix_config: { retry_delay: 1, cooldown_period: 1, notification_channels: ['log'], flap_guard: { max_fixes: 100 }, dry_run: dryRun },
    daemon: { data_dir: path.join(dir, `data-${name}`), log_file: path.join(dir, `data-${name}`, 'logs', 'auto_fix.log') },
    watch: { logs: [appLog] },
    health_checks: { redis: { url: `redis://127.0.0.1:${port}` }, postgres: { enabled: false } },
    managed: { roots: [dir] },
    services: {
      redis: {
        restart: redisArgv(port, dir),
        pid_file: redisPidFile(port, dir),
        process_match: `\\S*redis-server 127\\.0\\.0\\.1:${port}`,
        health: { type: 'redis', port },
        stop_signal_timeout_seconds: 2,
        health_timeout_seconds: 3,
      },
    },
  };
  const file = path.join(dir, `autofix-${name}.json`);
  fs.writeFileSync(file, JSON.stringify(cfg, null, 2));
  return file;
}

/** Milliseconds until a PING gets PONG (a new PING every 50 ms), or NaN after `giveUpMs`. */
async function timeToPong(port: number, t0: number, giveUpMs: number): Promise<number> {
  let got = NaN;
  const pending: Array<Promise<void>> = [];
  while (Number.isNaN(got) && Date.now() - t0 < giveUpMs) {
    pending.push(pingOnce(port, 2000).then((ok) => void (ok && Number.isNaN(got) && (got = Date.now() - t0))));
    await sleep(50);
  }
  await Promise.all(pending);
  return got;
}

/** Milliseconds from `t0` until `file` (read from `offset` on) contains `needle`, or NaN after `giveUpMs`. */
async function timeToText(file: string, offset: number, needle: string, t0: number, giveUpMs: number): Promise<number> {
  while (Date.now() - t0 < giveUpMs) {
    let text = '';
    try {
      const fd = fs.openSync(file, 'r');
      const size = fs.fstatSync(fd).size;
      const buf = Buffer.alloc(Math.max(0, size - offset));
      fs.readSync(fd, buf, 0, buf.length, offset);
      fs.closeSync(fd);
      text = buf.toString('utf8');
    } catch {
      /* not there yet */
    }
    if (text.includes(needle)) return Date.now() - t0;
    await sleep(10);
  }
  return NaN;
}

const sizeOf = (f: string) => (fs.existsSync(f) ? fs.statSync(f).size : 0);
const randomPhase = (cycleMs: number) => sleep(Math.random() * cycleMs);

interface Figures {
  pong: Record<'autofix' | 'monit' | 'supervisord', number[]>;
  detect: Record<'autofix' | 'monit' | 'grep', number[]>;
  idle?: { seconds: number; cpu: Record<string, number>; historyEvents: Record<string, number> };
}

async function main(): Promise<void> {
  const trials = numArg('--trials', 5);
  const idleS = numArg('--idle', 60);
  const json = process.argv.includes('--json');
  const say = (s: string) => void (json ? process.stderr : process.stdout).write(`${s}\n`);
  const dir = makeTempDir('latency');
  const server = await startBenchServer();
  const [pA, pM, pS] = [await freePort(), await freePort(), await freePort()];
  const appA = path.join(dir, 'app-autofix.log');
  const appB = path.join(dir, 'app-nowatch.log');
  const appM = path.join(dir, 'app-monit.log');
  for (const f of [appA, appB, appM]) fs.writeFileSync(f, '');
  const workers: WorkerChild[] = [];
  let monit: MonitChild | undefined;
  let sup: SupervisordChild | undefined;
  let connection: Connection | undefined;
  const tail = spawn('tail', ['-F', '-n', '0', appA], { stdio: ['ignore', 'pipe', 'ignore'] });
  const grep = spawn('grep', ['--line-buffered', '-E', '" 5[0-9][0-9] '], { stdio: [tail.stdout, 'pipe', 'ignore'] });
  const grepSeen = new Map<string, number>();
  grep.stdout.setEncoding('utf8').on('data', (d: string) => {
    for (const m of d.matchAll(/GET \/(lat-\d+) /g)) if (!grepSeen.has(m[1] as string)) grepSeen.set(m[1] as string, Date.now());
  });
  const figures: Figures = { pong: { autofix: [], monit: [], supervisord: [] }, detect: { autofix: [], monit: [], grep: [] } };
  try {
    connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection });
    await startRedis(pA, dir);
    await startRedis(pM, dir);
    const cfgA = writeConfig(dir, 'a', pA, appA, false);
    const worker = await spawnWorker(server.address, 'autofix-bencha', cfgA, path.join(dir, 'worker-a.log'), ['--host', 'bencha', '--metrics', 'off']);
    workers.push(worker);
    // The peer for idle figures: the same worker with --no-watch (dry run, its own quiet log).
    const cfgB = writeConfig(dir, 'b', pA, appB, true);
    const workerB = await spawnWorker(server.address, 'autofix-benchb', cfgB, path.join(dir, 'worker-b.log'), ['--host', 'benchb', '--metrics', 'off', '--no-watch']);
    workers.push(workerB);
    const [daemonA, daemonB] = ['autofix-daemon-bencha', 'autofix-daemon-benchb'];
    const startDaemon = (id: string, taskQueue: string, host: string) =>
      client.workflow.start<typeof autoFixDaemon>('autoFixDaemon', { workflowId: id, taskQueue, args: [{ host }] });
    // Both daemons at the same moment: their loops fall at the same phase of the 30 s cadence.
    await Promise.all([startDaemon(daemonA, 'autofix-bencha', 'bencha'), startDaemon(daemonB, 'autofix-benchb', 'benchb')]);
    const firstLoop = async (id: string) => {
      const deadline = Date.now() + 60_000;
      while ((await client.workflow.getHandle(id).query(statusQuery).catch(() => undefined))?.lastHealth?.checks.redis_connection !== 'healthy') {
        if (Date.now() > deadline) throw new Error(`${id} never saw its redis healthy`);
        await sleep(200);
      }
    };
    await Promise.all([firstLoop(daemonA), firstLoop(daemonB)]);
    monit = await startMonit(dir, writeMonitrc(dir, pM, { cycleSeconds: 30, pingTimeoutSeconds: undefined, content: { file: appM, regex: 'HTTP/1.1. 5[0-9][0-9] ' } }));
    sup = await startSupervisord(dir, pS);
    await sleep(15_000); // everything settled after its start
    figures.idle = await measureIdle(client, idleS, say, {
      cpu: { 'autofix worker': worker.pid, 'autofix worker --no-watch': workerB.pid, Monit: monit.child.pid!, supervisord: sup.child.pid! },
      history: { 'with watchers': daemonA, 'without watchers': daemonB },
    });
    const autoFixLog = path.join(dir, 'data-a', 'logs', 'auto_fix.log');
    const giveUp = 120_000;

    const incidentClosed = async (since: number) => {
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        let open = 0;
        let seen = 0;
        for await (const wf of client.workflow.list({ query: `WorkflowId STARTS_WITH "incident-bencha-redis_connection-"` })) {
          if (wf.startTime.getTime() < since - 1000) continue;
          seen++;
          if (wf.status.name === 'RUNNING') open++;
        }
        if (seen > 0 && open === 0) return;
        await sleep(300);
      }
      throw new Error('the redis incident did not close within 60 s');
    };

    const killAutofix = async () => {
      await randomPhase(CYCLE_MS);
      const pid = redisPid(pA, dir);
      if (!pid) throw new Error('autofix redis is not running');
      const t0 = Date.now();
      process.kill(pid, 'SIGKILL');
      const ms = await timeToPong(pA, t0, giveUp);
      await incidentClosed(t0);
      // The watcher finds the restarted redis-server within its re-resolutions (≤ 2 s).
      await sleep(3000);
      return ms;
    };
    const killMonit = async () => {
      await randomPhase(CYCLE_MS);
      const pid = redisPid(pM, dir);
      if (!pid) throw new Error('monit redis is not running');
      const t0 = Date.now();
      process.kill(pid, 'SIGKILL');
      return await timeToPong(pM, t0, giveUp);
    };
    const killSupervised = async () => {
      await randomPhase(1000);
      const pid = Number(fs.readFileSync(sup!.redisPidFile, 'utf8').trim());
      const t0 = Date.now();
      process.kill(pid, 'SIGKILL');
      return await timeToPong(pS, t0, giveUp);
    };
    const appendAutofix = async (i: number) => {
      await randomPhase(CYCLE_MS);
      const n = fs.readFileSync(appA, 'utf8').split('\n').length;
      const offset = sizeOf(autoFixLog);
      const t0 = Date.now();
      fs.appendFileSync(appA, line500(`lat-${i}`));
      // `エラー検出: HTTP 5xx` and its details line (`… file=FILE lines=N`) are written in one append.
      const ms = await timeToText(autoFixLog, offset, `file=${appA} lines=${n}\n`, t0, giveUp);
      while (!grepSeen.has(`lat-${i}`) && Date.now() - t0 < 10_000) await sleep(10);
      return { ms, grep: (grepSeen.get(`lat-${i}`) ?? NaN) - t0 };
    };
    const appendMonit = async (i: number) => {
      await randomPhase(CYCLE_MS);
      const offset = sizeOf(monit!.logFile);
      const t0 = Date.now();
      fs.appendFileSync(appM, line500(`latm-${i}`));
      return await timeToText(monit!.logFile, offset, `/latm-${i} `, t0, giveUp);
    };

    const show = (ms: number) => (Number.isNaN(ms) ? 'not within 120 s' : fmt(ms));
    for (let i = 1; i <= trials; i++) {
      const a = await killAutofix();
      figures.pong.autofix.push(a);
      const m = await killMonit();
      figures.pong.monit.push(m);
      const s = await killSupervised();
      figures.pong.supervisord.push(s);
      const d = await appendAutofix(i);
      figures.detect.autofix.push(d.ms);
      figures.detect.grep.push(d.grep);
      const dm = await appendMonit(i);
      figures.detect.monit.push(dm);
      say(`trial ${i}/${trials}: killed redis → PONG: autofix ${show(a)}, Monit ${show(m)}, supervisord ${show(s)}; error line → detected: autofix ${show(d.ms)}, Monit ${show(dm)}, grep ${show(d.grep)}`);
    }

    if (json) process.stdout.write(JSON.stringify(figures, null, 2) + '\n');
    else report(figures);
  } finally {
    tail.kill('SIGTERM');
    grep.kill('SIGTERM');
    await monit?.stop();
    await sup?.stop();
    for (const w of workers) await w.stop();
    for (const p of [pA, pM, pS]) await killRedisOnPort(p);
    await connection?.close();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Idle for `seconds`, nothing happening: CPU of each process (utime+stime, % of one core) and the
 * history events added to each daemon (every run of its id; describe: live counts, visibility's
 * are updated late).
 */
async function measureIdle(
  client: Client,
  seconds: number,
  say: (s: string) => void,
  what: { cpu: Record<string, number>; history: Record<string, string> },
): Promise<NonNullable<Figures['idle']>> {
  const historyOf = async (id: string) => {
    let n = 0;
    for await (const wf of client.workflow.list({ query: `WorkflowId = "${id}"` })) n += (await client.workflow.getHandle(id, wf.runId).describe()).historyLength;
    return n;
  };
  const cpu0 = Object.fromEntries(Object.entries(what.cpu).map(([k, pid]) => [k, cpuSeconds(pid) ?? NaN]));
  const h0 = Object.fromEntries(await Promise.all(Object.entries(what.history).map(async ([k, id]) => [k, await historyOf(id)] as const)));
  say(`idle window: ${seconds} s, nothing happening…`);
  const w0 = Date.now();
  await sleep(seconds * 1000);
  const wall = (Date.now() - w0) / 1000;
  const cpu = Object.fromEntries(Object.entries(what.cpu).map(([k, pid]) => [k, (100 * ((cpuSeconds(pid) ?? NaN) - (cpu0[k] as number))) / wall]));
  const historyEvents = Object.fromEntries(await Promise.all(Object.entries(what.history).map(async ([k, id]) => [k, (await historyOf(id)) - (h0[k] as number)] as const)));
  return { seconds: wall, cpu, historyEvents };
}

const ok = (xs: number[]) => xs.filter((x) => !Number.isNaN(x));
/** Seconds with 2 decimals, or milliseconds below a second. */
const fmt = (ms: number) => (ms < 1000 ? `${Math.round(ms)} ms` : sec(ms));
const cell = (xs: number[]) => {
  const v = ok(xs);
  if (v.length === 0) return xs.length ? `never (${xs.length}/${xs.length})` : '—';
  const missed = xs.length - v.length;
  return `${fmt(median(v))} (${fmt(Math.min(...v))}–${fmt(Math.max(...v))})${missed ? `, ${missed} missed` : ''}`;
};
/** a/b with 2 decimals, or a dash when b used no measurable CPU (under one 10 ms clock tick). */
const div = (a = NaN, b = NaN) => (b > 0 ? (a / b).toFixed(2) : '— (under one clock tick)');
const ratio = (a: number[], b: number[]) => (ok(a).length && ok(b).length ? (median(ok(a)) / median(ok(b))).toFixed(3) : 'n/a');

function report(f: Figures): void {
  const idle = f.idle!;
  const t = new Table({ head: ['', 'autofix', 'Monit (set daemon 30)', 'supervisord', 'tail -F | grep'], style: { head: [], border: [] } });
  t.push(['killed redis-server → PONG, median (min–max)', cell(f.pong.autofix), cell(f.pong.monit), cell(f.pong.supervisord), '—']);
  t.push(['error line → detected, median (min–max)', cell(f.detect.autofix), cell(f.detect.monit), '— (reads no logs)', cell(f.detect.grep)]);
  const pct = (k: string) => `${(idle.cpu[k] ?? NaN).toFixed(3)} %`;
  t.push([`idle CPU over ${idle.seconds.toFixed(0)} s (% of one core)`, `${pct('autofix worker')} (--no-watch: ${pct('autofix worker --no-watch')})`, pct('Monit'), pct('supervisord'), '—']);
  const perHour = (n: number) => `${n} (${Math.round((n * 3600) / idle.seconds)}/h)`;
  t.push([`daemon history events in the window`, `${perHour(idle.historyEvents['with watchers']!)} (--no-watch: ${perHour(idle.historyEvents['without watchers']!)})`, '—', '—', '—']);
  process.stdout.write(`\nAt the shipped cadence (30 s loops, 60 s checks), ${f.pong.autofix.length} trials at random phases\n${t.toString()}\n`);
  const goal = (xs: number[]) => (ok(xs).length === xs.length && median(xs) <= 1000 ? 'met' : 'NOT met');
  process.stdout.write(
    [
      `ratios (medians): PONG autofix/Monit ${ratio(f.pong.autofix, f.pong.monit)}, autofix/supervisord ${ratio(f.pong.autofix, f.pong.supervisord)}; ` +
        `detection autofix/Monit ${ratio(f.detect.autofix, f.detect.monit)}, autofix/grep ${ratio(f.detect.autofix, f.detect.grep)}`,
      `idle CPU: watchers on/off ${div(idle.cpu['autofix worker'], idle.cpu['autofix worker --no-watch'])}, ` +
        `autofix/Monit ${div(idle.cpu['autofix worker'], idle.cpu.Monit)}, autofix/supervisord ${div(idle.cpu['autofix worker'], idle.cpu.supervisord)}; ` +
        `goal ≤ 1 %: ${(idle.cpu['autofix worker'] ?? Infinity) <= 1 ? 'met' : 'NOT met'}`,
      `history: watchers on/off ${(idle.historyEvents['with watchers']! / Math.max(1, idle.historyEvents['without watchers']!)).toFixed(2)}`,
      `goals (median ≤ 1 s): PONG ${goal(f.pong.autofix)}, detection ${goal(f.detect.autofix)}`,
      '',
    ].join('\n'),
  );
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    process.stderr.write(`latency: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
