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
import { scanFile, type FilePass } from './file-scan';
import { expandGlob, isGlob } from './glob';
import { defaultScanWorkers, PARALLEL_MIN_BYTES, scanFileParallel, type ParallelScanOptions } from './parallel-scan';

/** Options of `scanLogs`. */
export interface ScanLogsOptions {
  /** Absolute paths or globs (`*`, `?`, `**`). */
  files: string[];
  cursors: LogCursors;
  matcher: Matcher;
  /** @default 65536 */
  maxLineBytes?: number;
  /** Bytes read per file per scan at most; the rest waits for the next scan. @default 256 MiB */
  maxBytesPerScan?: number;
  /** Read size (1 MiB: small enough that the several search passes over a chunk hit the CPU cache). @default 1 MiB */
  chunkBytes?: number;
  /** Called after each chunk (for progress output). */
  onProgress?: (file: string, bytesRead: number, totalBytes: number) => void;
  /** End of input: close pending tracebacks instead of waiting for them (one-shot scans). */
  final?: boolean;
}

/** Used when the config has no fs_not_found pattern but a watched file is missing. */
const MISSING_FALLBACK = { id: 'fs_not_found', name: 'Watched log file is missing', severity: 'warning' } as const;

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
  for (const spec of opts.files) {
    const files = isGlob(spec) ? expandGlob(spec) : [path.resolve(spec)];
    for (const file of files) {
      let st: fs.Stats;
      try {
        st = await fs.promises.stat(file);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code ?? 'error';
        collector.add(missingPattern, 'log', file, undefined, `watched log file ${file} cannot be read: ${code}`);
        continue;
      }
      if (!st.isFile()) continue;
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
        collector.add(missingPattern, 'log', file, undefined, `watched log file ${file} cannot be read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
      }
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
  for (const spec of files) {
    for (const file of isGlob(spec) ? expandGlob(spec) : [path.resolve(spec)]) {
      let st: fs.Stats;
      try {
        st = await fs.promises.stat(file);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code ?? 'error';
        collector.add(missingPattern, 'log', file, undefined, `watched log file ${file} cannot be read: ${code}`);
        continue;
      }
      if (!st.isFile()) continue;
      try {
        if (workers > 1 && st.size >= minBytes && (await scanFileParallel(file, st.size, matcher, { ...opts, workers }, collector))) continue;
        await scanFile(file, { offset: 0, line: 0 }, fileOpts, collector);
      } catch (e) {
        collector.add(missingPattern, 'log', file, undefined, `watched log file ${file} cannot be read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
      }
    }
  }
  return collector.list();
}
