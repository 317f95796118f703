/**
 * `autofix replay <workflowId | history.json> [...]` and `autofix replay --since 7d`: replays
 * recorded histories against the current workflow code with the SDK's replayer, so a change that
 * would break running workflows is caught before it ships.
 */
import type { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import type { ReplayWorkerOptions } from '@temporalio/worker';
import type { HistoryAndWorkflowId } from '@temporalio/client';
import { workflowCode } from '../../worker/bundle-path';
import { withClient } from '../client';
import { CliError, printJson, printTable } from '../output';
import { parseDuration } from '../duration';

/** Replay options: the same workflow code a worker of this build runs. */
export function replayOptions(workflowsPath?: string): ReplayWorkerOptions {
  return workflowCode(workflowsPath);
}

/** A history exported by `temporal workflow show --output json` (or fetched), with its id. */
export function readHistoryFile(file: string): HistoryAndWorkflowId {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new CliError(`${file}: not a JSON history (${(e as Error).message})`, 2);
  }
  // Our fixtures wrap the history with its workflow id; plain exports are the history itself.
  const wrapped = raw as { workflowId?: string; history?: unknown };
  const history = historyFromJSON(wrapped.history ?? raw);
  return { history, workflowId: wrapped.workflowId ?? path.basename(file, '.json') };
}

export interface ReplayOutcome {
  workflowId: string;
  ok: boolean;
  error?: string;
}

/** Replays histories and reports each; never throws for a failing history. */
export async function replayAll(histories: AsyncIterable<HistoryAndWorkflowId> | Iterable<HistoryAndWorkflowId>, workflowsPath?: string): Promise<ReplayOutcome[]> {
  // The worker package is heavy; load it only when replaying.
  const { Worker } = await import('@temporalio/worker');
  const out: ReplayOutcome[] = [];
  for await (const r of Worker.runReplayHistories(replayOptions(workflowsPath), histories)) {
    out.push({ workflowId: r.workflowId, ok: !r.error, ...(r.error ? { error: `${r.error.name}: ${r.error.message}` } : {}) });
  }
  return out;
}

/** Registers `replay`. */
export function registerReplayCommand(program: Command): void {
  program
    .command('replay [targets...]')
    .description('Replay workflow histories (ids or JSON files) against the current code; exit 1 on any non-determinism')
    .option('--since <duration>', 'replay every workflow started within this window (e.g. 7d)')
    .option('--json', 'print JSON')
    .action(async (targets: string[], o: { since?: string; json?: boolean }) => {
      if (targets.length === 0 && !o.since) throw new CliError('name workflow ids or history files, or use --since 7d', 2);
      const files = targets.filter((t) => t.endsWith('.json') || existsSync(t));
      const ids = targets.filter((t) => !files.includes(t));
      const results: ReplayOutcome[] = [];
      if (files.length) results.push(...(await replayAll(files.map(readHistoryFile))));
      if (ids.length || o.since) {
        await withClient(async (client) => {
          if (ids.length) {
            const hs: HistoryAndWorkflowId[] = [];
            for (const id of ids) hs.push({ workflowId: id, history: await client.workflow.getHandle(id).fetchHistory() });
            results.push(...(await replayAll(hs)));
          }
          if (o.since) {
            const since = new Date(Date.now() - parseDuration(o.since)).toISOString();
            const query = `StartTime > '${since}' AND (WorkflowType = 'autoFixDaemon' OR WorkflowType = 'remediationSaga')`;
            results.push(...(await replayAll(client.workflow.list({ query }).intoHistories())));
          }
        });
      }
      if (o.json) printJson({ results });
      else printTable(['workflow', 'replay'], results.map((r) => [r.workflowId, r.ok ? 'ok' : r.error]));
      const failed = results.filter((r) => !r.ok).length;
      if (!o.json) process.stdout.write(`${results.length - failed} ok, ${failed} failed\n`);
      if (failed) process.exitCode = 1;
    });
}
