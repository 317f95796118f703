/**
 * History growth of the daemon over a simulated week: the real cycle (15 loops, a rest,
 * continue-as-new) at second-scale intervals, then the histories of all its runs.
 *
 *   node dist/bench/history.js [--minutes 5] [--loop-interval 1] [--wait-minutes 0.017] [--error-every 45]
 *
 * A week at the default cadence (30 s loops, 5-min rest: 12.5 min per iteration) is
 * 7*24*60/12.5 ≈ 806 iterations = 806 runs. The benchmark runs as many iterations as fit in
 * `--minutes` and extrapolates to 806 (history size per run does not depend on the interval: one
 * run = one iteration). Shorter intervals do not help: the dev server fires sub-second timers
 * after ~1 s, so an iteration takes ≥ ~16 s and 5 minutes hold ~18 runs. The watched log stays quiet except one error line every `--error-every`
 * seconds (0 = never), which starts an alert-only incident saga, so the figures include the
 * child-workflow and incidentClosed-signal events a real week has. Health checks are off: they
 * run inside the loop's one local activity and add no events.
 *
 * Prints: runs, events per quiet loop (median gap between consecutive loop markers with nothing
 * else in between), events per run (max/mean), max and mean history size in bytes, the fixed
 * per-run overhead, and the ratios to the goal (≤ 8 per quiet loop) and to the server's
 * continue-as-new suggestion (4,096 events / 4 MiB).
 */
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { createAutofixWorker } from '../src/worker';
import type { autoFixDaemon } from '../src/workflows/daemon';
import { statusQuery } from '../src/workflows/definitions';
import { makeTempDir, mean, median, numArg, sleep, startBenchServer, writeAlertConfig } from './lib/common';

const EventType = temporal.api.enums.v1.EventType;
const WEEK_ITERATIONS = Math.round((7 * 24 * 60) / (15 * 0.5 + 5));

interface RunStats {
  events: number;
  bytes: number;
  loops: number;
  quietGaps: number[];
  children: number;
}

/** Counts one run's events, its loop markers and the gaps between consecutive quiet loops. */
function analyse(history: temporal.api.history.v1.IHistory): RunStats {
  const events = history.events ?? [];
  const bytes = temporal.api.history.v1.History.encode(history).finish().length;
  const markers: number[] = [];
  const noisy = new Set<number>(); // indexes of events that are neither loop nor workflow-task events
  let children = 0;
  events.forEach((e, i) => {
    const t = e.eventType;
    if (t === EventType.EVENT_TYPE_MARKER_RECORDED) markers.push(i);
    else if (t === EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED) children++;
    const loopish =
      t === EventType.EVENT_TYPE_MARKER_RECORDED ||
      t === EventType.EVENT_TYPE_TIMER_STARTED ||
      t === EventType.EVENT_TYPE_TIMER_FIRED ||
      t === EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED ||
      t === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED ||
      t === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED;
    if (!loopish) noisy.add(i);
  });
  const quietGaps: number[] = [];
  for (let k = 1; k < markers.length; k++) {
    const [a, b] = [markers[k - 1] as number, markers[k] as number];
    let quiet = true;
    for (let i = a + 1; i < b && quiet; i++) if (noisy.has(i)) quiet = false;
    if (quiet) quietGaps.push(b - a);
  }
  return { events: events.length, bytes, loops: markers.length, quietGaps, children };
}

async function main(): Promise<void> {
  const minutes = numArg('--minutes', 5);
  const loopInterval = numArg('--loop-interval', 1);
  const waitMinutes = numArg('--wait-minutes', 0.017);
  const errorEvery = numArg('--error-every', 45);
  const dir = makeTempDir('history');
  const appLog = path.join(dir, 'app.log');
  fs.writeFileSync(appLog, '');
  const configPath = writeAlertConfig(dir, appLog);
  const server = await startBenchServer();
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const taskQueue = `bench-history-${process.pid}`;
  const { worker, connection: wconn } = await createAutofixWorker({
    address: server.address,
    taskQueue,
    configPath,
    host: 'bench',
  });
  const running = worker.run();
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  const workflowId = `bench-history-${Date.now()}`;
  try {
    await client.workflow.start<typeof autoFixDaemon>('autoFixDaemon', {
      workflowId,
      taskQueue,
      args: [{ loopCount: 15, loopIntervalSeconds: loopInterval, waitMinutes }],
    });
    const h = client.workflow.getHandle(workflowId);
    const start = Date.now();
    let nextError = start + errorEvery * 1000;
    let n = 0;
    while (Date.now() - start < minutes * 60_000) {
      await sleep(500);
      if (errorEvery > 0 && Date.now() >= nextError) {
        fs.appendFileSync(appLog, `127.0.0.1 - - [18/Jan/2025 10:00:00] "GET /boom/${n++} HTTP/1.1" 500 -\n`);
        nextError += errorEvery * 1000;
      }
    }
    const st = await h.query(statusQuery);
    await h.terminate('benchmark done');
    const elapsedMin = (Date.now() - start) / 60_000;

    const runIds: string[] = [];
    for await (const wf of client.workflow.list({ query: `WorkflowId = "${workflowId}"` }))
      runIds.push(wf.runId);
    const stats: RunStats[] = [];
    for (const runId of runIds)
      stats.push(analyse(await client.workflow.getHandle(workflowId, runId).fetchHistory()));
    // Complete runs only (the terminated last one is cut short): 15 loop markers each.
    const full = stats.filter((s) => s.loops === 15);
    const quiet = full.filter((s) => s.children === 0);
    const gaps = stats.flatMap((s) => s.quietGaps);
    const perLoop = median(gaps);
    const maxEvents = Math.max(...stats.map((s) => s.events));
    const maxBytes = Math.max(...stats.map((s) => s.bytes));
    const overhead = quiet.length ? median(quiet.map((s) => s.events - 15 * perLoop)) : NaN;
    const rows = [
      `ran ${elapsedMin.toFixed(1)} min: ${runIds.length} runs (iteration ${st.iteration}), ${st.totals.loops} loops, ${st.totals.incidents} incidents; loop interval ${loopInterval} s, rest ${(waitMinutes * 60).toFixed(2)} s`,
      `events per quiet loop: median ${perLoop} (min ${Math.min(...gaps)}, max ${Math.max(...gaps)}, ${gaps.length} loops) — goal ≤ 8, ratio ${(perLoop / 8).toFixed(2)}`,
      `events per run (15 loops + rest + continue-as-new): max ${maxEvents}, mean ${mean(full.map((s) => s.events)).toFixed(1)} over ${full.length} complete runs; quiet runs ${quiet.length ? median(quiet.map((s) => s.events)) : 'n/a'} (fixed per-run overhead ${overhead} events)`,
      `runs with incidents: ${full.length - quiet.length}, max ${Math.max(0, ...full.filter((s) => s.children > 0).map((s) => s.events))} events`,
      `history size per run: max ${maxBytes} bytes, mean ${mean(stats.map((s) => s.bytes)).toFixed(0)} bytes`,
      `vs the server's continue-as-new suggestion (4,096 events / 4 MiB): max run = ${((maxEvents / 4096) * 100).toFixed(2)} % of the events, ${((maxBytes / (4 * 1024 * 1024)) * 100).toFixed(3)} % of the bytes`,
      `a week at the default cadence = ${WEEK_ITERATIONS} runs; extrapolated from ${full.length} complete runs: ${Math.round(WEEK_ITERATIONS * mean(full.map((s) => s.events)))} events and ${((WEEK_ITERATIONS * mean(stats.map((s) => s.bytes))) / 1024 / 1024).toFixed(1)} MiB in total, none over ${maxEvents} events per run`,
    ];
    process.stdout.write(rows.join('\n') + '\n');
  } finally {
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
    process.stderr.write(`history: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
