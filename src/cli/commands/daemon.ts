/**
 * The seed's daemon commands: `run [--continuous]`, `pause`, `resume`, `run-now`, `status`, `stop`.
 * Each is a thin client of the `autoFixDaemon` workflow; the same operations work with the plain
 * `temporal` CLI (see README).
 *
 * `run --continuous` behaves like the seed's `auto_fix_daemon.py --continuous`: when a live worker
 * serves the daemon's task queue it starts (or attaches to) the daemon there and returns; when
 * none does, it runs in the foreground what `autofix up` runs — the dev server (or
 * TEMPORAL_ADDRESS), a worker with `--config`/`--log-file`, the daemon with
 * `--loop-count`/`--wait-minutes` — echoing auto_fix.log until Ctrl-C.
 */
import type { Command } from 'commander';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { autoFixDaemon } from '../../workflows/daemon';
import {
  pauseFixesSignal,
  reloadConfigUpdate,
  resumeFixesSignal,
  runNowSignal,
  statusQuery,
  stopSignal,
  type DaemonStatus,
  type DaemonSummary,
} from '../../workflows/definitions';
import type { Client } from '@temporalio/client';
import { daemonIds, executeWithWorker, resolveHost, startDaemon, withClient, workflowUrl, hasPollers, type HostOptions } from '../client';
import { CliError, printJson, printTable, rootMessage } from '../output';
import { daemonInputOf, loopOptions, positiveNumber as num, type SeedRunOptions } from '../options';
import { DEFAULT_CONFIG_PATH, loadConfig } from '../../config/load';
import { connectTemporal, isUnavailable, temporalTarget, unreachable } from '../../temporal/connect';
import { listening, localTarget, withLocalServer } from '../local-server';
import path from 'node:path';

interface RunOptions extends HostOptions, SeedRunOptions {
  continuous?: boolean;
  /** Only start or attach to the daemon, never run a worker here (scripts, docker-compose). */
  attach?: boolean;
  json?: boolean;
}

/** How long a live worker gets to answer the daemon's status query before it counts as gone. */
const LIVE_WORKER_WAIT_MS = 10_000;

function hostOpt(cmd: Command): Command {
  return cmd
    .option('--host <name>', 'per-host daemon (autofix-daemon-<host> on task queue autofix-<host>); "auto" = this host')
    .option('--task-queue <name>', 'task queue (default autofix, or autofix-<host>)');
}

function ids(o: HostOptions) {
  return daemonIds({ ...o, ...(o.host ? { host: resolveHost(o.host) as string } : {}) });
}

/** Starts the daemon of these options idempotently (see startDaemon). */
function startDaemonWith(client: Client, o: RunOptions): Promise<{ runId: string; workflowId: string; existed: boolean }> {
  const at = ids(o);
  return startDaemon(client, at, daemonInputOf(o, at.host));
}

/**
 * When a live worker serves the daemon's task queue: starts (or finds) the daemon and returns
 * it. Undefined when no server listens, no worker polls, or the listed poller does not answer —
 * the server keeps listing a worker that died for a minute or so, while a live one answers the
 * daemon's status query within seconds.
 */
export async function attachIfServed(o: RunOptions): Promise<{ runId: string; workflowId: string; existed: boolean } | undefined> {
  const target = localTarget();
  if (!(await listening(target.address))) return undefined;
  const { taskQueue } = ids(o);
  const { client, connection } = await connectTemporal(target).catch((err: Error) => {
    throw new CliError(err.message, 1);
  });
  try {
    if (!(await hasPollers(client, taskQueue))) return undefined;
    const r = await startDaemonWith(client, o);
    try {
      await client.withDeadline(Date.now() + LIVE_WORKER_WAIT_MS, () => client.workflow.getHandle(r.workflowId).query(statusQuery));
    } catch {
      return undefined;
    }
    if (o.config || o.logFile) {
      process.stderr.write(`note: the worker serving "${taskQueue}" runs its own config and log file; --config/--log-file apply to a worker started here (when none serves the queue), \`autofix up\` or \`autofix worker\`.\n`);
    }
    return r;
  } finally {
    await connection.close();
  }
}

/** `run --continuous --attach`: starts or finds the daemon and returns, whoever serves it. */
async function attachOnly(o: RunOptions): Promise<{ runId: string; workflowId: string; existed: boolean }> {
  const { client, connection } = await connectTemporal(localTarget()).catch((err: Error) => {
    throw new CliError(err.message, 1);
  });
  try {
    const r = await startDaemonWith(client, o);
    const { taskQueue } = ids(o);
    if (!(await hasPollers(client, taskQueue))) {
      process.stderr.write(`warning: no worker polls task queue "${taskQueue}" yet; the daemon waits for one (\`autofix worker\`, \`autofix up\`).\n`);
    }
    return r;
  } finally {
    await connection.close();
  }
}

/** `run --continuous`: attach to a served daemon, else run everything here (module comment). */
async function runContinuous(o: RunOptions): Promise<void> {
  const r = o.attach ? await attachOnly(o) : await attachIfServed(o);
  if (r) {
    const out = { workflowId: r.workflowId, runId: r.runId, attached: r.existed, webUi: workflowUrl(r.workflowId, localTarget().namespace) };
    if (o.json) printJson(out);
    else process.stdout.write(`${r.existed ? 'attached to the running daemon' : 'daemon started'}: ${r.workflowId}\nWeb UI: ${out.webUi}\n`);
    return;
  }
  process.stdout.write(`[autofix] no worker serves task queue "${ids(o).taskQueue}": running one here, in the foreground (Ctrl-C stops it)\n`);
  const { upForeground } = await import('./up');
  await upForeground({
    ...o,
    ...(o.host ? { host: o.host } : {}),
    ...(process.env.AUTOFIX_METRICS_BIND ? { metrics: process.env.AUTOFIX_METRICS_BIND } : {}),
  });
}

function printSummary(s: DaemonSummary): void {
  printTable(
    ['pattern', 'severity', 'count', 'file', 'first line'],
    s.detections.map((d) => [d.id, d.severity, d.count, d.file ?? '', d.first_line ?? '']),
  );
  if (s.incidents.length) printTable(['incident', 'pattern', 'outcome', 'reason'], s.incidents.map((i) => [i.incidentId, i.patternId, i.outcome ?? 'started', i.reason ?? '']));
  if (s.skipped.length) printTable(['pattern', 'not fixed because'], s.skipped.map((k) => [k.patternId, k.reason]));
  if (s.health) process.stdout.write(`health: ${s.health.overall} (${Object.entries(s.health.checks).map(([k, v]) => `${k}=${v}`).join(', ')})\n`);
}

function printStatus(s: DaemonStatus, workflowId: string): void {
  printTable(
    ['field', 'value'],
    [
      ['daemon', `${workflowId}${s.host ? ` (host ${s.host})` : ''}`],
      ['running', s.running],
      ['fixes', s.paused ? `PAUSED${s.pauseReason ? ` — ${s.pauseReason}` : ''}${s.pausedUntil ? ` until ${s.pausedUntil}` : ''}` : 'active'],
      ['iteration / loop', `${s.iteration} / ${s.loop} of ${s.loopCount} (${s.phase})`],
      ['last loop', s.lastLoopAt ?? '—'],
      ['next loop', s.nextLoopAt ?? '—'],
      ['health', s.lastHealth ? `${s.lastHealth.overall} (${Object.entries(s.lastHealth.checks).map(([k, v]) => `${k}=${v}`).join(', ')})` : '—'],
      ['open incidents', Object.entries(s.openIncidents).map(([p, i]) => `${p}: ${i}`).join('\n') || '—'],
      ['cooldowns', Object.entries(s.cooldowns).map(([p, t]) => `${p} until ${t}`).join('\n') || '—'],
      ['flap guard tripped', s.flapping.join(', ') || '—'],
      ['totals', `${s.totals.loops} loops, ${s.totals.detections} detections (${s.totals.events} events), ${s.totals.incidents} incidents`],
      ['config', s.config],
      ['Web UI', workflowUrl(workflowId)],
    ],
  );
}

/** `status --all`: every running daemon found in visibility, queried one by one. */
async function printAllStatuses(json: boolean): Promise<void> {
  const rows = await withClient(async (client) => {
    const out: Array<{ workflowId: string; status?: DaemonStatus; error?: string }> = [];
    for await (const wf of client.workflow.list({ query: `WorkflowType = 'autoFixDaemon' AND ExecutionStatus = 'Running'` })) {
      if (out.some((r) => r.workflowId === wf.workflowId)) continue;
      try {
        // A daemon whose worker is down does not answer; don't wait for it long.
        const status = await client.withDeadline(Date.now() + 5000, () => client.workflow.getHandle(wf.workflowId).query(statusQuery));
        out.push({ workflowId: wf.workflowId, status });
      } catch (err) {
        out.push({ workflowId: wf.workflowId, error: (err as Error).message.split('\n')[0] as string });
      }
    }
    return out.sort((a, b) => a.workflowId.localeCompare(b.workflowId));
  });
  if (json) return printJson({ daemons: rows });
  printTable(
    ['daemon', 'host', 'fixes', 'iteration/loop', 'last loop', 'health', 'open incidents'],
    rows.map(({ workflowId, status: s, error }) =>
      s
        ? [workflowId, s.host ?? '', s.paused ? 'PAUSED' : 'active', `${s.iteration}/${s.loop}`, s.lastLoopAt ?? '—', s.lastHealth?.overall ?? '—', Object.keys(s.openIncidents).join(', ') || '—']
        : [workflowId, '', `no answer: ${error}`, '', '', '', ''],
    ),
  );
}

/** Sends a signal to the daemon, with a clear error when it is not running. */
async function signalDaemon(o: HostOptions, send: (h: ReturnType<import('@temporalio/client').Client['workflow']['getHandle']>) => Promise<void>): Promise<string> {
  const { workflowId } = ids(o);
  await withClient(async (client) => {
    try {
      await send(client.workflow.getHandle(workflowId));
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new CliError(`the daemon ${workflowId} is not running; start it with \`npm start\` or \`bin/autofix run --continuous\``, 1);
      throw err;
    }
  });
  return workflowId;
}

/** Registers run/pause/resume/run-now/status/stop. */
export function registerDaemonCommands(program: Command): void {
  const runCmd = hostOpt(
    program
      .command('run')
      .description('One detection cycle (detect and fix, then print a summary); --continuous starts or attaches to the daemon')
      .option('--continuous', 'continuous monitoring: loop-count loops, then wait-minutes, forever (runs the worker here when none serves the queue)')
      .option('--config <path>', 'config file of the worker run here (a running worker uses its own)')
      .option('--log-file <path>', 'auto_fix.log path of the worker run here (a running worker uses its own)')
      .option('--attach', 'with --continuous: only start or attach to the daemon, never run a worker here (scripts, docker-compose)')
      .option('--json', 'print JSON'),
  );
  loopOptions(runCmd).action(async (o: RunOptions) => {
    if (o.config) loadConfig(o.config); // fail fast (exit 2) on a bad config, before anything starts
    if (o.continuous) return await runContinuous(o);
    const { taskQueue, host } = ids(o);
    const summary = await withLocalServer(
      ({ temporary, stopping }) =>
        withClient((client) =>
          executeWithWorker<DaemonSummary>(
            client,
            taskQueue,
            { ...(o.config ? { configPath: path.resolve(o.config) } : {}), ...(o.logFile ? { logFile: path.resolve(o.logFile) } : {}) },
            () =>
              client.workflow.start<typeof autoFixDaemon>('autoFixDaemon', {
                workflowId: `autofix-run-${new Date().toISOString().replace(/[:.]/g, '')}`,
                taskQueue,
                args: [{ once: true, ...(host ? { host } : {}) }],
              }),
            // On a temporary server no other worker can serve the run: no need to wait for one.
            temporary ? { waitMs: 0, stopping } : {},
          ),
        ),
      {
        note: (line) => process.stderr.write(`[autofix] ${line}\n`),
        // Read only when a temporary server is considered: a run on a server uses that server's worker.
        dataDir: () => loadConfig(path.resolve(o.config ?? process.env.AUTOFIX_CONFIG ?? DEFAULT_CONFIG_PATH)).daemon.data_dir,
      },
    );
    if (o.json) printJson(summary);
    else printSummary(summary);
  });

  hostOpt(program.command('pause').description('Pause fixes (detection and alerts go on)'))
    .option('--reason <text>', 'why (shown in status)')
    .option('--minutes <n>', 'resume by itself after this many minutes', num('--minutes'))
    .action(async (o: HostOptions & { reason?: string; minutes?: number }) => {
      const id = await signalDaemon(o, (h) => h.signal(pauseFixesSignal, { ...(o.reason ? { reason: o.reason } : {}), ...(o.minutes ? { minutes: o.minutes } : {}) }));
      process.stdout.write(`fixes paused on ${id}${o.minutes ? ` for ${o.minutes} min` : ''}\n`);
    });
  hostOpt(program.command('resume').description('Resume fixes')).action(async (o: HostOptions) => {
    process.stdout.write(`fixes resumed on ${await signalDaemon(o, (h) => h.signal(resumeFixesSignal))}\n`);
  });
  hostOpt(program.command('run-now').description('Cut the current wait short and run a loop now')).action(async (o: HostOptions) => {
    process.stdout.write(`woke ${await signalDaemon(o, (h) => h.signal(runNowSignal))}\n`);
  });
  hostOpt(program.command('reload').description("Make the daemon's worker re-read its config file now (it also notices edits by itself)"))
    .option('--json', 'print JSON')
    .action(async (o: HostOptions & { json?: boolean }) => {
      const { workflowId } = ids(o);
      const r = await withClient(async (client) => {
        try {
          return await client.workflow.getHandle(workflowId).executeUpdate(reloadConfigUpdate, { args: [{}] });
        } catch (err) {
          if (err instanceof WorkflowNotFoundError) throw new CliError(`the daemon ${workflowId} is not running; start it with \`npm start\``, 1);
          throw new CliError(rootMessage(err), 2);
        }
      });
      if (o.json) printJson(r);
      else process.stdout.write(`${r.changed ? 'reloaded' : 'unchanged'}: ${r.source} (${r.patterns} patterns)\n`);
    });
  hostOpt(program.command('stop').description('Stop the daemon workflow gracefully (running fixes finish)')).action(async (o: HostOptions) => {
    process.stdout.write(`stop requested for ${await signalDaemon(o, (h) => h.signal(stopSignal))}\n`);
  });
  hostOpt(program.command('status').description('The daemon\'s status (table; --json for JSON)'))
    .option('--json', 'print JSON')
    .option('--all', 'every running daemon (all hosts), one line each')
    .action(async (o: HostOptions & { json?: boolean; all?: boolean }) => {
      if (o.all) return await printAllStatuses(!!o.json);
      const { workflowId } = ids(o);
      const status = await withClient(async (client) => {
        try {
          return await client.workflow.getHandle(workflowId).query(statusQuery);
        } catch (err) {
          if (err instanceof WorkflowNotFoundError) throw new CliError(`the daemon ${workflowId} does not exist; start it with \`npm start\``, 1);
          if (isUnavailable(err)) throw new CliError(unreachable(temporalTarget().address, err).message, 1); // it went away meanwhile
          throw new CliError(`could not query ${workflowId}: ${(err as Error).message} (is a worker running? \`npm start\` or \`bin/autofix worker\`)`, 1);
        }
      });
      if (o.json) printJson(status);
      else printStatus(status, workflowId);
    });
}
