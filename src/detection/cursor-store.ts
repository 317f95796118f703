/**
 * Log cursors on disk: `<data_dir>/state/log-cursors.json` (0600 in a 0700 folder), so a one-shot
 * `autofix run` and a daemon started again continue where the last scan stopped instead of
 * reading yesterday's errors again.
 *
 * Which copy counts. A running daemon carries its cursors in its workflow state, and that state
 * stays authoritative: it moves forward only when a loop's result is recorded in the history, so a
 * worker killed (SIGKILL) after a scan but before its result was recorded re-runs that loop from
 * the same place — nothing is lost and nothing counted twice. The disk copy is written by every
 * scan and only *seeds* a run that starts without state (a new daemon, a one-shot run). Were the
 * disk copy authoritative instead, that killed loop would start after the lines it had read and
 * lose them.
 *
 * The disk record also says which loop wrote it and where that loop started, so a retry of that
 * very loop (the worker killed in a daemon's first loop, where the state has no cursors yet)
 * starts from the same place again instead of from the killed attempt's end.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { writePrivateJson } from '../util/private-dir';
import { serialize } from '../logging/rotating-append';
import type { LogCursors } from './types';

/** One loop of one workflow run: what a retry of the same loop has in common with its first attempt. */
export interface LoopIdentity {
  workflowId: string;
  runId: string;
  iteration: number;
  loop: number;
}

const cursorSchema = z.object({
  dev: z.number(),
  ino: z.number(),
  offset: z.number().int().nonnegative(),
  line: z.number().int().nonnegative(),
});
const cursorsSchema = z.record(z.string(), cursorSchema);

const recordSchema = z.object({
  v: z.literal(1),
  /** Epoch ms the scan that wrote this started. */
  at: z.number(),
  /** The `newSince` that scan used (a retry uses it again). */
  since: z.number().optional(),
  by: z.object({ workflowId: z.string(), runId: z.string(), iteration: z.number(), loop: z.number() }).optional(),
  /** Where that scan started (its input cursors and the starts it chose for new files). */
  from: cursorsSchema,
  /** Where it stopped: the seed of the next run that starts without state. */
  to: cursorsSchema,
  /** The fingerprint at each `to` cursor (cursor-signature.ts). */
  signatures: z.record(z.string(), z.string()).default({}),
});

/** The disk copy of the cursors and the scan that wrote it. */
export type CursorRecord = z.input<typeof recordSchema>;

/** The cursor file under `data_dir`. */
export function cursorFile(dataDir: string): string {
  return path.join(dataDir, 'state', 'log-cursors.json');
}

/**
 * Reads the disk copy. Missing: `{}`. Unreadable or not a cursor record: `{ problem }` (the caller
 * says so once; the logs are then read as if seen for the first time — from their end by default).
 */
export async function readCursorRecord(dataDir: string): Promise<{ record?: CursorRecord; problem?: string }> {
  let text: string;
  try {
    text = await readFile(cursorFile(dataDir), 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? {} : { problem: `cannot read ${cursorFile(dataDir)}: ${code ?? String(e)}` };
  }
  try {
    const r = recordSchema.safeParse(JSON.parse(text));
    return r.success ? { record: r.data } : { problem: `${cursorFile(dataDir)} is not a cursor record; starting without it` };
  } catch {
    return { problem: `${cursorFile(dataDir)} is not valid JSON; starting without it` };
  }
}

/** Replaces the disk copy atomically (0600, folder 0700); writers in this process take turns. */
export async function writeCursorRecord(dataDir: string, record: CursorRecord): Promise<void> {
  const file = cursorFile(dataDir);
  await serialize(file, () => writePrivateJson(file, record));
}

/** What one loop knows when it starts: its identity and the cursors its workflow state carries. */
export interface LoopStart {
  /** Absent outside a workflow (then a loop is never taken for a retry). */
  identity?: LoopIdentity;
  /** The workflow state's cursors. */
  cursors: LogCursors;
}

function sameLoop(a: LoopIdentity, b: LoopIdentity): boolean {
  return a.workflowId === b.workflowId && a.runId === b.runId && a.iteration === b.iteration && a.loop === b.loop;
}

/**
 * Where a loop's scan starts, and since when a file counts as new (see the module comment):
 * - a retry of the loop that wrote the disk copy: where that attempt started;
 * - a run's later loops, and every loop after continue-as-new: the workflow state;
 * - the first loop of a run without state (a new daemon, a one-shot run): the disk copy's end.
 * Pure: decided from the loop and the record only.
 *
 * @example startingCursors({ identity, cursors: {} }, record) // { from: record.to } on a daemon's first loop
 */
export function startingCursors(loop: LoopStart, record?: CursorRecord): { from: LogCursors; since?: number } {
  const by = record?.by;
  const id = loop.identity;
  if (record && by && id && sameLoop(by, id)) return { from: { ...record.from, ...loop.cursors }, ...(record.since !== undefined ? { since: record.since } : {}) };
  const fresh = id ? id.iteration === 1 && id.loop === 1 : Object.keys(loop.cursors).length === 0;
  if (fresh && !(by && id && by.runId === id.runId)) return { from: record?.to ?? {} };
  return { from: loop.cursors, ...(record ? { since: record.at } : {}) };
}

/**
 * The fingerprints recorded for the cursors a loop starts from: only where the start is exactly
 * the recorded `to` cursor (the same file, identity and offset), so a fingerprint is never
 * checked against a position it was not taken at.
 *
 * @example signaturesFor(from, record) // { '/srv/logs/app.log': 'f3a9c0e14b7d2a55' }
 */
export function signaturesFor(from: LogCursors, record?: CursorRecord): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [file, sig] of Object.entries(record?.signatures ?? {})) {
    const a = Object.hasOwn(from, file) ? from[file] : undefined;
    const b = record && Object.hasOwn(record.to, file) ? record.to[file] : undefined;
    if (a && b && a.dev === b.dev && a.ino === b.ino && a.offset === b.offset) out[file] = sig;
  }
  return out;
}
