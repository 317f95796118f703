/**
 * Streaming scan of one file (or one byte range of it) from a position: read in fixed chunks so
 * memory stays constant on multi-GB files; only complete lines are consumed, over-long lines are
 * cut (their rest skipped, never buffered). Used by `scanLogs` and by the range workers of the
 * parallel `scanFilesFromStart` (see parallel-scan.ts).
 */
import fs from 'node:fs';
import type { Matcher } from './matcher';
import { DetectionCollector } from './collector';
import { LineClassifier } from './line-classifier';
import { openForReading } from '../fs-safe/read';

/** Where a scan starts (or ended): byte offset of a line start and the complete lines before it. */
export interface FilePass {
  offset: number;
  line: number;
}

/**
 * A stretch of a file about to be classified: complete lines [start, end), or (`cut`) the first
 * `maxLineBytes` of one over-long line starting at `start`. `tracebackStart` is the start of a
 * Python traceback still open before it, whose exception lines are classified later. `file` is
 * the file read (a rotated log's tail is read under its new name).
 */
export interface ScanRegion {
  file: string;
  start: number;
  end: number;
  cut: boolean;
  tracebackStart?: number;
}

/** The options of a file scan (a subset of `ScanLogsOptions`, same meaning). */
export interface FileScanOptions {
  matcher: Matcher;
  /** @default 65536 */
  maxLineBytes?: number;
  /** Bytes read at most from `from.offset`; a range scan passes the range length. @default 256 MiB */
  maxBytesPerScan?: number;
  /** @default 1 MiB */
  chunkBytes?: number;
  onProgress?: (file: string, bytesRead: number, totalBytes: number) => void;
  /** End of input: close pending tracebacks instead of waiting for them. */
  final?: boolean;
  /**
   * Read with blocking `fs.readSync` instead of the thread pool: for threads that have nothing
   * else to do (the range workers of the parallel scan), where the pool's round trip per chunk
   * left the thread idle ~20% of the time. Never in the daemon (it would block its event loop).
   * @default false
   */
  syncRead?: boolean;
  /** Called before each region is classified (the time-budgeted scan watches these; budgeted-scan.ts). */
  onRegion?: (region: ScanRegion) => void;
}

function region(file: string, start: number, end: number, cut: boolean, classifier: LineClassifier): ScanRegion {
  const tb = classifier.openTracebackOffset();
  return { file, start, end, cut, ...(tb !== undefined ? { tracebackStart: tb } : {}) };
}

/**
 * Scans `file` from `from`, adding events to `collector`; returns where the next scan starts
 * (a held traceback's start when not `final`).
 */
export async function scanFile(file: string, from: FilePass, opts: FileScanOptions, collector: DetectionCollector): Promise<FilePass> {
  const maxLine = opts.maxLineBytes ?? 64 * 1024;
  const chunk = opts.chunkBytes ?? 1024 * 1024;
  const budget = opts.maxBytesPerScan ?? 256 * 1024 * 1024;
  // Symlinks and hard links another user could have planted are refused (src/fs-safe/read.ts).
  const opened = await openForReading(file);
  if (!opened) throw Object.assign(new Error(`${file}: no such file`), { code: 'ENOENT' });
  const fh = opened.fh;
  try {
    const total = (await fh.stat()).size;
    const buf = Buffer.allocUnsafe(chunk + maxLine);
    const classifier = new LineClassifier(opts.matcher, collector, file, maxLine, from.line);
    let carry = 0; // bytes of an unfinished line kept at buf[0, carry)
    let bufBase = from.offset; // file offset of buf[0]
    let readPos = from.offset;
    let longPrefix: Buffer | null = null; // cut prefix of a line longer than maxLine, rest being skipped
    let consumed = from.offset; // offset after the last consumed newline
    while (readPos - from.offset < budget) {
      const want = Math.min(chunk, budget - (readPos - from.offset));
      const bytesRead = opts.syncRead ? fs.readSync(fh.fd, buf, carry, want, readPos) : (await fh.read(buf, carry, want, readPos)).bytesRead;
      if (bytesRead === 0) break;
      opts.matcher.calibrate(buf.subarray(carry, carry + bytesRead));
      readPos += bytesRead;
      let start = 0;
      const dataEnd = carry + bytesRead;
      if (longPrefix) {
        const nl = buf.indexOf(10, carry);
        if (nl === -1 || nl >= dataEnd) {
          bufBase = readPos; // skip the whole chunk: still inside the long line
          carry = 0;
          continue;
        }
        opts.onRegion?.(region(file, consumed, consumed + longPrefix.length, true, classifier));
        classifier.processCutLine(longPrefix, consumed);
        longPrefix = null;
        start = nl + 1;
        consumed = bufBase + start;
      }
      const lastNl = buf.lastIndexOf(10, dataEnd - 1);
      if (lastNl >= start) {
        opts.onRegion?.(region(file, bufBase + start, bufBase + lastNl + 1, false, classifier));
        classifier.processRegion(buf, start, lastNl + 1, bufBase + start);
        start = lastNl + 1;
        consumed = bufBase + start;
      }
      const rest = dataEnd - start;
      if (rest > maxLine) {
        longPrefix = Buffer.from(buf.subarray(start, start + maxLine));
        carry = 0;
        bufBase = readPos;
      } else {
        buf.copyWithin(0, start, dataEnd);
        carry = rest;
        bufBase = readPos - rest;
      }
      opts.onProgress?.(file, readPos, total);
    }
    const hold = classifier.finish(opts.final ?? false);
    return hold ?? { offset: consumed, line: classifier.lineNo };
  } finally {
    await fh.close();
  }
}
