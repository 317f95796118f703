/**
 * log_rotate: files over max_bytes are rotated f → f.1 (gzip'd to f.1.gz when `compress`),
 * older generations shifted, at most `keep` kept. Two modes (src/rotation/):
 *
 * - "create" (`copy_truncate: false`, recommended): the log is moved to f.1 and a new empty f
 *   takes its name at once; the writer is told to reopen it (`reopen`: a signal to the service
 *   under the kill-safety rules, or a `postrotate` argv; one is required). f.1 is compressed only
 *   once no process has it open for writing. No line is lost.
 * - copy-truncate (default, works with any writer): the copy is fsynced and caught up before a
 *   synchronous last read + truncate; a few microseconds remain in which an appended line is lost
 *   (measured in docs/benchmarks.md).
 *
 * A rotation is never undone: it removes nothing but the generation past `keep` (as configured),
 * so compensation leaves it (the action frees space; src/backup/space.ts), and nothing ever puts
 * a new inode under a log a writer holds. On a full disk the generation is written through the
 * backup's content copy (src/rotation/spill.ts). An interrupted attempt is completed by the next
 * one (a move cut between link and rename, a spill journal, a generation left to compress).
 *
 * Everything happens through fds (src/fs-safe): the log's directory is reached from the pinned
 * managed root and checked to be the one the plan globbed; generations are renamed by name
 * inside it; the log is opened O_NOFOLLOW, compared with the planned inode, refused when
 * hard-linked.
 */
import path from 'node:path';
import { identityOf, withRoots, type DirCursor, type DirHandle, type Root } from '../fs-safe';
import { writersOf } from '../proc';
import { errnoCode } from '../safety/errors';
import { copyTruncate } from '../rotation/copy-truncate';
import { compressGeneration, finishInterruptedMove, moveAndCreate } from '../rotation/create';
import { buildPlan, dirOf, pathOf, stepsOf, targetsOf, withCursors, type FilePlan, type Plan, type Spec } from '../rotation/plan';
import { reopenWriters, waitReleased } from '../rotation/reopen';
import { finishSpills, rotateThroughBackup } from '../rotation/spill';
import { isNoSpace, type RotatedLog } from '../rotation/types';
import type { ActionContext, ActionDefinition } from './types';

/** Applies the shifts; refuses to delete (or overwrite) a generation a process still writes to. */
async function shift(dir: DirHandle, f: FilePlan): Promise<string[]> {
  const changed: string[] = [];
  for (const x of f.shifts.filter((s) => s.to === null)) {
    const st = await dir.lstat(x.from);
    const holders = st?.isFile() ? await writersOf(identityOf(st)) : [];
    if (holders.length > 0) throw new HeldError(`${pathOf(f, x.from)} is still written by pid ${holders.join(', ')}; deleting it would lose those lines (is its writer told to reopen its log?)`);
  }
  for (const x of f.shifts) {
    // Names inside the pinned directory: a symlink planted here is moved or removed, never followed.
    if (x.to) await dir.rename(x.from, x.to).catch((e: unknown) => (errnoCode(e) === 'ENOENT' ? undefined : Promise.reject(e)));
    else await dir.unlink(x.from);
    changed.push(pathOf(f, x.from));
    if (x.to) changed.push(pathOf(f, x.to));
  }
  return changed;
}

/** A file left unrotated because rotating it now would lose lines. */
class HeldError extends Error {}

/** What one run did, per file. */
interface Outcome {
  changed: string[];
  rotated: Array<{ file: string; bytes: number; to: string }>;
  notes: string[];
}

/** True for a refusal (a failure type no retry changes). */
const isRefusal = (e: unknown) => (e as { type?: string } | null)?.type === 'RefusedError';

/**
 * On a full disk: rotates through the backup's content copy (spill.ts). Returns the bytes
 * rotated, or undefined with a note when there is no usable copy (the file stays as it is).
 */
async function throughBackup(ctx: ActionContext, dir: DirHandle, f: RotatedLog, source: string, release: 'truncate' | 'unlink', gzip: boolean, out: Outcome): Promise<number | undefined> {
  if (!ctx.backup) {
    out.notes.push(`${f.file}: no space for ${f.newest} and no backup to rotate through (backup_before_fix is off); left as it is`);
    return undefined;
  }
  try {
    const bytes = await rotateThroughBackup(dir, f, { stepDir: ctx.backup.step, source, release, gzip, generation: f.newest, signal: ctx.signal });
    out.notes.push(`${f.file}: no space for ${f.newest}; written from the backup's copy after the space was released`);
    return bytes;
  } catch (e) {
    if (!isRefusal(e)) throw e;
    out.notes.push((e as Error).message);
    return undefined;
  }
}

/** Copy-truncate one file; on a full disk, through the backup's copy. */
async function rotateCopyTruncate(ctx: ActionContext, dir: DirHandle, f: FilePlan, gzip: boolean, out: Outcome): Promise<void> {
  try {
    const r = await copyTruncate(dir, f, { gzip, signal: ctx.signal });
    if (r) out.rotated.push({ file: f.file, bytes: r.copied, to: pathOf(f, f.newest) });
  } catch (e) {
    if (!isNoSpace(e)) throw e;
    const bytes = await throughBackup(ctx, dir, f, f.name, 'truncate', gzip, out);
    if (bytes !== undefined) out.rotated.push({ file: f.file, bytes, to: pathOf(f, f.newest) });
  }
}

/** Compresses a released f.1 into f.1.gz; on a full disk through the backup's copy when it has one. */
async function compressReleased(ctx: ActionContext, dir: DirHandle, f: RotatedLog, moved: string, out: Outcome): Promise<boolean> {
  try {
    return (await compressGeneration(dir, moved, f.id, f.newest, ctx.signal)) !== undefined;
  } catch (e) {
    if (!isNoSpace(e)) throw e;
    return (await throughBackup(ctx, dir, f, moved, 'unlink', true, out)) !== undefined;
  }
}

/**
 * Work an earlier attempt (or rotation) left: spill journals of this step, a move cut between
 * link and rename, and — create mode — an uncompressed f.1 to compress once released (its writer
 * told again to reopen when it still holds it).
 */
async function finishEarlier(ctx: ActionContext, plan: Plan, cursors: Map<Root, DirCursor>, out: Outcome): Promise<void> {
  const s = plan.settings;
  let reopened = false;
  for (const log of plan.logs) {
    const dir = await dirOf(log, plan, cursors);
    if (ctx.backup) out.changed.push(...(await finishSpills(dir, path.dirname(log.file), ctx.backup.step, ctx.signal)));
    const moved = `${log.name}.1`;
    if (await finishInterruptedMove(dir, log.name, moved, log)) out.notes.push(`${log.file}: finished a rotation cut short between its two steps`);
    if (!s.compress || s.copy_truncate) continue;
    const st = await dir.lstat(moved);
    if (!st?.isFile() || (await dir.lstat(`${log.name}.1.gz`))) continue;
    let holders = await writersOf(identityOf(st));
    if (holders.length > 0 && !reopened) {
      out.notes.push(...(await reopenWriters(ctx.config, ctx.signal)));
      reopened = true;
      holders = await waitReleased(identityOf(st), s.reopen_wait_seconds * 1000, ctx.signal);
    }
    if (holders.length > 0) {
      out.notes.push(`${pathOf(log, moved)}: still written by pid ${holders.join(', ')}; compressed by a later rotation`);
      continue;
    }
    if (await compressReleased(ctx, dir, { ...log, id: identityOf(st), size: st.size, newest: `${log.name}.1.gz` }, moved, out)) {
      out.changed.push(pathOf(log, moved), pathOf(log, `${log.name}.1.gz`));
    }
  }
}

/** Create mode: move every file, one reopen step, then compress each generation once released. */
async function rotateCreate(ctx: ActionContext, plan: Plan, cursors: Map<Root, DirCursor>, out: Outcome): Promise<void> {
  const s = plan.settings;
  const moved: Array<{ f: FilePlan; dir: DirHandle }> = [];
  for (const f of plan.files) {
    ctx.signal.throwIfAborted();
    const dir = await dirOf(f, plan, cursors);
    if (!(await shiftOrSkip(dir, f, out))) continue;
    if (!(await moveAndCreate(dir, f, `${f.name}.1`))) continue;
    moved.push({ f, dir });
    out.changed.push(f.file, pathOf(f, `${f.name}.1`));
  }
  if (moved.length === 0) return;
  out.notes.push(...(await reopenWriters(ctx.config, ctx.signal)));
  for (const { f } of moved) {
    const dir = await dirOf(f, plan, cursors);
    const holders = await waitReleased(f.id, s.reopen_wait_seconds * 1000, ctx.signal);
    let compressed = false;
    if (s.compress && holders.length === 0) compressed = await compressReleased(ctx, dir, f, `${f.name}.1`, out);
    else if (s.compress) out.notes.push(`${f.file}.1: still written by pid ${holders.join(', ')} after ${s.reopen_wait_seconds}s; left uncompressed (a later rotation compresses it)`);
    if (compressed) out.changed.push(pathOf(f, f.newest));
    out.rotated.push({ file: f.file, bytes: f.size, to: pathOf(f, compressed ? f.newest : `${f.name}.1`) });
  }
}

/** Shifts the generations of `f`; false (with a note) when that would lose lines. */
async function shiftOrSkip(dir: DirHandle, f: FilePlan, out: Outcome): Promise<boolean> {
  try {
    out.changed.push(...(await shift(dir, f)));
    return true;
  } catch (e) {
    if (!(e instanceof HeldError)) throw e;
    out.notes.push(`${f.file}: not rotated: ${e.message}`);
    return false;
  }
}

/** Rotates configured log files that grew over max_bytes. */
export const logRotate: ActionDefinition<Spec> = {
  type: 'log_rotate',
  mutates: true,
  freesSpace: true,
  async plan(ctx, spec) {
    const plan = await withRoots(ctx.config.managed.roots, (roots) => buildPlan(ctx, spec, roots));
    return { steps: stepsOf(plan), targets: targetsOf(plan) };
  },
  async run(ctx, spec) {
    const out: Outcome = { changed: [], rotated: [], notes: [] };
    const plan = await withRoots(ctx.config.managed.roots, async (roots) => {
      await withCursors(async (cursors) => finishEarlier(ctx, await buildPlan(ctx, spec, roots), cursors, out));
      const plan = await buildPlan(ctx, spec, roots);
      await withCursors(async (cursors) => {
        if (!plan.settings.copy_truncate) return rotateCreate(ctx, plan, cursors, out);
        for (const f of plan.files) {
          ctx.signal.throwIfAborted();
          const dir = await dirOf(f, plan, cursors);
          if (!(await shiftOrSkip(dir, f, out))) continue;
          await rotateCopyTruncate(ctx, dir, f, plan.settings.compress, out);
          out.changed.push(f.file, pathOf(f, f.newest));
        }
      });
      return plan;
    });
    for (const r of out.rotated) ctx.log('INFO', `log_rotate: rotated ${r.file} (${r.bytes} bytes) → ${r.to}`);
    for (const n of out.notes) ctx.log('WARNING', `log_rotate: ${n}`);
    const { rotated } = out;
    const summary = rotated.length ? `rotated ${rotated.length} log file(s): ${rotated.map((r) => r.file).join(', ')}` : `no log file over ${plan.settings.maxBytes} bytes`;
    const s = plan.settings;
    return {
      type: 'log_rotate',
      summary: out.notes.length ? `${summary}; ${out.notes.length} note(s): ${out.notes.join('; ').slice(0, 300)}` : summary,
      changed: [...new Set(out.changed)],
      details: { rotated, notes: out.notes, skipped: plan.skipped, maxBytes: s.maxBytes, keep: s.keep, compress: s.compress, copyTruncate: s.copy_truncate },
    };
  },
};
