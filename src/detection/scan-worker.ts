/**
 * Worker thread of the parallel `autofix scan` (parallel-scan.ts): compiles the patterns it is
 * given, scans its byte range [start, end) of the file with the same `scanFile` as the
 * single-threaded scan (line numbers counted from the range's start, a traceback open at the end
 * closed), and posts the range's detections and its number of complete lines.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { compileMatcher } from './matcher';
import { DetectionCollector } from './collector';
import { scanFile } from './file-scan';
import type { RangeJob, RangeMessage } from './parallel-scan';

async function run(job: RangeJob, port: NonNullable<typeof parentPort>): Promise<void> {
  const matcher = compileMatcher(job.patterns, { prefilter: job.prefilter });
  const collector = new DetectionCollector();
  const post = (m: RangeMessage) => port.postMessage(m);
  const end = await scanFile(
    job.file,
    { offset: job.start, line: 0 },
    {
      matcher,
      maxLineBytes: job.maxLineBytes,
      ...(job.chunkBytes !== undefined ? { chunkBytes: job.chunkBytes } : {}),
      maxBytesPerScan: job.end === null ? Number.MAX_SAFE_INTEGER : job.end - job.start,
      final: true,
      syncRead: true,
      ...(job.progress ? { onProgress: (_file: string, readPos: number) => post({ type: 'progress', bytes: readPos - job.start }) } : {}),
    },
    collector,
  );
  post({ type: 'done', detections: collector.list(), lines: end.line, offset: end.offset });
}

const job = workerData as RangeJob | undefined;
if (parentPort && job?.kind === 'autofix-range-scan') {
  void run(job, parentPort); // a rejection is an uncaught error here: the Worker's 'error' event
}
