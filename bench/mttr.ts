/**
 * Mean time to repair of a Redis, autofix against Monit, side by side in one run:
 *   (a) redis-server killed (SIGKILL), (b) redis-server hung (SIGSTOP: pid alive, port accepts).
 *
 *   node dist/bench/mttr.js [--trials 3] [--give-up 60]
 *
 * Our own redis-server on a free port (the shared :6379 is never touched), an in-memory Temporal
 * dev server on free ports and an in-process worker (`createAutofixWorker`). autofix: the daemon
 * with 1 s loops, `health_checks.redis` every 1 s with a 1 s timeout, pattern `redis_connection`
 * → `service_restart` of a service whose restart argv starts redis-server on the same port
 * (pid file, `process_match`, redis health, 2 s SIGTERM grace, 3 s health timeout, 1 s cooldown).
 * Monit: `set daemon 1`, `check process ... with pidfile`, `if failed ... protocol redis with
 * timeout 1 seconds then restart` (see lib/monit.ts). Each trial starts the tool, waits until it
 * has seen Redis healthy, waits a random 0–1 s (so the fault lands at any phase of the 1 s
 * cycle), injects the fault and measures the time to the first PONG (a PING is sent every 100 ms
 * on a fresh connection). Prints every sample, the median per tool and case, and autofix/Monit.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime, type Worker } from '@temporalio/worker';
import { createAutofixWorker } from '../src/worker';
import type { autoFixDaemon } from '../src/workflows/daemon';
import { statusQuery } from '../src/workflows/definitions';
import {
  freePort,
  killRedisOnPort,
  makeTempDir,
  median,
  numArg,
  pingOnce,
  redisArgv,
  redisPidFile,
  sec,
  sleep,
  startBenchServer,
  startRedis,
} from './lib/common';
import { startMonit, writeMonitrc } from './lib/monit';

type Fault = 'SIGKILL' | 'SIGSTOP';
type Tool = 'autofix' | 'monit';

function writeConfig(dir: string, port: number): string {
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
    ],
    auto_fix_config: {
      max_retries: 3,
      retry_delay: 1,
      cooldown_period: 1,
      notification_channels: ['log'],
      flap_guard: { max_fixes: 100 },
    },
    daemon: { data_dir: path.join(dir, 'data'), log_file: path.join(dir, 'data', 'logs', 'auto_fix.log') },
    health_checks: {
      redis: { url: `redis://127.0.0.1:${port}`, interval_seconds: 1, timeout_seconds: 1 },
      postgres: { enabled: false },
      disk: { enabled: false },
      memory: { enabled: false },
    },
    managed: { roots: [dir] },
    services: {
      redis: {
        restart: redisArgv(port, dir),
        pid_file: redisPidFile(port, dir),
        process_match: `redis-server \\S*:${port}\\b`,
        health: { type: 'redis', port },
        stop_signal_timeout_seconds: 2,
        health_timeout_seconds: 3,
      },
    },
  };
  const file = path.join(dir, 'error_patterns.json');
  fs.writeFileSync(file, JSON.stringify(cfg, null, 2));
  return file;
}

/** Milliseconds from now until a PING first gets PONG (a new PING every 100 ms), or NaN at `giveUpMs`. */
async function timeToPong(port: number, giveUpMs: number): Promise<number> {
  const t0 = Date.now();
  let got = NaN;
  const pending: Array<Promise<void>> = [];
  while (Number.isNaN(got) && Date.now() - t0 < giveUpMs) {
    pending.push(
      pingOnce(port, 2000).then((ok) => void (ok && Number.isNaN(got) && (got = Date.now() - t0))),
    );
    await sleep(100);
  }
  await Promise.all(pending);
  return got;
}

async function main(): Promise<void> {
  const trials = numArg('--trials', 3);
  const giveUpMs = numArg('--give-up', 60) * 1000;
  const dir = makeTempDir('mttr');
  const port = await freePort();
  const configPath = writeConfig(dir, port);
  const rc = writeMonitrc(dir, port);
  const server = await startBenchServer();
  const taskQueue = `bench-mttr-${process.pid}`;
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  const conns: Array<{ close(): Promise<void> }> = [];
  const results: Record<string, number[]> = {};
  try {
    // The SDK's default logger prints every activity at INFO; the figures are what matters here.
    Runtime.install({ logger: new DefaultLogger('WARN') });
    const w = await createAutofixWorker({ address: server.address, taskQueue, configPath, host: 'bench' });
    worker = w.worker;
    conns.push(w.connection);
    running = worker.run();
    const connection = await Connection.connect({ address: server.address });
    conns.push(connection);
    const client = new Client({ connection });

    const trial = async (tool: Tool, fault: Fault, n: number): Promise<void> => {
      await killRedisOnPort(port);
      fs.rmSync(redisPidFile(port, dir), { force: true });
      const pid = await startRedis(port, dir);
      const workflowId = `bench-mttr-${tool}-${fault}-${n}-${Date.now()}`;
      let stopTool: () => Promise<void>;
      let monitLog: string | undefined;
      if (tool === 'autofix') {
        await client.workflow.start<typeof autoFixDaemon>('autoFixDaemon', {
          workflowId,
          taskQueue,
          args: [{ loopCount: 100_000, loopIntervalSeconds: 1, waitMinutes: 0.01 }],
        });
        const h = client.workflow.getHandle(workflowId);
        const deadline = Date.now() + 30_000;
        // The status query exists only after the daemon's first activity: retry until then.
        while (
          (await h.query(statusQuery).catch(() => undefined))?.lastHealth?.checks.redis_connection !==
          'healthy'
        ) {
          if (Date.now() > deadline) throw new Error('the daemon never saw the bench redis healthy');
          await sleep(200);
        }
        stopTool = () => h.terminate('trial done').then(() => undefined);
      } else {
        const m = await startMonit(dir, rc);
        monitLog = m.logFile;
        await sleep(1500);
        stopTool = () => m.stop();
      }
      await sleep(Math.random() * 1000);
      const faultAt = Date.now();
      process.kill(pid, fault);
      const ms = await timeToPong(port, giveUpMs);
      await stopTool();
      (results[`${tool} ${fault}`] ??= []).push(ms);
      const by =
        tool === 'autofix' ? await incidentOutcome(client, faultAt) : monitLog ? monitSays(monitLog) : '';
      process.stdout.write(
        `  ${tool.padEnd(7)} ${fault}: ${Number.isNaN(ms) ? `not recovered within ${giveUpMs / 1000} s` : sec(ms)}${by}\n`,
      );
    };

    for (let n = 1; n <= trials; n++) {
      process.stdout.write(`trial ${n}/${trials}\n`);
      for (const fault of ['SIGKILL', 'SIGSTOP'] as const) {
        await trial('autofix', fault, n);
        await trial('monit', fault, n);
      }
    }
    report(results, giveUpMs);
  } finally {
    await killRedisOnPort(port);
    if (worker?.getState() === 'RUNNING') worker.shutdown();
    await running?.catch(() => undefined);
    for (const c of conns) await c.close().catch(() => undefined);
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Waits (≤ 30 s) for the newest incident saga to close and says how it ended, so trials never overlap. */
async function incidentOutcome(client: Client, since: number): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    let newest: { id: string; status: string; start: number } | undefined;
    for await (const wf of client.workflow.list({
      query: `WorkflowId STARTS_WITH "incident-redis_connection-"`,
    })) {
      if (wf.startTime.getTime() < since - 1000) continue;
      if (!newest || wf.startTime.getTime() > newest.start)
        newest = { id: wf.workflowId, status: wf.status.name, start: wf.startTime.getTime() };
    }
    if (newest && newest.status !== 'RUNNING') {
      const r = (await client.workflow
        .getHandle(newest.id)
        .result()
        .catch(() => undefined)) as { outcome?: string; steps?: Array<{ summary: string }> } | undefined;
      return ` (incident ${r?.outcome ?? newest.status}: ${r?.steps?.[0]?.summary ?? ''})`;
    }
    if (Date.now() > deadline) {
      if (!newest) return ' (no incident found)';
      if (newest)
        await client.workflow
          .getHandle(newest.id)
          .terminate('trial done')
          .catch(() => undefined);
      return ' (incident still running after 30 s; terminated)';
    }
    await sleep(300);
  }
}

/** Monit's own account of the trial: its log lines about the service, shortened. */
function monitSays(logFile: string): string {
  const lines = fs
    .readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((l) => /benchredis/.test(l))
    .map((l) => l.replace(/^\[[^\]]*\]\s*/, '').trim());
  const uniq = [...new Set(lines)].slice(0, 6);
  return uniq.length ? `\n      monit.log: ${uniq.join('\n                 ')}` : '';
}

function report(results: Record<string, number[]>, giveUpMs: number): void {
  const show = (xs: number[]) => {
    const ok = xs.filter((x) => !Number.isNaN(x));
    const failed = xs.length - ok.length;
    return `${ok.length ? `median ${sec(median(ok))} (min ${sec(Math.min(...ok))}, max ${sec(Math.max(...ok))})` : 'never'}${failed ? `, ${failed}/${xs.length} not recovered within ${giveUpMs / 1000} s` : ''}`;
  };
  process.stdout.write('\nMTTR (fault → first PONG)\n');
  for (const fault of ['SIGKILL', 'SIGSTOP'] as const) {
    const a = results[`autofix ${fault}`] ?? [];
    const m = results[`monit ${fault}`] ?? [];
    const what = fault === 'SIGKILL' ? 'killed (SIGKILL)' : 'hung (SIGSTOP)';
    process.stdout.write(`${what}:\n  autofix: ${show(a)}\n  monit:   ${show(m)}\n`);
    const ao = a.filter((x) => !Number.isNaN(x));
    const mo = m.filter((x) => !Number.isNaN(x));
    const ratio =
      ao.length && mo.length
        ? (median(ao) / median(mo)).toFixed(2)
        : ao.length
          ? '— (Monit never recovered it)'
          : 'n/a';
    process.stdout.write(`  ratio autofix/monit (medians): ${ratio}\n`);
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    process.stderr.write(`mttr: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
