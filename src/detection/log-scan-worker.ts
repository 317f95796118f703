/**
 * Worker thread of the time-budgeted scan (budgeted-scan.ts). It runs one job at a time and
 * posts a `region` message before classifying each region (about one 1 MiB chunk), so the main
 * thread can tell a scan that progresses from one stuck in a regex, and terminate it:
 * - `scan-range`: classifying one file (or its rotated copy) from a position (`scanFile`), with
 *   the watched name's pattern scope and the patterns disabled for it left out;
 * - `probe`: one pattern alone, no prefilter (every line, a superset of what it saw in the full
 *   scan), over the region where a scan stalled; reports how long it took.
 * Reads block (`syncRead`): this thread has nothing else to do.
 */
import { parentPort, workerData } from 'node:worker_threads';
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { compileMatcher, type Matcher } from './matcher';
import { DetectionCollector } from './collector';
import { LineClassifier } from './line-classifier';
import { scanFile, type ScanRegion } from './file-scan';
import type { ScanJob, ScanThreadMessage } from './budgeted-scan';

/** Compiled matchers by pattern set: each is compiled (and calibrated on its first chunk) once. */
const matchers = new Map<string, Matcher>();

function matcherFor(job: Extract<ScanJob, { kind: 'scan-range' }>): Matcher {
  const disabled = new Set(job.disabled);
  const patterns = job.patterns.filter((p) => !disabled.has(p.id));
  const key = JSON.stringify(patterns);
  let m = matchers.get(key);
  if (!m) matchers.set(key, (m = compileMatcher(patterns)));
  return m;
}

function readRange(file: string, start: number, end: number): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(Math.max(0, end - start));
    const n = fs.readSync(fd, buf, 0, buf.length, start);
    return buf.subarray(0, n);
  } finally {
    fs.closeSync(fd);
  }
}

/** Classifies the stalled region again (from the open traceback's start, if any) with one pattern. */
function probe(job: Extract<ScanJob, { kind: 'probe' }>): number {
  const { region: r, maxLineBytes } = job;
  const t0 = performance.now();
  const classifier = new LineClassifier(compileMatcher([job.pattern], { prefilter: false }), new DetectionCollector(), r.file, maxLineBytes, 0);
  const from = r.tracebackStart ?? r.start;
  const lines = readRange(r.file, from, r.cut ? r.start : r.end);
  if (lines.length > 0) classifier.processRegion(lines, 0, lines.length, from);
  if (r.cut) classifier.processCutLine(readRange(r.file, r.start, r.end), r.start);
  classifier.finish(true);
  return performance.now() - t0;
}

async function run(job: ScanJob, post: (m: ScanThreadMessage) => void): Promise<void> {
  if (job.kind === 'probe') return post({ type: 'probed', ms: probe(job) });
  const collector = new DetectionCollector();
  try {
    const end = await scanFile(
      job.file,
      job.from,
      {
        matcher: matcherFor(job).forFile(job.watched),
        maxLineBytes: job.maxLineBytes,
        maxBytesPerScan: job.maxBytesPerScan,
        final: job.final,
        syncRead: true,
        onRegion: (region: ScanRegion) => post({ type: 'region', region }),
      },
      collector,
    );
    post({ type: 'scanned', detections: collector.list(), end });
  } catch (e) {
    post({ type: 'unreadable', code: (e as NodeJS.ErrnoException).code ?? String(e) });
  }
}

if (parentPort && (workerData as { kind?: string } | undefined)?.kind === 'autofix-budgeted-scan') {
  const port = parentPort;
  port.on('message', (job: ScanJob) => void run(job, (m) => port.postMessage(m)));
  port.postMessage({ type: 'ready' } satisfies ScanThreadMessage);
}
