/**
 * Copy-truncate rotation with a narrow window. The log is copied (gzip'd when asked) into a new
 * generation, which is fsynced and renamed into place; what the writer appended meanwhile is
 * copied after it (catch-up, as many times as it takes to get the tail small); then the last tail
 * is read and the log truncated synchronously, back to back. Only what the writer appends in the
 * microseconds between that last read and ftruncate(2) is lost — measured in docs/benchmarks.md,
 * as logrotate documents its own copytruncate window. "Create" mode with a reopen step loses
 * nothing (create.ts) and is what the docs recommend.
 *
 * Nothing is truncated unless the whole content is in the committed generation: any failure
 * before the truncate (ENOSPC included) removes the generation and leaves the log as it was.
 */
import { openFileAt, type DirHandle } from '../fs-safe';
import { GenerationWriter, SYNC_TAIL_BYTES } from './generation';
import type { RotatedLog } from './types';

const MAX_CATCH_UPS = 20;

/** The outcome: bytes copied into the generation; undefined when the log was gone. */
export interface CopyTruncateResult {
  copied: number;
  /** Catch-up passes after the main copy. */
  catchUps: number;
}

/**
 * Rotates `f` in copy-truncate mode in its pinned directory (see the module comment). Throws
 * (ENOSPC included) with the log untouched.
 *
 * @example await copyTruncate(dir, plannedLog, { gzip: true, signal });
 */
export async function copyTruncate(dir: DirHandle, f: RotatedLog, opts: { gzip: boolean; signal?: AbortSignal }): Promise<CopyTruncateResult | undefined> {
  const log = await openFileAt(dir, f.name, { write: true, expect: f.id, singleLinkFor: 'copy and truncate it' });
  if (!log) return undefined; // gone since the plan (rotated by someone else): nothing to do
  let gen: GenerationWriter | undefined;
  let truncated = false;
  try {
    gen = await GenerationWriter.open(dir, f.newest, opts.gzip);
    let pos = await gen.appendFrom(log.fh, 0, opts.signal);
    let catchUps = 0;
    await gen.commit(f); // the copy is on disk before anything is truncated
    // A writer faster than the copy would keep this going: after MAX_CATCH_UPS the rest is read synchronously.
    for (; catchUps < MAX_CATCH_UPS; ) {
      const size = (await log.fh.stat()).size;
      if (size - pos <= SYNC_TAIL_BYTES) break;
      pos = await gen.appendFrom(log.fh, pos, opts.signal);
      catchUps++;
    }
    pos = gen.appendRestAndTruncateSync(log.fh.fd, pos);
    truncated = true;
    await gen.sync();
    return { copied: pos, catchUps: catchUps + 1 };
  } finally {
    await gen?.close(truncated);
    await log.fh.close();
  }
}
