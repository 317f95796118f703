/**
 * Worker footprint at the DEFAULT cadence: resident memory and idle CPU of one
 * `node bin/autofix worker` process while the daemon runs 30 s loops and 5-min rests with a
 * default-like config (all default patterns; postgres, redis, disk and memory checks on the
 * machine's shared 127.0.0.1:5432 / :6379 services — read-only probes; dry_run so nothing could
 * ever be changed; one watched log that stays quiet).
 *
 *   node dist/bench/footprint.js [--minutes 10] [--every 5]
 *
 * Starts an in-memory Temporal dev server on free ports, spawns the worker, starts the daemon,
 * waits for its first loop, then samples /proc/<pid>/status VmRSS and /proc/<pid>/stat
 * utime+stime every `--every` seconds for `--minutes`. Prints median/max RSS, mean CPU % of one
 * core, and the ratio to the seed's promise (50–100 MB, 1–5 %). The dev server's own figures are
 * printed for information. Everything it started is stopped and its temp dir removed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { autoFixDaemon } from '../src/workflows/daemon';
import { statusQuery } from '../src/workflows/definitions';
import { ROOT, makeTempDir, mean, median, numArg, sleep, startBenchServer } from './lib/common';
import { cpuSeconds, rssKib } from './lib/proc';
import { spawnWorker, type WorkerChild } from './lib/worker-child';

/** A default-like config in `dir`: the shipped patterns and services, probes on the shared services. */
function writeConfig(dir: string): string {
  const shipped = JSON.parse(
    fs.readFileSync(path.join(ROOT, 'config/error_patterns.json'), 'utf8'),
  ) as Record<string, unknown>;
  const appLog = path.join(dir, 'app.log');
  fs.writeFileSync(appLog, '2025-01-18 10:00:00,000 INFO app: started\n');
  fs.writeFileSync(path.join(dir, 'app.json'), '{"ok": true}\n');
  const cfg = {
    error_patterns: shipped.error_patterns,
    auto_fix_config: {
      ...(shipped.auto_fix_config as object),
      notification_channels: ['log', 'alerts'],
      dry_run: true,
    },
    daemon: { data_dir: path.join(dir, 'data'), log_file: path.join(dir, 'data', 'logs', 'auto_fix.log') },
    watch: { logs: [appLog], json_files: [path.join(dir, '*.json')] },
    health_checks: {
      postgres: { url: 'postgresql://127.0.0.1:5432/postgres' },
      redis: { url: 'redis://127.0.0.1:6379' },
    },
    managed: { roots: [dir] },
    services: shipped.services,
  };
  const file = path.join(dir, 'error_patterns.json');
  fs.writeFileSync(file, JSON.stringify(cfg, null, 2));
  return file;
}

async function main(): Promise<void> {
  const minutes = numArg('--minutes', 10);
  const everyS = numArg('--every', 5);
  const dir = makeTempDir('footprint');
  const server = await startBenchServer();
  let worker: WorkerChild | undefined;
  let connection: Connection | undefined;
  const workflowId = `bench-footprint-${Date.now()}`;
  try {
    const configPath = writeConfig(dir);
    const taskQueue = `bench-footprint-${process.pid}`;
    worker = await spawnWorker(server.address, taskQueue, configPath, path.join(dir, 'worker.log'));
    connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection });
    // No loop overrides: the config's defaults (15 loops, 30 s apart, 5-min rest).
    await client.workflow.start<typeof autoFixDaemon>('autoFixDaemon', {
      workflowId,
      taskQueue,
      args: [{}],
    });
    const h = client.workflow.getHandle(workflowId);
    const t0 = Date.now();
    // The status query is registered only after the daemon's first activity: retry until then.
    while (((await h.query(statusQuery).catch(() => undefined))?.totals.loops ?? 0) < 1) {
      if (Date.now() - t0 > 60_000) throw new Error('the daemon ran no loop within 60 s');
      await sleep(500);
    }
    process.stdout.write(`worker pid ${worker.pid}; sampling every ${everyS} s for ${minutes} min…\n`);
    const rss: number[] = [];
    const cpuStart = cpuSeconds(worker.pid) as number;
    const srvPid = server.pid as number;
    const srvCpuStart = cpuSeconds(srvPid) ?? 0;
    const srvRss: number[] = [];
    const start = Date.now();
    let prevCpu = cpuStart;
    let prevAt = start;
    let peakWindowPct = 0;
    while (Date.now() - start < minutes * 60_000) {
      await sleep(everyS * 1000);
      const r = rssKib(worker.pid);
      const c = cpuSeconds(worker.pid);
      if (r === undefined || c === undefined) throw new Error('the worker exited during the measurement');
      rss.push(r / 1024);
      srvRss.push((rssKib(srvPid) ?? 0) / 1024);
      const now = Date.now();
      peakWindowPct = Math.max(peakWindowPct, ((c - prevCpu) / ((now - prevAt) / 1000)) * 100);
      prevCpu = c;
      prevAt = now;
    }
    const elapsed = (Date.now() - start) / 1000;
    const cpuPct = (((cpuSeconds(worker.pid) as number) - cpuStart) / elapsed) * 100;
    const srvCpuPct = (((cpuSeconds(srvPid) ?? 0) - srvCpuStart) / elapsed) * 100;
    const st = await h.query(statusQuery);
    const medRss = median(rss);
    const rows = [
      `window: ${(elapsed / 60).toFixed(1)} min, ${rss.length} samples; daemon loops so far ${st.totals.loops} (iteration ${st.iteration}), detections ${st.totals.detections}`,
      `worker RSS: median ${medRss.toFixed(1)} MiB, max ${Math.max(...rss).toFixed(1)} MiB, first ${rss[0]?.toFixed(1)} → last ${rss[rss.length - 1]?.toFixed(1)} MiB`,
      `worker CPU: mean ${cpuPct.toFixed(3)} % of one core (peak ${everyS} s window ${peakWindowPct.toFixed(1)} %)`,
      `peer (seed promise 50–100 MB, 1–5 %): RSS ratio ${(medRss / 100).toFixed(2)} of 100 MB (${(medRss / 50).toFixed(2)} of 50 MB); CPU ratio ${(cpuPct / 5).toFixed(3)} of 5 % (${(cpuPct / 1).toFixed(3)} of 1 %)`,
      `for information, the Temporal dev server (pid ${srvPid}): RSS median ${median(srvRss).toFixed(1)} MiB, CPU mean ${srvCpuPct.toFixed(2)} % (mean RSS ${mean(srvRss).toFixed(1)} MiB)`,
    ];
    process.stdout.write(rows.join('\n') + '\n');
  } finally {
    if (connection) {
      await new Client({ connection }).workflow
        .getHandle(workflowId)
        .terminate('benchmark done')
        .catch(() => undefined);
      await connection.close();
    }
    await worker?.stop();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    process.stderr.write(`footprint: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
