/**
 * Worker thread of the parallel `autofix scan` (parallel-scan.ts): compiles the patterns it is
 * started with once, then scans each byte range [start, end) it is sent with the same `scanFile`
 * as the single-threaded scan (line numbers counted from the range's start, a traceback open at
 * the end closed; blocking reads, as this thread has nothing else to do) and posts the range's
 * detections and number of complete lines. Exits on a null job.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { compileMatcher, type Matcher } from './matcher';
import { DetectionCollector } from './collector';
import { scanFile } from './file-scan';
import type { RangeJob, RangeMessage, RangeWorkerData } from './parallel-scan';

async function scanRange(data: RangeWorkerData, matcher: Matcher, job: RangeJob, post: (m: RangeMessage) => void): Promise<void> {
  const collector = new DetectionCollector();
  const end = await scanFile(
    data.file,
    { offset: job.start, line: 0 },
    {
      matcher,
      maxLineBytes: data.maxLineBytes,
      ...(data.chunkBytes !== undefined ? { chunkBytes: data.chunkBytes } : {}),
      maxBytesPerScan: job.end === null ? Number.MAX_SAFE_INTEGER : job.end - job.start,
      final: true,
      syncRead: true,
      ...(data.progress ? { onProgress: (_file: string, readPos: number) => post({ type: 'progress', index: job.index, bytes: readPos - job.start }) } : {}),
    },
    collector,
  );
  post({ type: 'done', index: job.index, detections: collector.list(), lines: end.line, offset: end.offset });
}

const data = workerData as RangeWorkerData | undefined;
if (parentPort && data?.kind === 'autofix-range-scan') {
  const port = parentPort;
  const matcher = compileMatcher(data.patterns, { requirements: data.requirements });
  port.on('message', (job: RangeJob | null) => {
    if (job === null) port.close();
    // A rejection is an uncaught error here: the Worker's 'error' event in the main thread.
    else void scanRange(data, matcher, job, (m) => port.postMessage(m));
  });
}
