/**
 * Detection latency: from appending an error line to a watched log until its incident workflow
 * starts, with the daemon's loops 1 s apart; against `tail -F | grep --line-buffered` on the
 * same file in the same run (time until grep prints the line).
 *
 *   node dist/bench/latency.js [--samples 12]
 *
 * An in-memory Temporal dev server on free ports and an in-process worker; pattern `http_5xx`
 * with one `alert` action (cheap, real), cooldown 1 s, health checks off. Each sample waits a
 * random 0–1 s (so the append lands at any phase of the loop), appends one line, waits until
 * grep has printed it and the daemon has started the incident and closed it. The incident's start
 * is the server's own start time of the `incident-http_5xx-*` workflow (same machine clock), so
 * polling adds nothing. Prints each sample, median and p90 of both, and autofix/grep.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { createAutofixWorker } from '../src/worker';
import type { autoFixDaemon } from '../src/workflows/daemon';
import { statusQuery } from '../src/workflows/definitions';
import {
  makeTempDir,
  median,
  numArg,
  quantile,
  sleep,
  startBenchServer,
  writeAlertConfig,
} from './lib/common';

async function main(): Promise<void> {
  const samples = numArg('--samples', 12);
  const dir = makeTempDir('latency');
  const appLog = path.join(dir, 'app.log');
  fs.writeFileSync(appLog, '');
  const configPath = writeAlertConfig(dir, appLog);
  const server = await startBenchServer();
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const taskQueue = `bench-latency-${process.pid}`;
  const { worker, connection: wconn } = await createAutofixWorker({
    address: server.address,
    taskQueue,
    configPath,
    host: 'bench',
  });
  const running = worker.run();
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  const workflowId = `bench-latency-${Date.now()}`;
  // The peer: tail -F (inotify) piped straight into grep, no Node in between.
  const tail = spawn('tail', ['-F', '-n', '0', appLog], { stdio: ['ignore', 'pipe', 'ignore'] });
  const grep = spawn('grep', ['--line-buffered', '-E', '" 5[0-9][0-9] '], {
    stdio: [tail.stdout, 'pipe', 'ignore'],
  });
  const grepSeen = new Map<string, number>();
  let pending = '';
  grep.stdout.setEncoding('utf8').on('data', (d: string) => {
    const at = Date.now();
    pending += d;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const l of lines) {
      const m = /\/lat\/(\d+)/.exec(l);
      if (m) grepSeen.set(m[1] as string, at);
    }
  });
  try {
    await client.workflow.start<typeof autoFixDaemon>('autoFixDaemon', {
      workflowId,
      taskQueue,
      args: [{ configPath, loopCount: 100_000, loopIntervalSeconds: 1, waitMinutes: 0.017 }],
    });
    const h = client.workflow.getHandle(workflowId);
    const status = () => h.query(statusQuery);
    const deadline = Date.now() + 30_000;
    while (((await status().catch(() => undefined))?.totals.loops ?? 0) < 2) {
      if (Date.now() > deadline) throw new Error('the daemon ran no loops within 30 s');
      await sleep(200);
    }
    await sleep(500); // tail has opened the file by now
    const appendedAt: number[] = [];
    for (let i = 0; i < samples; i++) {
      await sleep(Math.random() * 1000);
      const before = (await status()).totals.incidents;
      const t0 = Date.now();
      fs.appendFileSync(appLog, `127.0.0.1 - - [18/Jan/2025 10:00:00] "GET /lat/${i} HTTP/1.1" 500 -\n`);
      appendedAt.push(t0);
      const until = Date.now() + 15_000;
      for (;;) {
        const s = await status();
        if (
          s.totals.incidents > before &&
          Object.keys(s.openIncidents).length === 0 &&
          grepSeen.has(String(i))
        )
          break;
        if (Date.now() > until) throw new Error(`sample ${i}: no incident (or no grep line) within 15 s`);
        await sleep(100);
      }
      await sleep(1100); // the next incident must fall in a new 1 s cooldown bucket
    }
    await h.terminate('benchmark done');

    const starts: number[] = [];
    for await (const wf of client.workflow.list({ query: `WorkflowId STARTS_WITH "incident-http_5xx-"` })) {
      if (wf.taskQueue === taskQueue) starts.push(wf.startTime.getTime());
    }
    starts.sort((a, b) => a - b);
    const af: number[] = [];
    const gr: number[] = [];
    appendedAt.forEach((t0, i) => {
      const s = starts.find((x) => x >= t0);
      if (s === undefined) throw new Error(`sample ${i}: no incident workflow started after the append`);
      af.push(s - t0);
      gr.push((grepSeen.get(String(i)) as number) - t0);
      process.stdout.write(
        `  sample ${String(i + 1).padStart(2)}: autofix ${(s - t0).toFixed(0).padStart(5)} ms   grep ${gr[i]?.toFixed(0).padStart(3)} ms\n`,
      );
    });
    const fmt = (xs: number[]) =>
      `median ${median(xs).toFixed(0)} ms, p90 ${quantile(xs, 0.9).toFixed(0)} ms (min ${Math.min(...xs)}, max ${Math.max(...xs)})`;
    process.stdout.write(
      [
        `append → incident workflow started (autofix, 1 s loops): ${fmt(af)} — goal median ≤ 1500 ms`,
        `append → grep prints it (tail -F | grep --line-buffered): ${fmt(gr)}`,
        `ratio autofix/grep: median ${(median(af) / Math.max(1, median(gr))).toFixed(0)}×, p90 ${(quantile(af, 0.9) / Math.max(1, quantile(gr, 0.9))).toFixed(0)}×`,
        '',
      ].join('\n'),
    );
  } finally {
    tail.kill('SIGTERM');
    grep.kill('SIGTERM');
    await client.workflow
      .getHandle(workflowId)
      .terminate('benchmark done')
      .catch(() => undefined);
    worker.shutdown();
    await running.catch(() => undefined);
    await wconn.close();
    await connection.close();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    process.stderr.write(`latency: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
