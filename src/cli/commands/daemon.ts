/**
 * The seed's daemon commands: `run [--continuous]`, `pause`, `resume`, `run-now`, `status`, `stop`.
 * Each is a thin client of the `autoFixDaemon` workflow; the same operations work with the plain
 * `temporal` CLI (see README).
 */
import type { Command } from 'commander';
import { WorkflowIdConflictPolicy, WorkflowNotFoundError } from '@temporalio/client';
import type { autoFixDaemon } from '../../workflows/daemon';
import {
  pauseFixesSignal,
  resumeFixesSignal,
  runNowSignal,
  statusQuery,
  stopSignal,
  type DaemonInput,
  type DaemonStatus,
  type DaemonSummary,
} from '../../workflows/definitions';
import { daemonIds, executeWithWorker, resolveHost, withClient, workflowUrl, hasPollers, type HostOptions } from '../client';
import { CliError, printJson, printTable } from '../output';
import { loadConfig } from '../../config/load';
import path from 'node:path';

const num = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new CliError(`${name} must be a positive number, got "${v}"`, 2);
  return n;
};

interface RunOptions extends HostOptions {
  continuous?: boolean;
  config?: string;
  logFile?: string;
  loopCount?: number;
  waitMinutes?: number;
  loopInterval?: number;
  json?: boolean;
}

function hostOpt(cmd: Command): Command {
  return cmd
    .option('--host <name>', 'per-host daemon (autofix-daemon-<host> on task queue autofix-<host>); "auto" = this host')
    .option('--task-queue <name>', 'task queue (default autofix, or autofix-<host>)');
}

function ids(o: HostOptions) {
  return daemonIds({ ...o, ...(o.host ? { host: resolveHost(o.host) as string } : {}) });
}

/** Starts the daemon workflow idempotently (fixed id, conflict policy use-existing). */
export async function startDaemon(o: RunOptions): Promise<{ runId: string; workflowId: string; existed: boolean }> {
  const { workflowId, taskQueue, host } = ids(o);
  const input: DaemonInput = {
    ...(o.config ? { configPath: path.resolve(o.config) } : {}),
    ...(o.logFile ? { logFile: path.resolve(o.logFile) } : {}),
    ...(o.loopCount ? { loopCount: o.loopCount } : {}),
    ...(o.waitMinutes ? { waitMinutes: o.waitMinutes } : {}),
    ...(o.loopInterval ? { loopIntervalSeconds: o.loopInterval } : {}),
    ...(host ? { host } : {}),
  };
  return await withClient(async (client) => {
    const before = await client.workflow
      .getHandle(workflowId)
      .describe()
      .then((d) => (d.status.name === 'RUNNING' ? d.runId : undefined))
      .catch(() => undefined);
    const handle = await client.workflow.start<typeof autoFixDaemon>('autoFixDaemon', {
      workflowId,
      taskQueue,
      args: [input],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    });
    const runId = handle.firstExecutionRunId;
    if (!(await hasPollers(client, taskQueue))) {
      process.stderr.write(`warning: no worker polls task queue "${taskQueue}" yet; start one with \`npm start\` or \`bin/autofix worker\`.\n`);
    }
    return { runId, workflowId, existed: before !== undefined };
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
  hostOpt(
    program
      .command('run')
      .description('One detection cycle (detect and fix, then print a summary); --continuous starts or attaches to the daemon')
      .option('--continuous', 'continuous monitoring: loop-count loops, then wait-minutes, forever')
      .option('--config <path>', 'config file (default: the worker\'s, config/error_patterns.json)')
      .option('--log-file <path>', 'auto_fix.log path (default <data_dir>/logs/auto_fix.log)')
      .option('--loop-count <n>', 'loops per iteration (default 15)', num('--loop-count'))
      .option('--wait-minutes <n>', 'minutes to wait between iterations (default 5; fractions allowed)', num('--wait-minutes'))
      .option('--loop-interval <s>', 'seconds between loops (default 30)', num('--loop-interval'))
      .option('--json', 'print JSON'),
  ).action(async (o: RunOptions) => {
    if (o.config) loadConfig(o.config); // fail fast (exit 2) on a bad config, before anything starts
    if (o.continuous) {
      const r = await startDaemon(o);
      const out = { workflowId: r.workflowId, runId: r.runId, attached: r.existed, webUi: workflowUrl(r.workflowId) };
      if (o.json) printJson(out);
      else process.stdout.write(`${r.existed ? 'attached to the running daemon' : 'daemon started'}: ${r.workflowId}\nWeb UI: ${out.webUi}\n`);
      return;
    }
    const { taskQueue, host } = ids(o);
    const summary = await withClient((client) =>
      executeWithWorker<DaemonSummary>(client, taskQueue, o.config ? path.resolve(o.config) : undefined, () =>
        client.workflow.start<typeof autoFixDaemon>('autoFixDaemon', {
          workflowId: `autofix-run-${new Date().toISOString().replace(/[:.]/g, '')}`,
          taskQueue,
          args: [
            {
              once: true,
              ...(o.config ? { configPath: path.resolve(o.config) } : {}),
              ...(o.logFile ? { logFile: path.resolve(o.logFile) } : {}),
              ...(host ? { host } : {}),
            },
          ],
        }),
      ),
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
          throw new CliError(`could not query ${workflowId}: ${(err as Error).message} (is a worker running? \`npm start\` or \`bin/autofix worker\`)`, 1);
        }
      });
      if (o.json) printJson(status);
      else printStatus(status, workflowId);
    });
}
