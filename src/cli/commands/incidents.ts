/**
 * Incidents from Temporal visibility and history: `incidents` (list), `incident show` (timeline),
 * `incident retry` (a new saga linked to the old one) and `fix` (a manual fix).
 */
import type { Command } from 'commander';
import path from 'node:path';
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import type { remediationSaga } from '../../workflows/saga';
import { statusQuery, type SagaInput, type SagaResult } from '../../workflows/definitions';
import { AutofixHost, AutofixOutcome, AutofixPattern, AutofixSeverity, AutofixTarget, incidentSearchAttributes } from '../../workflows/search-attributes';
import { loadConfig } from '../../config/load';
import { PATTERN_ID } from '../../config/schema';
import { FailureType, isFailureType } from '../../errors';
import { daemonIds, executeWithWorker, resolveHost, withClient, workflowUrl } from '../client';
import { CliError, printJson, printTable, rootMessage } from '../output';
import { incidentTimeline } from './incident-timeline';
import { parseDuration } from '../duration';

const quote = (v: string) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** The visibility query of `autofix incidents`. */
export function incidentsQuery(o: { sinceMs: number; pattern?: string; outcome?: string; host?: string; now?: number }): string {
  const since = new Date((o.now ?? Date.now()) - o.sinceMs).toISOString();
  const parts = [`AutofixKind = 'incident'`, `StartTime > ${quote(since)}`];
  if (o.pattern) parts.push(`AutofixPattern = ${quote(o.pattern)}`);
  if (o.outcome) parts.push(`AutofixOutcome = ${quote(o.outcome)}`);
  if (o.host !== undefined) parts.push(o.host ? `AutofixHost = ${quote(o.host)}` : 'AutofixHost IS NULL');
  return parts.join(' AND ');
}

interface IncidentRow {
  incidentId: string;
  startedAt: string;
  pattern?: string;
  severity?: string;
  outcome?: string;
  host?: string;
  target?: string;
  durationSeconds?: number;
  status: string;
  webUi: string;
}

function toRow(wf: WorkflowExecutionInfo): IncidentRow {
  const sa = wf.typedSearchAttributes;
  const row: IncidentRow = { incidentId: wf.workflowId, startedAt: wf.startTime.toISOString(), status: wf.status.name, webUi: workflowUrl(wf.workflowId) };
  const set = <K extends keyof IncidentRow>(k: K, v: IncidentRow[K] | undefined) => {
    if (v !== undefined) row[k] = v;
  };
  set('pattern', sa.get(AutofixPattern));
  set('severity', sa.get(AutofixSeverity));
  set('outcome', sa.get(AutofixOutcome));
  set('host', sa.get(AutofixHost));
  set('target', sa.get(AutofixTarget));
  if (wf.closeTime) row.durationSeconds = Math.round((wf.closeTime.getTime() - wf.startTime.getTime()) / 100) / 10;
  return row;
}

/** Lists incidents matching the query, newest first. */
export async function listIncidents(client: Client, query: string, limit = 500): Promise<IncidentRow[]> {
  const rows: IncidentRow[] = [];
  for await (const wf of client.workflow.list({ query })) {
    rows.push(toRow(wf));
    if (rows.length >= limit) break;
  }
  return rows.sort((a, b) => b.startedAt.localeCompare(a.startedAt));
}

/**
 * Starts a saga (through a worker, in-process if none polls) and waits for its result. The
 * worker's config decides what runs; a pattern it does not name ends in a clear refusal (exit 2).
 */
async function runSaga(client: Client, input: SagaInput, taskQueue: string, configPath: string | undefined): Promise<SagaResult> {
  try {
    return await executeWithWorker<SagaResult>(client, taskQueue, configPath ? { configPath } : {}, () =>
      client.workflow.start<typeof remediationSaga>('remediationSaga', {
        workflowId: input.incidentId,
        taskQueue,
        args: [input],
        typedSearchAttributes: incidentSearchAttributes(input.patternId, undefined, input.host),
      }),
    );
  } catch (err) {
    if (err instanceof WorkflowFailedError && isFailureType(err, FailureType.InvalidInput)) {
      throw new CliError(rootMessage(err), 2);
    }
    throw err;
  }
}

function printSaga(r: SagaResult): void {
  printTable(['#', 'action', 'status', 'summary', 'backup'], r.steps.map((s) => [s.index, s.type, s.status, s.summary, s.backup ?? '']));
  if (r.verification) process.stdout.write(`verification: ${r.verification.ok ? 'ok' : 'FAILED'} — ${r.verification.message}\n`);
  for (const c of r.compensations) process.stdout.write(`compensation: ${c.ok ? 'restored' : 'FAILED'} ${c.backup} — ${c.message}\n`);
  process.stdout.write(`outcome: ${r.outcome}${r.reason ? ` — ${r.reason}` : ''}\nWeb UI: ${workflowUrl(r.incidentId)}\n`);
}

// Milliseconds, so two manual fixes in the same second get distinct incident ids.
const stamp = () => new Date().toISOString().replace(/[-:]/g, '').replace('.', '');

/** Registers `incidents`, `incident show|retry` and `fix`. */
export function registerIncidentCommands(program: Command): void {
  program
    .command('incidents')
    .description('List incidents from Temporal visibility (newest first)')
    .option('--since <duration>', 'how far back (30m, 24h, 7d)', '24h')
    .option('--pattern <id>', 'only this pattern id')
    .option('--outcome <outcome>', 'fixed | failed_compensated | failed | skipped | running')
    .option('--host <name>', 'only this host ("auto" = this host)')
    .option('--all-hosts', 'every host (the default unless --host is given)')
    .option('--json', 'print JSON')
    .action(async (o: { since: string; pattern?: string; outcome?: string; host?: string; json?: boolean }) => {
      const host = resolveHost(o.host);
      const query = incidentsQuery({ sinceMs: parseDuration(o.since), ...(o.pattern ? { pattern: o.pattern } : {}), ...(o.outcome ? { outcome: o.outcome } : {}), ...(host ? { host } : {}) });
      const rows = await withClient((client) => listIncidents(client, query));
      if (o.json) return printJson({ query, incidents: rows });
      if (rows.length === 0) return void process.stdout.write(`no incidents (${query})\n`);
      printTable(
        ['when', 'incident', 'pattern', 'severity', 'outcome', 'host', 'duration', 'Web UI'],
        rows.map((r) => [r.startedAt, r.incidentId, r.pattern, r.severity, r.outcome ?? r.status, r.host, r.durationSeconds !== undefined ? `${r.durationSeconds}s` : '', r.webUi]),
      );
    });

  const incident = program.command('incident').description('One incident: its timeline, or a retry');
  incident
    .command('show <id>')
    .description("The incident's timeline: detection, each action with attempts and result, backups, verification, compensation, alerts")
    .option('--json', 'print JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      const timeline = await withClient(async (client) => {
        try {
          return await incidentTimeline(client, id);
        } catch (err) {
          if (err instanceof WorkflowNotFoundError) throw new CliError(`no incident ${id}`, 1);
          throw err;
        }
      });
      if (o.json) return printJson(timeline);
      printTable(['time', 'step', 'detail'], timeline.events.map((e) => [e.time, e.step, e.detail]));
      process.stdout.write(`outcome: ${timeline.outcome ?? timeline.status}\nWeb UI: ${workflowUrl(id)}\n`);
    });
  incident
    .command('retry <id>')
    .description('Run the remediation again as a new saga linked to the old one')
    .option('--dry-run', 'record what each action would do; touch nothing')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { dryRun?: boolean; json?: boolean }) => {
      const r = await withClient(async (client) => {
        const t = await incidentTimeline(client, id).catch((err: unknown) => {
          if (err instanceof WorkflowNotFoundError) throw new CliError(`no incident ${id}`, 1);
          throw err;
        });
        if (!t.input) throw new CliError(`incident ${id} has no recorded input to retry`, 1);
        // Only the ids are taken from the old incident: it runs again under the worker's current config.
        const old = t.input;
        const input: SagaInput = {
          incidentId: `${old.incidentId.replace(/-retry-\d{8}T\d{9}Z$/, '')}-retry-${stamp()}`,
          patternId: old.patternId,
          detection: old.detection,
          host: old.host,
          retryOf: id,
          startedBy: 'cli',
          dryRun: !!o.dryRun,
        };
        return await runSaga(client, input, t.taskQueue, undefined);
      });
      if (o.json) printJson(r);
      else printSaga(r);
    });

  program
    .command('fix <patternId>')
    .description('Run the remediation of one pattern now (a manual incident)')
    .option('--config <path>', 'config of the in-process worker when no worker serves the queue (a running worker uses its own)')
    .option('--dry-run', 'record what each action would do; touch nothing')
    .option('--host <name>', 'per-host task queue ("auto" = this host)')
    .option('--json', 'print JSON')
    .action(async (patternId: string, o: { config?: string; dryRun?: boolean; host?: string; json?: boolean }) => {
      if (!PATTERN_ID.test(patternId)) throw new CliError(`not a pattern id: "${patternId}"`, 2);
      if (o.config) loadConfig(path.resolve(o.config)); // fail fast (exit 2) on a bad file
      const { workflowId, taskQueue, host } = daemonIds(o.host ? { host: resolveHost(o.host) as string } : {});
      const r = await withClient(async (client) => {
        // Fixes never run while the daemon is paused: a manual fix then ends "skipped".
        const paused = await client.workflow
          .getHandle(workflowId)
          .query(statusQuery)
          .then((s) => s.paused)
          .catch(() => false);
        const input: SagaInput = {
          incidentId: `incident-${host ? `${host}-` : ''}${patternId}-manual-${stamp()}`,
          patternId,
          detection: { id: patternId, count: 0, source: 'log', samples: ['manual fix: autofix fix'] },
          host,
          dryRun: !!o.dryRun,
          paused,
          startedBy: 'cli',
        };
        return await runSaga(client, input, taskQueue, o.config ? path.resolve(o.config) : undefined);
      });
      if (o.json) printJson(r);
      else printSaga(r);
    });
}
