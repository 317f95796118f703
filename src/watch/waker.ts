/**
 * Turns what the watchers hear into wakes of the daemon (`runNow` with `{ reason, checks }`),
 * coalesced so that no event rate can make a storm of them:
 *
 * - At most one wake in flight: after signalling, the waker sends nothing more until a loop has
 *   started after the signal with every check the wake named (the `detect` activity runs in this
 *   process and says so through `loopStarted`). Events meanwhile merge into one pending wake.
 * - A loop that starts after an event and runs its checks covers it, whoever started the loop
 *   (a scheduled loop makes a pending wake unnecessary).
 * - Wakes are spaced out while events keep coming: the first at once, then 1 s, 2 s, 4 s … apart,
 *   up to `maxGapMs` (the loop interval); a quiet spell of twice the current spacing resets it.
 *   A burst of any size and length costs a handful of loops and bounded history, while events
 *   seconds apart (a process that dies again, a second error) each wake the daemon at once.
 * - And a budget: at most `BUDGET` wakes at once, refilled by one every half loop interval, so
 *   whoever can write to a watched log cannot buy more than ~2 extra loops per loop interval
 *   (240 an hour at 30 s loops) by spacing lines just past the reset.
 * - A wake not followed by a loop (signal lost in a continue-as-new, server unreachable) is sent
 *   again after 5 s, 10 s, … 60 s.
 *
 * Memory is constant whatever the event rate: one pending wake (a reason and a few check names)
 * and at most `MAX_LEARNED` daemon ids.
 */
import type { RunNowArgs, WakeReason } from '../workflows/definitions';

/** What a watcher heard. */
export interface WakeEvent {
  reason: WakeReason;
  /** Periodic checks the loop should run now (e.g. `redis` when its process died). */
  checks?: readonly string[];
}

/** A loop starting in this worker (from the detect activity). */
export interface LoopStarted {
  workflowId: string;
  /** Worker clock (ms), taken before the loop reads anything. */
  at: number;
  checks: readonly string[];
}

/** Timers and time, injectable so the coalescing is tested step by step. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface WakerOptions {
  /** Signals one daemon; rejects when it cannot. */
  send(workflowId: string, args: RunNowArgs): Promise<void>;
  /** True when a send failed because that workflow is not running (it is then forgotten). */
  isGone?(err: unknown): boolean;
  /** Daemon workflow ids known from the start (the CLI's id for this host); others are learned from loops. */
  targets?: readonly string[];
  /** @default 1000 */
  minGapMs?: number;
  /** @default 30000 */
  maxGapMs?: number;
  /** First resend delay of a wake no loop followed. @default 5000 */
  retryMs?: number;
  clock?: Clock;
  log?(message: string): void;
}

/** Daemon ids learned from loops (one-shot runs come and go): the newest are kept. */
const MAX_LEARNED = 16;
/** Wakes that may be spent at once; one comes back every half `maxGapMs`. */
const BUDGET = 10;
const MAX_RETRY_MS = 60_000;
/** When several reasons merge, the wake names the strongest (for people reading the logs). */
const STRENGTH: Record<WakeReason, number> = { log: 0, json: 1, process: 2 };

interface Wake {
  reason: WakeReason;
  checks: Set<string>;
  /** Latest event (pending) or the send time (in flight): a loop must start at or after it. */
  since: number;
}

const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** The coalescer. One per worker process. See the module comment. */
export class Waker {
  /** Counters for tests and benchmarks. */
  readonly stats = { events: 0, wakes: 0, covered: 0, failures: 0 };
  private pending?: Wake;
  private inFlight?: Wake;
  private retries = 0;
  private lastSentAt = -Infinity;
  private streak = 0;
  private tokens = BUDGET;
  private refilledAt: number;
  private flushTimer?: unknown;
  private retryTimer?: unknown;
  private closed = false;
  private lastLoggedAt = -Infinity;
  private readonly fixed: Set<string>;
  private readonly learned = new Map<string, number>();
  private readonly clock: Clock;
  private minGapMs: number;
  private maxGapMs: number;

  constructor(private readonly o: WakerOptions) {
    this.fixed = new Set(o.targets ?? []);
    this.clock = o.clock ?? realClock;
    this.minGapMs = o.minGapMs ?? 1000;
    this.maxGapMs = o.maxGapMs ?? 30_000;
    this.refilledAt = this.clock.now();
  }

  /** Sets the longest spacing of wakes (the loop interval of the current config). */
  setMaxGap(ms: number): void {
    this.maxGapMs = Math.max(this.minGapMs, ms);
  }

  /** A watcher heard something: merge it into the pending wake and send it when allowed. */
  notify(e: WakeEvent): void {
    if (this.closed) return;
    this.stats.events++;
    this.pending = merge(this.pending, e.reason, e.checks ?? [], this.clock.now());
    this.schedule();
  }

  /** A loop started in this worker: learn its daemon, and settle what it covers. */
  loopStarted(l: LoopStarted): void {
    if (this.closed) return;
    this.learn(l.workflowId, l.at);
    if (this.inFlight && covers(l, this.inFlight)) {
      this.inFlight = undefined;
      this.retries = 0;
      this.stats.covered++;
      this.clock.clearTimeout(this.retryTimer);
    }
    if (this.pending && covers(l, this.pending)) this.pending = undefined;
    this.schedule();
  }

  /** True while a wake waits to be sent or for its loop. */
  get busy(): boolean {
    return this.pending !== undefined || this.inFlight !== undefined;
  }

  /** Stops all timers; later events are ignored. */
  close(): void {
    this.closed = true;
    this.clock.clearTimeout(this.flushTimer);
    this.clock.clearTimeout(this.retryTimer);
  }

  private targets(): string[] {
    return [...new Set([...this.fixed, ...this.learned.keys()])];
  }

  private learn(id: string, at: number): void {
    this.learned.delete(id);
    this.learned.set(id, at);
    while (this.learned.size > MAX_LEARNED) this.learned.delete(this.learned.keys().next().value as string);
  }

  /** The spacing before the next wake: doubles with each wake sent within twice the spacing of the last. */
  private gap(): number {
    return Math.min(this.maxGapMs, this.minGapMs * 2 ** this.streak);
  }

  /** Milliseconds until a wake may be spent (0 when one is in the budget). */
  private budgetWait(now: number): number {
    const refillMs = this.maxGapMs / 2;
    this.tokens = Math.min(BUDGET, this.tokens + (now - this.refilledAt) / refillMs);
    this.refilledAt = now;
    return this.tokens >= 1 ? 0 : Math.ceil((1 - this.tokens) * refillMs);
  }

  private schedule(): void {
    if (this.closed || !this.pending || this.inFlight || this.flushTimer !== undefined) return;
    const now = this.clock.now();
    const wait = Math.max(0, this.lastSentAt + this.gap() - now, this.budgetWait(now));
    this.flushTimer = this.clock.setTimeout(() => {
      this.flushTimer = undefined;
      this.flush();
    }, wait);
  }

  private flush(): void {
    const targets = this.targets();
    // No daemon known yet: the wake stays pending; the first loop teaches one (and covers it).
    if (this.closed || !this.pending || this.inFlight || targets.length === 0) return;
    const now = this.clock.now();
    if (this.budgetWait(now) > 0) return this.schedule();
    this.tokens -= 1;
    this.streak = now - this.lastSentAt < 2 * this.gap() ? Math.min(this.streak + 1, 30) : 0;
    this.lastSentAt = now;
    const wake: Wake = { ...this.pending, since: now };
    this.pending = undefined;
    this.inFlight = wake;
    this.stats.wakes++;
    const args: RunNowArgs = { reason: wake.reason, ...(wake.checks.size ? { checks: [...wake.checks] as RunNowArgs['checks'] } : {}) };
    void Promise.allSettled(targets.map((id) => this.o.send(id, args))).then((results) => this.sent(wake, targets, results));
  }

  /** After a send: forget daemons that are gone; arm the resend in case no loop follows. */
  private sent(wake: Wake, targets: string[], results: PromiseSettledResult<void>[]): void {
    let delivered = 0;
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') return void delivered++;
      this.stats.failures++;
      const id = targets[i] as string;
      if (this.o.isGone?.(r.reason)) this.learned.delete(id);
      else this.report(`cannot wake the daemon ${id}: ${(r.reason as Error)?.message ?? String(r.reason)}`);
    });
    if (this.closed || this.inFlight !== wake) return;
    const delay = delivered === 0 && this.targets().length === 0 ? 0 : Math.min(MAX_RETRY_MS, (this.o.retryMs ?? 5000) * 2 ** this.retries);
    this.retryTimer = this.clock.setTimeout(() => this.resend(wake), delay);
  }

  /** No loop followed the wake: put it back in the pending one and send again. */
  private resend(wake: Wake): void {
    if (this.closed || this.inFlight !== wake) return;
    this.inFlight = undefined;
    this.retries++;
    this.pending = merge(this.pending, wake.reason, [...wake.checks], wake.since);
    this.schedule();
  }

  /** Logs a failure at most once a minute. */
  private report(message: string): void {
    const now = this.clock.now();
    if (now - this.lastLoggedAt < 60_000) return;
    this.lastLoggedAt = now;
    this.o.log?.(message);
  }
}

function merge(w: Wake | undefined, reason: WakeReason, checks: readonly string[], at: number): Wake {
  const out = w ?? { reason, checks: new Set<string>(), since: at };
  if (STRENGTH[reason] > STRENGTH[out.reason]) out.reason = reason;
  for (const c of checks) out.checks.add(c);
  out.since = Math.max(out.since, at);
  return out;
}

/** A loop covers a wake when it started at or after it and runs every check it named. */
function covers(l: LoopStarted, w: Wake): boolean {
  return l.at >= w.since && [...w.checks].every((c) => l.checks.includes(c));
}
