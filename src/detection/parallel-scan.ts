/**
 * Parallel scan of one big file from its start (`autofix scan`): the file is cut into byte ranges
 * at line starts, each range is scanned by a `worker_threads` Worker (scan-worker.ts: the same
 * `scanFile` over [start, end) in 1 MiB chunks, constant memory), and the per-range detections are
 * merged so the result is identical to the single-threaded scan (ids, counts, first/last line,
 * samples, order).
 *
 * The split rule (exact, not a heuristic). The only classifier state carried from one line to the
 * next is the open Python traceback (line-classifier.ts); the line count is fixed up at merge time.
 * A range therefore never starts at its nominal offset (size·k/N) but at a *sync point*: the start
 * of the first line L, after the first line start at or after the nominal offset, such that L and
 * the line P before it are both "plain" (`isPlainLine`: not blank, not indented, not a traceback
 * header, not a chained-traceback line). Whatever the state before P, after P either no traceback
 * is open or one is in its 'after' phase and L closes it before being classified as an ordinary
 * line. So:
 *   - the previous range ends at L: it reads past its nominal end through any traceback it started
 *     (the lines down to P), and its end-of-range `finish(final)` closes a traceback left in the
 *     'after' phase — the same event, with the same start line and sample, that L would close;
 *   - the next range starts at L with no traceback open, which is exactly the single-threaded
 *     state there; it never sees the continuation of the previous range's traceback.
 * The sync point is looked for in a window (1 MiB) after the nominal offset; if there is none
 * (a window of indented or blank lines only), that split is dropped and the two ranges are one.
 *
 * Merge: range k's line offset = the complete lines of ranges < k; per (pattern, file) counts add,
 * the first line and sample come from the earliest range that saw the pattern, the last ones from
 * the latest (`DetectionCollector.merge`), and detections keep first-seen order.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ErrorPattern } from '../config/schema';
import type { Matcher } from './matcher';
import type { LiteralRequirement } from './literals';
import type { Detection } from './types';
import type { DetectionCollector } from './collector';
import { isPlainLine } from './line-classifier';
import { openForReading } from '../fs-safe/read';

/** Files at least this big are scanned in parallel (smaller: worker start-up is not worth it). */
export const PARALLEL_MIN_BYTES = 64 * 1024 * 1024;
/**
 * Default cap on workers: each adds its own V8 heap, ~20 MiB RSS (`autofix scan` of a 128 MiB
 * log: 120 MiB peak RSS with 2 workers, 166 MiB with 4 — over the 150 MB budget). More can be
 * asked for explicitly (`autofix scan --workers N`).
 */
export const MAX_SCAN_WORKERS = 2;
/** Ranges per worker: workers take the next range when done, which evens out unequal cores. */
const RANGES_PER_WORKER = 4;
/** Bytes after a nominal split searched for a sync point. */
const SPLIT_WINDOW = 1024 * 1024;

/** Workers used by default: min(available cores, MAX_SCAN_WORKERS). */
export function defaultScanWorkers(): number {
  return Math.min(os.availableParallelism(), MAX_SCAN_WORKERS);
}

/** Options of the parallel scan. */
export interface ParallelScanOptions {
  /** Files smaller than this are scanned by one thread. @default PARALLEL_MIN_BYTES */
  parallelMinBytes?: number;
  /** Number of ranges/workers; ≤ 1 disables the parallel scan. @default defaultScanWorkers() */
  workers?: number;
}

/** What a range worker is started with (plain data: structured-cloned into the worker). */
export interface RangeWorkerData {
  kind: 'autofix-range-scan';
  file: string;
  /** The matcher's patterns, `sources` forced to ['log'] so the worker compiles the same set. */
  patterns: ErrorPattern[];
  /** Their literal requirements as the main thread derived them (empty clauses: no prefilter). */
  requirements: LiteralRequirement[];
  maxLineBytes: number;
  chunkBytes: number | undefined;
  progress: boolean;
}

/** One range to scan (main → worker); null = no more work, exit. */
export interface RangeJob {
  index: number;
  start: number;
  /** Exclusive end; null = to the end of the file (the last range, like the single-threaded scan). */
  end: number | null;
}

/** Messages from a range worker. */
export type RangeMessage =
  | { type: 'progress'; index: number; bytes: number }
  | { type: 'done'; index: number; detections: Detection[]; lines: number; offset: number };
type RangeDone = RangeMessage & { type: 'done' };

/**
 * The sync point (see the module comment) in `buf`, whose byte 0 is at file offset `base` and is
 * not known to be a line start; undefined when the window holds none.
 */
export function findSyncPoint(buf: Buffer, base: number, maxLineBytes: number): number | undefined {
  const first = buf.indexOf(10);
  if (first === -1) return undefined;
  let prevPlain = false;
  for (let ls = first + 1; ; ) {
    const le = buf.indexOf(10, ls);
    if (le === -1) return undefined;
    const plain = isPlainLine(buf, ls, le, maxLineBytes);
    if (plain && prevPlain) return base + ls;
    prevPlain = plain;
    ls = le + 1;
  }
}

/** Range starts: 0 then the sync points after size·k/n (dropped when none is found). */
export async function chooseRangeStarts(file: string, size: number, n: number, maxLineBytes: number, windowBytes = SPLIT_WINDOW): Promise<number[]> {
  const starts = [0];
  // Opened as the range scans open it: a symlink or FIFO swapped in is refused, not followed or waited on.
  const opened = await openForReading(file);
  if (!opened) throw Object.assign(new Error(`${file}: no such file`), { code: 'ENOENT' });
  const { fh } = opened;
  try {
    const buf = Buffer.allocUnsafe(windowBytes);
    for (let k = 1; k < n; k++) {
      // From the byte before the nominal offset, so a line starting exactly there is found.
      const from = Math.max(0, Math.floor((size * k) / n) - 1);
      const { bytesRead } = await fh.read(buf, 0, Math.min(windowBytes, size - from), from);
      const s = findSyncPoint(buf.subarray(0, bytesRead), from, maxLineBytes);
      if (s !== undefined && s > (starts[starts.length - 1] as number) && s < size) starts.push(s);
    }
  } finally {
    await fh.close();
  }
  return starts;
}

const WORKER_SCRIPT = path.join(__dirname, 'scan-worker.js');

/**
 * Runs the ranges on `workerCount` workers, each taking the next unscanned range when it is done
 * with one (so a worker slowed down by a busy core does not hold the whole scan up).
 */
function runRanges(starts: number[], workerCount: number, data: RangeWorkerData, onBytes: (index: number, bytes: number) => void): Promise<RangeDone[]> {
  const results: RangeDone[] = [];
  const workers: Worker[] = [];
  let next = 0;
  let finished = 0;
  return new Promise<RangeDone[]>((resolve, reject) => {
    const fail = (e: unknown) => {
      for (const w of workers) void w.terminate();
      reject(e);
    };
    for (let i = 0; i < Math.min(workerCount, starts.length); i++) {
      // A small young generation: the scan's garbage is short-lived and each worker's heap adds
      // to the process's RSS (see docs/benchmarks.md, scan).
      const w = new Worker(WORKER_SCRIPT, { workerData: data, resourceLimits: { maxYoungGenerationSizeMb: 8 } });
      workers.push(w);
      let busy = false;
      const feed = () => {
        const k = next++;
        busy = k < starts.length;
        w.postMessage(busy ? ({ index: k, start: starts[k] as number, end: starts[k + 1] ?? null } satisfies RangeJob) : null);
      };
      w.on('message', (m: RangeMessage) => {
        if (m.type === 'progress') return onBytes(m.index, m.bytes);
        results[m.index] = m;
        if (++finished === starts.length) resolve(results);
        feed();
      });
      w.on('error', fail);
      w.on('exit', (code) => {
        if (busy) fail(new Error(`scan worker exited with code ${code} during a range`));
      });
      feed();
    }
  });
}

/**
 * Scans `file` (of `size` bytes, from its start, tracebacks at the end closed) in ranges on worker
 * threads and merges the detections into `collector`. Returns false, having added nothing, when
 * the file cannot be split in ≥ 2 ranges or a worker fails: the caller then scans it on one
 * thread. File errors while choosing the splits are thrown as the single-threaded scan throws them.
 */
export async function scanFileParallel(
  file: string,
  size: number,
  matcher: Matcher,
  opts: { maxLineBytes?: number; chunkBytes?: number; onProgress?: (file: string, bytesRead: number, totalBytes: number) => void; workers: number },
  collector: DetectionCollector,
): Promise<boolean> {
  if (!fs.existsSync(WORKER_SCRIPT)) return false; // running from sources (no compiled worker)
  const maxLineBytes = opts.maxLineBytes ?? 64 * 1024;
  const starts = await chooseRangeStarts(file, size, opts.workers * RANGES_PER_WORKER, maxLineBytes);
  if (starts.length < 2) return false;
  const data: RangeWorkerData = {
    kind: 'autofix-range-scan',
    file,
    patterns: matcher.patterns.map((c) => ({ ...c.pattern, sources: ['log' as const] })),
    requirements: matcher.patterns.map((c) => c.requirement),
    maxLineBytes,
    chunkBytes: opts.chunkBytes,
    progress: opts.onProgress !== undefined,
  };
  const done = starts.map(() => 0);
  let results: RangeDone[];
  try {
    results = await runRanges(starts, opts.workers, data, (k, bytes) => {
      done[k] = bytes;
      opts.onProgress?.(file, done.reduce((a, b) => a + b, 0), size);
    });
  } catch {
    return false;
  }
  // Each range but the last must have ended exactly at the next one's start (else the file
  // changed under the scan): then fall back rather than merge misaligned line numbers.
  if (results.some((r, k) => k + 1 < starts.length && r.offset !== starts[k + 1])) return false;
  let lineOffset = 0;
  for (const r of results) {
    for (const d of r.detections) collector.merge(d, lineOffset);
    lineOffset += r.lines;
  }
  return true;
}
