/**
 * Incremental, streaming log scanning. Each file is read in fixed chunks from its cursor (so
 * memory stays constant on multi-GB files); only complete lines are consumed, over-long lines are
 * cut (their rest skipped, never buffered), rotation is followed by inode and truncation restarts
 * at 0. Bytes are matched as bytes: invalid UTF-8 or binary data cannot crash a scan.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Matcher } from './matcher';
import type { Detection, LogCursor, LogCursors } from './types';
import { DetectionCollector } from './collector';
import { scanFile, type FilePass, type FileScanOptions } from './file-scan';
import { expandGlob, isGlob } from './glob';
import { defaultScanWorkers, PARALLEL_MIN_BYTES, scanFileParallel, type ParallelScanOptions } from './parallel-scan';

/** Options of `scanLogs`: the file-scan options (same meaning) plus what to scan and from where. */
export interface ScanLogsOptions extends Omit<FileScanOptions, 'syncRead'> {
  /** Absolute paths or globs (`*`, `?`, `**`). */
  files: string[];
  cursors: LogCursors;
}

/** Used when the config has no fs_not_found pattern but a watched file is missing. */
const MISSING_FALLBACK = { id: 'fs_not_found', name: 'Watched log file is missing', severity: 'warning' } as const;

/** The message of a watched file that cannot be read (an fs_not_found detection). */
const unreadable = (file: string, e: unknown) => `watched log file ${file} cannot be read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`;

/**
 * The regular files the specs name (globs expanded), with their stats. A file that cannot be
 * stat'ed becomes an fs_not_found detection about it instead of an error.
 */
async function* watchedFiles(
  specs: string[],
  collector: DetectionCollector,
  missing: Parameters<DetectionCollector['add']>[0],
): AsyncGenerator<{ file: string; st: fs.Stats }> {
  for (const spec of specs) {
    for (const file of isGlob(spec) ? expandGlob(spec) : [path.resolve(spec)]) {
      let st: fs.Stats;
      try {
        st = await fs.promises.stat(file);
      } catch (e) {
        collector.add(missing, 'log', file, undefined, unreadable(file, e));
        continue;
      }
      if (st.isFile()) yield { file, st };
    }
  }
}

/** Finds the file a rotation renamed (same dev/ino) next to the watched path, e.g. app.log.1. */
function findRotated(file: string, cur: LogCursor): string | undefined {
  const dir = path.dirname(file);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return undefined;
  }
  for (const name of names) {
    const p = path.join(dir, name);
    try {
      const st = fs.statSync(p);
      if (st.isFile() && st.dev === cur.dev && st.ino === cur.ino) return p;
    } catch {
      // vanished between readdir and stat: not it
    }
  }
  return undefined;
}

/**
 * Scans the watched logs from their cursors and returns the detections and the new cursors.
 * A missing non-glob file gives an `fs_not_found` detection about it (no crash); a glob matching
 * nothing is not an error. Cursors of files no longer present are dropped.
 *
 * @example
 *   const { detections, cursors } = await scanLogs({ files: cfg.watch.logs, cursors: prev, matcher: compileMatcher(cfg.error_patterns) });
 */
export async function scanLogs(opts: ScanLogsOptions): Promise<{ detections: Detection[]; cursors: LogCursors }> {
  const collector = new DetectionCollector();
  const next: LogCursors = {};
  const missingPattern = opts.matcher.patterns.find((p) => p.pattern.id === 'fs_not_found')?.pattern ?? MISSING_FALLBACK;
  for await (const { file, st } of watchedFiles(opts.files, collector, missingPattern)) {
    const cur = opts.cursors[file];
    let from: FilePass = { offset: 0, line: 0 };
    if (cur && (cur.dev !== st.dev || cur.ino !== st.ino)) {
      // Rotated: finish the old file (under its new name) from the cursor, then the new one from 0.
      const old = findRotated(file, cur);
      if (old) await scanFile(old, cur, { ...opts, final: true }, collector);
    } else if (cur && st.size >= cur.offset) {
      from = { offset: cur.offset, line: cur.line };
    } // else truncated (size < offset): restart at 0
    try {
      const end = await scanFile(file, from, opts, collector);
      next[file] = { dev: st.dev, ino: st.ino, offset: end.offset, line: end.line };
    } catch (e) {
      collector.add(missingPattern, 'log', file, undefined, unreadable(file, e));
    }
  }
  return { detections: collector.list(), cursors: next };
}

/**
 * One pass over files from their start (for `autofix scan`): no cursors kept, no byte budget,
 * tracebacks at end of file closed. Same result as `scanLogs` with empty cursors and
 * `final: true`; a file of at least `parallelMinBytes` is scanned in ranges on `workers` worker
 * threads (parallel-scan.ts), with identical detections.
 */
export async function scanFilesFromStart(
  files: string[],
  matcher: Matcher,
  opts: Pick<ScanLogsOptions, 'maxLineBytes' | 'chunkBytes' | 'onProgress'> & ParallelScanOptions = {},
): Promise<Detection[]> {
  const collector = new DetectionCollector();
  const missingPattern = matcher.patterns.find((p) => p.pattern.id === 'fs_not_found')?.pattern ?? MISSING_FALLBACK;
  const workers = opts.workers ?? defaultScanWorkers();
  const minBytes = opts.parallelMinBytes ?? PARALLEL_MIN_BYTES;
  const fileOpts = { ...opts, matcher, maxBytesPerScan: Number.MAX_SAFE_INTEGER, final: true };
  for await (const { file, st } of watchedFiles(files, collector, missingPattern)) {
    try {
      if (workers > 1 && st.size >= minBytes && (await scanFileParallel(file, st.size, matcher, { ...opts, workers }, collector))) continue;
      await scanFile(file, { offset: 0, line: 0 }, fileOpts, collector);
    } catch (e) {
      collector.add(missingPattern, 'log', file, undefined, unreadable(file, e));
    }
  }
  return collector.list();
}
