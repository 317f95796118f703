/**
 * The daemon's incremental log scan under a time budget, so a regex that still blows up on a
 * hostile line (one the load-time ReDoS check let through, pattern-safety.ts) cannot freeze the
 * worker: its event loop, its other activities, its heartbeats and queries.
 *
 * Mechanism: each watched file is scanned in a `worker_threads` Worker (log-scan-worker.ts), which
 * reports every region (≈ one 1 MiB chunk) before classifying it. A region that takes longer than
 * the budget is a stall: the Worker is terminated (V8 interrupts even a running regex) and the
 * guilty pattern is looked for by classifying that region again with each pattern alone, without
 * prefilter, under the same budget (in a fresh Worker each time one stalls):
 * - patterns that stall alone are guilty;
 * - if none does, the slowest is, unless even it took less than budget / (2 × patterns): then
 *   the machine, not a pattern, was slow, and the file is skipped this time (cursor kept).
 * Guilty patterns are disabled for that file from then on (the caller alerts), and the file is
 * scanned again without them — from its cursor, so no line is lost. Each round disables at
 * least one pattern or skips the file, so a scan always ends. Other files are unaffected.
 *
 * The budget bounds time without progress, not a file's total: a 256 MiB backlog that moves
 * region by region never stalls. Why a thread and not `vm` with a timeout: the scan reads files
 * asynchronously between regions, and a timed-out `vm` call cannot be interrupted inside the
 * regex engine on every Node version, while `Worker.terminate()` can (measured: 5 ms).
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ErrorPattern } from '../config/schema';
import type { Detection, LogCursors } from './types';
import type { FilePass, ScanRegion } from './file-scan';
import type { DetectionCollector } from './collector';
import { scanWatchedLogs, type ScanLogsResult, type WatchedScanOptions } from './log-scanner';

/** Default budget: a 1 MiB region is classified in ~5–50 ms; 5 s is two orders of magnitude more. */
export const DEFAULT_SCAN_BUDGET_MS = 5000;

/** A job for the scan thread (plain data: structured-cloned). */
export type ScanJob =
  | {
      kind: 'scan-range';
      /** The watched name (its patterns' `files` scope), and the file read (itself or its rotated copy). */
      watched: string;
      file: string;
      from: FilePass;
      /** Close a held traceback at the end (a rotated file's last part). */
      final: boolean;
      patterns: ErrorPattern[];
      /** Ids of the patterns disabled for this file. */
      disabled: string[];
      maxLineBytes: number;
      maxBytesPerScan: number;
    }
  | { kind: 'probe'; region: ScanRegion; pattern: ErrorPattern; maxLineBytes: number };

/** Messages from the scan thread. */
export type ScanThreadMessage =
  | { type: 'ready' }
  | { type: 'region'; region: ScanRegion }
  | { type: 'scanned'; detections: Detection[]; end: FilePass }
  | { type: 'unreadable'; code: string }
  | { type: 'probed'; ms: number };

/** A pattern disabled for a file because it overran the budget there. */
export interface Overrun {
  file: string;
  patternId: string;
  /** Where the scan stalled: a byte range of `file`, or of its rotated tail (`region.file`). */
  region: { file: string; start: number; end: number };
  /** How it was found: it stalled alone, or it was the slowest alone. */
  reason: string;
}

/** Options of `ScanGuard.scan`: what `scanLogs` takes, with patterns instead of a matcher. */
export interface BudgetedScanOptions extends WatchedScanOptions {
  files: string[];
  cursors: LogCursors;
  patterns: ErrorPattern[];
  /** @default 65536 */
  maxLineBytes?: number;
  /** @default 256 MiB */
  maxBytesPerScan?: number;
  /** Longest time a region may take (ms). @default DEFAULT_SCAN_BUDGET_MS */
  budgetMs?: number;
}

/** Result of `ScanGuard.scan`: the scan's result plus what was disabled or skipped in this call. */
export interface BudgetedScanResult extends ScanLogsResult {
  overruns: Overrun[];
  /** Files not scanned this time (a stall no pattern explains); their cursors are kept. */
  skipped: string[];
}

const WORKER_SCRIPT = path.join(__dirname, 'log-scan-worker.js');

type Outcome = { done: true; message: ScanThreadMessage } | { done: false; region: ScanRegion | undefined };

/** One Worker, started on demand, replaced after a stall. */
class ScanThread {
  private worker: Worker | undefined;
  private ready: Promise<Worker> | undefined;

  private start(): Promise<Worker> {
    this.ready ??= new Promise<Worker>((resolve, reject) => {
      const w = new Worker(WORKER_SCRIPT, { workerData: { kind: 'autofix-budgeted-scan' }, resourceLimits: { maxYoungGenerationSizeMb: 8 } });
      w.unref(); // an idle scan thread never keeps the process alive
      w.once('message', () => resolve(w)); // 'ready': modules loaded, the budget may start
      w.once('error', reject);
      w.on('error', () => undefined); // a failing job is reported by run(); an idle thread's error only ends it
      w.once('exit', () => {
        if (this.worker === w) [this.worker, this.ready] = [undefined, undefined];
      });
      this.worker = w;
    });
    return this.ready;
  }

  /** Runs a job; resolves when it answers, or with the last region when it stalls for `budgetMs`. */
  async run(job: ScanJob, budgetMs: number): Promise<Outcome> {
    const w = await this.start();
    return new Promise<Outcome>((resolve, reject) => {
      let last: ScanRegion | undefined;
      const finish = (o: Outcome | Error) => {
        clearTimeout(timer);
        w.off('message', onMessage).off('error', finish).off('exit', onExit);
        if (o instanceof Error) reject(o);
        else resolve(o);
      };
      const onMessage = (m: ScanThreadMessage) => {
        if (m.type !== 'region') return finish({ done: true, message: m });
        last = m.region;
        timer.refresh(); // progress: the budget starts again for the next region
      };
      const onExit = (code: number) => finish(new Error(`scan thread exited with code ${code}`));
      const timer = setTimeout(() => {
        finish({ done: false, region: last });
        void this.stop();
      }, budgetMs);
      w.on('message', onMessage).on('error', finish).on('exit', onExit);
      w.postMessage(job);
    });
  }

  /** Terminates the thread (the next job starts a new one). */
  async stop(): Promise<void> {
    const w = this.worker;
    [this.worker, this.ready] = [undefined, undefined];
    await w?.terminate();
  }
}

/** Key of a disabled pattern: an edited pattern (other source or flags) gets a new chance. */
const patternKey = (p: ErrorPattern): string => JSON.stringify([p.id, p.pattern, p.flags ?? '']);

/**
 * The time-budgeted scan with its memory: which patterns are disabled for which file, for as
 * long as this object lives (the daemon keeps one per worker process).
 *
 * @example
 *   const guard = new ScanGuard();
 *   const r = await guard.scan({ files: cfg.watch.logs, cursors, patterns: cfg.error_patterns, budgetMs: 5000 });
 *   for (const o of r.overruns) alert(`${o.patternId} disabled for ${o.file}`);
 */
export class ScanGuard {
  private readonly thread = new ScanThread();
  /** file → keys of its disabled patterns. */
  private readonly disabled = new Map<string, Set<string>>();
  private queue: Promise<unknown> = Promise.resolve();

  /** Ids of the patterns currently disabled for `file` (among `patterns`). */
  disabledFor(file: string, patterns: ErrorPattern[]): string[] {
    const keys = this.disabled.get(file);
    return keys ? patterns.filter((p) => keys.has(patternKey(p))).map((p) => p.id) : [];
  }

  /**
   * Scans the watched logs from their cursors like `scanLogs`, each file in the scan thread
   * under the budget; see the module comment for what happens on a stall. Calls are serialised.
   */
  scan(opts: BudgetedScanOptions): Promise<BudgetedScanResult> {
    const run = this.queue.then(() => this.scanNow(opts));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Stops the scan thread (tests, shutdown). */
  async close(): Promise<void> {
    await this.thread.stop();
  }

  private async scanNow(opts: BudgetedScanOptions): Promise<BudgetedScanResult> {
    // A config from before the budget existed (a running workflow's payload) has none: default.
    const budgetMs = opts.budgetMs !== undefined && opts.budgetMs > 0 ? opts.budgetMs : DEFAULT_SCAN_BUDGET_MS;
    const overruns: Overrun[] = [];
    const skipped: string[] = [];
    const scan = await scanWatchedLogs(
      opts.files,
      opts.cursors,
      opts.patterns,
      (watched, file, from, final, collector) => this.scanRange({ watched, file, from, final }, opts, budgetMs, collector, { overruns, skipped }),
      opts,
    );
    return { ...scan, overruns, skipped };
  }

  /**
   * Classifies a range of one file in the thread, disabling guilty patterns until it completes;
   * returns where it stopped (`from` again when the file is skipped: the next loop retries).
   * Throws when the file cannot be read.
   */
  private async scanRange(
    range: { watched: string; file: string; from: FilePass; final: boolean },
    opts: BudgetedScanOptions,
    budgetMs: number,
    collector: DetectionCollector,
    out: Pick<BudgetedScanResult, 'overruns' | 'skipped'>,
  ): Promise<FilePass> {
    for (;;) {
      const job: ScanJob = {
        kind: 'scan-range',
        ...range,
        patterns: opts.patterns,
        disabled: this.disabledFor(range.watched, opts.patterns),
        maxLineBytes: opts.maxLineBytes ?? 64 * 1024,
        maxBytesPerScan: opts.maxBytesPerScan ?? 256 * 1024 * 1024,
      };
      const result = await this.thread.run(job, budgetMs);
      if (result.done && result.message.type === 'scanned') {
        for (const d of result.message.detections) collector.merge(d, 0);
        return result.message.end;
      }
      if (result.done) throw Object.assign(new Error('unreadable'), { code: result.message.type === 'unreadable' ? result.message.code : result.message.type });
      const guilty = result.region ? await this.findGuilty(range.watched, result.region, job, budgetMs) : [];
      if (guilty.length === 0) {
        out.skipped.push(range.watched);
        return range.from;
      }
      for (const g of guilty) {
        const p = opts.patterns.find((x) => x.id === g.patternId) as ErrorPattern;
        const keys = this.disabled.get(range.watched) ?? new Set<string>();
        this.disabled.set(range.watched, keys.add(patternKey(p)));
        out.overruns.push(g);
      }
    }
  }

  /** The patterns to blame for a stall on `region` (see the module comment). */
  private async findGuilty(file: string, region: ScanRegion, job: Extract<ScanJob, { kind: 'scan-range' }>, budgetMs: number): Promise<Overrun[]> {
    const candidates = job.patterns.filter((p) => (p.sources ?? ['log']).includes('log') && !job.disabled.includes(p.id));
    const where = { file: region.file, start: region.tracebackStart ?? region.start, end: region.end };
    const timings: Array<{ p: ErrorPattern; ms: number }> = [];
    const stalled: Overrun[] = [];
    for (const p of candidates) {
      const out = await this.thread.run({ kind: 'probe', region, pattern: p, maxLineBytes: job.maxLineBytes }, budgetMs);
      if (!out.done) stalled.push({ file, patternId: p.id, region: where, reason: `it alone took over ${budgetMs} ms on this region` });
      else if (out.message.type === 'probed') timings.push({ p, ms: out.message.ms });
    }
    if (stalled.length > 0) return stalled;
    const slowest = timings.sort((a, b) => b.ms - a.ms)[0];
    if (!slowest || slowest.ms < budgetMs / (2 * Math.max(1, candidates.length))) return [];
    return [{ file, patternId: slowest.p.id, region: where, reason: `the patterns together overran ${budgetMs} ms; it was the slowest alone (${Math.round(slowest.ms)} ms)` }];
  }
}
