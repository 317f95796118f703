/**
 * Incremental, streaming log scanning. Each file is read in fixed chunks from its cursor (so
 * memory stays constant on multi-GB files); only complete lines are consumed, over-long lines are
 * cut (their rest skipped, never buffered), rotation is followed by inode and truncation restarts
 * at 0. Bytes are matched as bytes: invalid UTF-8 or binary data cannot crash a scan.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ErrorPattern } from '../config/schema';
import type { Matcher } from './matcher';
import type { Detection, LogCursor, LogCursors } from './types';
import { DetectionCollector } from './collector';
import { scanFile, type FilePass, type FileScanOptions } from './file-scan';
import { filesOf, globMatches } from './glob';
import { isGenerationOf } from './own-files';
import { signatureAt } from './cursor-signature';
import { openForReading } from '../fs-safe/read';
import { defaultScanWorkers, PARALLEL_MIN_BYTES, scanFileParallel, type ParallelScanOptions } from './parallel-scan';

/** Where a file seen for the first time is read from (`watch.start_at`). */
export type StartAt = 'end' | 'beginning';

/** Says why a file is autofix's own (never input), or undefined; see own-files.ts. */
export type ExcludeFile = (file: string, st?: fs.Stats) => string | undefined;

/** How the scan loop starts files and which it leaves out (shared by `scanLogs` and the budgeted scan). */
export interface WatchedScanOptions {
  /** Where a file without a cursor starts. @default 'beginning' */
  startAt?: StartAt;
  /**
   * With `startAt: 'end'`: a file without a cursor that was born at or after this time (epoch ms;
   * the previous scan's start) appeared since that scan, so all of it is new and it is read from
   * its beginning. Absent (a first scan) or on a file system without birth times: from the end.
   */
  newSince?: number;
  /**
   * Fingerprints of the bytes before the cursors' offsets (cursor-signature.ts), as recorded with
   * exactly these cursors: a file whose bytes there changed was truncated and written again past
   * the offset, and is read from 0.
   */
  signatures?: Record<string, string>;
  /** Files that are never input (autofix's own); each is skipped and reported to `onExcluded`. */
  exclude?: ExcludeFile;
  onExcluded?: (file: string, spec: string, reason: string) => void;
}

/** Options of `scanLogs`: the file-scan options (same meaning) plus what to scan and from where. */
export interface ScanLogsOptions extends Omit<FileScanOptions, 'syncRead'>, WatchedScanOptions {
  /** Absolute paths or globs (`*`, `?`, `**`). */
  files: string[];
  /** Where earlier scans stopped. Only looked up: a key never adds a file to scan. */
  cursors: LogCursors;
}

/** What `scanLogs` found, and where the next scan starts. */
export interface ScanLogsResult {
  detections: Detection[];
  /** One cursor per watched file scanned; files no longer watched have none. */
  cursors: LogCursors;
  /**
   * Where files without a cursor were started from (their end, or 0), so that a retried loop
   * starts them at the same place even after they grew.
   */
  starts: LogCursors;
  /** The fingerprint at each new cursor, to record with it. */
  signatures: Record<string, string>;
}

/** Used when the config has no fs_not_found pattern but a watched file is missing. */
const MISSING_FALLBACK = { id: 'fs_not_found', name: 'Watched log file is missing', severity: 'warning' } as const;

/** The pattern a missing or unreadable watched file is reported as: the config's fs_not_found, else a fallback. */
export function missingFilePattern(patterns: ReadonlyArray<Pick<ErrorPattern, 'id' | 'name' | 'severity'>>): Pick<ErrorPattern, 'id' | 'name' | 'severity'> {
  return patterns.find((p) => p.id === 'fs_not_found') ?? MISSING_FALLBACK;
}

/** The message of a watched file that cannot be read (an fs_not_found detection). */
export const unreadable = (file: string, e: unknown) => `watched log file ${file} cannot be read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`;

/**
 * The regular files the specs name (globs expanded), with their stats; autofix's own files are
 * left out (and reported). A file that cannot be stat'ed becomes an fs_not_found detection about
 * it instead of an error.
 */
async function* watchedFiles(
  specs: string[],
  collector: DetectionCollector,
  missing: Parameters<DetectionCollector['add']>[0],
  opts: Pick<WatchedScanOptions, 'exclude' | 'onExcluded'> = {},
): AsyncGenerator<{ file: string; st: fs.Stats }> {
  const seen = new Set<string>();
  for (const spec of specs) {
    for (const file of filesOf(spec)) {
      if (seen.has(file)) continue; // two specs naming one file: scan it once
      seen.add(file);
      let st: fs.Stats;
      try {
        st = await fs.promises.stat(file);
      } catch (e) {
        const own = opts.exclude?.(file);
        if (own) opts.onExcluded?.(file, spec, own);
        else collector.add(missing, 'log', file, undefined, unreadable(file, e));
        continue;
      }
      if (!st.isFile()) continue;
      const own = opts.exclude?.(file, st);
      if (own) {
        opts.onExcluded?.(file, spec, own);
        continue;
      }
      yield { file, st };
    }
  }
}

/**
 * Finds the file a rotation renamed (same dev/ino) next to the watched path: only a rotated
 * generation of its name (app.log.1, app.log-20251228, …) and never one of autofix's own, so a
 * cursor cannot lead the scan to another file of the directory.
 */
function findRotated(file: string, cur: LogCursor, exclude?: ExcludeFile): string | undefined {
  const dir = path.dirname(file);
  const base = path.basename(file);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return undefined;
  }
  for (const name of names) {
    if (name === base || !isGenerationOf(name, base)) continue;
    const p = path.join(dir, name);
    try {
      const st = fs.statSync(p);
      if (st.isFile() && st.dev === cur.dev && st.ino === cur.ino && !exclude?.(p, st)) return p;
    } catch {
      // vanished between readdir and stat: not it
    }
  }
  return undefined;
}

/**
 * Where a file seen for the first time starts: after its last complete line (what is there is
 * the past; a line being written is read once it is complete), with the number of lines before
 * it so that line numbers stay right. One streaming pass counting newlines.
 */
async function tailStart(file: string, chunkBytes = 1024 * 1024): Promise<FilePass> {
  const opened = await openForReading(file);
  if (!opened) return { offset: 0, line: 0 };
  const fh = opened.fh;
  try {
    const buf = Buffer.allocUnsafe(chunkBytes);
    let pos = 0;
    let line = 0;
    let offset = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, chunkBytes, pos);
      if (bytesRead === 0) break;
      for (let i = buf.indexOf(10, 0); i !== -1 && i < bytesRead; i = buf.indexOf(10, i + 1)) {
        line++;
        offset = pos + i + 1;
      }
      pos += bytesRead;
    }
    return { offset, line };
  } finally {
    await fh.close();
  }
}

/** Where a file without a cursor starts (see `ScanLogsOptions.startAt` and `newSince`). */
async function firstStart(file: string, st: fs.Stats, opts: WatchedScanOptions): Promise<FilePass> {
  if ((opts.startAt ?? 'beginning') === 'beginning') return { offset: 0, line: 0 };
  // birthtimeMs is 0 where the file system does not record it: then the file counts as old.
  if (opts.newSince !== undefined && st.birthtimeMs > 0 && st.birthtimeMs >= opts.newSince) return { offset: 0, line: 0 };
  return await tailStart(file);
}

/**
 * Classifies the bytes of `file` from `from` into `collector` and returns where it stopped: in the
 * calling thread (`scanLogs`) or in the budgeted scan's thread (budgeted-scan.ts), which is why
 * only this part — where a regex runs — is a callback. `watched` is the watched name: its
 * patterns' `files` scope applies to its rotated copy too. `final` closes a held traceback.
 */
export type RangeScanner = (watched: string, file: string, from: FilePass, final: boolean, collector: DetectionCollector) => Promise<FilePass>;

/** A RangeScanner in this thread. */
export function scanRangeHere(opts: Omit<FileScanOptions, 'final'>): RangeScanner {
  return (watched, file, from, final, collector) => scanFile(file, from, { ...opts, matcher: opts.matcher.forFile(watched), final }, collector);
}

/**
 * Scans the watched logs from their cursors and returns the detections and the new cursors.
 * A file without a cursor starts where `startAt` says; a rotated file is finished under its new
 * name (app.log.1) and the new one read from 0; a truncated one restarts at 0. A missing non-glob
 * file gives an `fs_not_found` detection about it (no crash); a glob matching nothing is not an
 * error. Cursors of files no longer watched are dropped; autofix's own files are never scanned.
 * The bytes are classified by `scanRange` (here, or under a time budget in a thread).
 */
export async function scanWatchedLogs(
  files: string[],
  cursors: LogCursors,
  patterns: ReadonlyArray<Pick<ErrorPattern, 'id' | 'name' | 'severity'>>,
  scanRange: RangeScanner,
  opts: WatchedScanOptions = {},
): Promise<ScanLogsResult> {
  const collector = new DetectionCollector();
  const next: LogCursors = {};
  const starts: LogCursors = {};
  const signatures: Record<string, string> = {};
  const scanned = new Set<string>();
  const missingPattern = missingFilePattern(patterns);
  for await (const { file, st } of watchedFiles(files, collector, missingPattern, opts)) {
    scanned.add(file);
    const cur = Object.hasOwn(cursors, file) ? cursors[file] : undefined;
    let from: FilePass = { offset: 0, line: 0 };
    let atFrom: string | undefined; // the fingerprint at `from` when the cursor's check took it
    try {
      if (!cur) {
        from = await firstStart(file, st, opts);
        starts[file] = { dev: st.dev, ino: st.ino, ...from };
      } else if (cur.dev !== st.dev || cur.ino !== st.ino) {
        // Rotated: finish the old file (under its new name) from the cursor, then the new one from 0.
        // The old file unreadable (compressed, removed meanwhile): the new one still is read.
        await finishRotated(file, cur, scanRange, collector, opts.exclude).catch(() => undefined);
      } else if (st.size >= cur.offset) {
        const stored = opts.signatures?.[file];
        const now = stored ? await signatureAt(file, cur.offset, cur) : undefined;
        if (now === undefined || now === stored) {
          from = { offset: cur.offset, line: cur.line };
          atFrom = now;
        } // else rewritten past the cursor (the bytes before it changed): restart at 0
      } // else truncated: restart at 0
      const end = await scanRange(file, file, from, false, collector);
      next[file] = { dev: st.dev, ino: st.ino, offset: end.offset, line: end.line };
      // A file that did not grow keeps the fingerprint just checked (no second read on an idle log).
      // Unknown ('') when the file cannot be fingerprinted now: the next scan then trusts size and inode.
      signatures[file] = atFrom !== undefined && end.offset === from.offset ? atFrom : await signatureAt(file, end.offset, st).catch(() => '');
    } catch (e) {
      collector.add(missingPattern, 'log', file, undefined, unreadable(file, e));
    }
  }
  // A watched file renamed away (rotation) whose successor does not exist yet — Python's
  // RotatingFileHandler creates it only at its next write: finish the renamed file now, or the
  // lines written before the rotation would be lost with the dropped cursor.
  for (const [file, cur] of Object.entries(cursors)) {
    if (scanned.has(file) || !files.some((spec) => globMatches(spec, file)) || opts.exclude?.(file)) continue;
    if (fs.existsSync(file)) continue; // there but not a regular file, or excluded: nothing to finish
    await finishRotated(file, cur, scanRange, collector, opts.exclude).catch(() => undefined);
  }
  return { detections: collector.list(), cursors: next, starts, signatures };
}

/** Reads the rest of a rotated file (found by the cursor's dev/ino) from the cursor, to its end. */
async function finishRotated(file: string, cur: LogCursor, scanRange: RangeScanner, collector: DetectionCollector, exclude?: ExcludeFile): Promise<void> {
  const old = findRotated(file, cur, exclude);
  if (old) await scanRange(file, old, cur, true, collector);
}

/**
 * `scanWatchedLogs` in this thread. (The daemon runs the same scan under a time budget in a
 * worker thread: budgeted-scan.ts.)
 *
 * @example
 *   const { detections, cursors } = await scanLogs({ files: cfg.watch.logs, cursors: prev, matcher: compileMatcher(cfg.error_patterns), startAt: 'end' });
 */
export function scanLogs(opts: ScanLogsOptions): Promise<ScanLogsResult> {
  const patterns = opts.matcher.patterns.map((c) => c.pattern);
  return scanWatchedLogs(opts.files, opts.cursors, patterns, scanRangeHere(opts), opts);
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
  opts: Pick<ScanLogsOptions, 'maxLineBytes' | 'chunkBytes' | 'onProgress' | 'exclude' | 'onExcluded'> & ParallelScanOptions = {},
): Promise<Detection[]> {
  const collector = new DetectionCollector();
  const missingPattern = missingFilePattern(matcher.patterns.map((c) => c.pattern));
  const workers = opts.workers ?? defaultScanWorkers();
  const minBytes = opts.parallelMinBytes ?? PARALLEL_MIN_BYTES;
  const fileOpts = { ...opts, matcher, maxBytesPerScan: Number.MAX_SAFE_INTEGER, final: true };
  for await (const { file, st } of watchedFiles(files, collector, missingPattern, opts)) {
    const forFile = matcher.forFile(file);
    try {
      if (workers > 1 && st.size >= minBytes && (await scanFileParallel(file, st.size, forFile, { ...opts, workers }, collector))) continue;
      await scanFile(file, { offset: 0, line: 0 }, { ...fileOpts, matcher: forFile }, collector);
    } catch (e) {
      collector.add(missingPattern, 'log', file, undefined, unreadable(file, e));
    }
  }
  return collector.list();
}
