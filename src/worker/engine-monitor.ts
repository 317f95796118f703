/**
 * Watches whether the Temporal server (the "engine") answers this worker, and says so when it
 * has not for a while. It runs in the worker process, not in a workflow: when the engine is gone
 * no workflow runs, so only the process itself can tell anyone.
 *
 * The monitor only decides; probing and alerting are injected, so the rules below are unit-tested
 * with a fake clock:
 * - an outage starts at the first failed probe after a good one (or after start);
 * - once it has lasted `outageAlertMs`, one outage alert is sent (never more for that outage);
 * - the first good probe after an alerted outage sends one recovery alert with its duration;
 *   an outage shorter than `outageAlertMs` alerts nobody (a restart of the server is routine).
 */
import { formatDuration } from '../util/duration';

/** What the monitor knows, for /metrics, the state file and `autofix status`. */
export interface EngineState {
  /** host:port of the engine. */
  address: string;
  /** Undefined until the first probe finished. */
  reachable?: boolean;
  /** When the engine last answered a probe (ms since the epoch). */
  lastOkAt?: number;
  /** First failed probe of the current outage (ms since the epoch); undefined while reachable. */
  unreachableSince?: number;
  /** The last probe's error, one line. */
  lastError?: string;
}

/** An alert the monitor asks to send. */
export interface EngineAlert {
  kind: 'outage' | 'recovered';
  address: string;
  /** Start of the outage (ms since the epoch). */
  since: number;
  /** How long the engine has been (outage) or was (recovered) unreachable, ms. */
  durationMs: number;
  /** The last probe error (outage only). */
  reason?: string;
}

export interface EngineMonitorOptions {
  address: string;
  /** Resolves when the engine answers; rejects (within its own time limit) when it does not. */
  probe: () => Promise<void>;
  /** Sends one alert; should not throw (a throw is logged and the monitor goes on). */
  alert: (a: EngineAlert) => Promise<void>;
  /** Unreachable this long before the outage alert. @default 30 000 */
  outageAlertMs?: number;
  /** Called after every probe with the new state (metrics, state file). */
  onState?: (s: Readonly<EngineState>, changed: boolean) => void | Promise<void>;
  /** One line for the process log. */
  log?: (line: string) => void;
  /** False once the worker has stopped: the monitor then stops too, and ignores a late result. */
  active?: () => boolean;
  /** Clock, ms since the epoch. @default Date.now */
  now?: () => number;
}

/** Default of `daemon.engine_outage_alert_seconds`, in ms. */
export const DEFAULT_OUTAGE_ALERT_MS = 30_000;

/**
 * Decides outage and recovery alerts from probe results. Drive it with `check()` (one probe) or
 * `start(intervalMs)` (a probe loop that does not keep the process alive).
 *
 * @example
 *   const m = new EngineMonitor({ address, probe: () => pingEngine(conn), alert: (a) => notify(a) });
 *   m.start(1000); // ... m.stop();
 */
export class EngineMonitor {
  private readonly state: EngineState;
  private alerted = false;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly now: () => number;
  private readonly outageAlertMs: number;

  constructor(private readonly o: EngineMonitorOptions) {
    this.state = { address: o.address };
    this.now = o.now ?? Date.now;
    this.outageAlertMs = o.outageAlertMs ?? DEFAULT_OUTAGE_ALERT_MS;
  }

  /** A copy of the current state. */
  snapshot(): EngineState {
    return { ...this.state };
  }

  /** Runs one probe and acts on its result. */
  async check(): Promise<void> {
    if (!this.isActive()) return this.halt();
    const startedAt = this.now();
    let error: string | undefined;
    try {
      await this.o.probe();
    } catch (e) {
      error = ((e as Error)?.message ?? String(e)).split('\n')[0] ?? 'error';
    }
    // A probe cut off by the worker's own shutdown says nothing about the engine.
    if (!this.isActive()) return this.halt();
    const wasReachable = this.state.reachable;
    if (error === undefined) await this.recordUp();
    else await this.recordDown(startedAt, error);
    await this.o.onState?.(this.snapshot(), wasReachable !== this.state.reachable);
  }

  private async recordUp(): Promise<void> {
    const at = this.now();
    const since = this.state.unreachableSince;
    if (since !== undefined) {
      const durationMs = at - since;
      this.o.log?.(`the Temporal server at ${this.o.address} answers again after ${formatDuration(durationMs)}`);
      if (this.alerted) await this.send({ kind: 'recovered', address: this.o.address, since, durationMs });
    }
    this.alerted = false;
    this.state.reachable = true;
    this.state.lastOkAt = at;
    delete this.state.unreachableSince;
    delete this.state.lastError;
  }

  private async recordDown(startedAt: number, error: string): Promise<void> {
    if (this.state.unreachableSince === undefined) {
      this.state.unreachableSince = startedAt;
      this.o.log?.(`cannot reach the Temporal server at ${this.o.address}: ${error}`);
    }
    this.state.reachable = false;
    this.state.lastError = error;
    const durationMs = this.now() - this.state.unreachableSince;
    if (!this.alerted && durationMs >= this.outageAlertMs) {
      this.alerted = true;
      this.o.log?.(`the Temporal server at ${this.o.address} has not answered for ${formatDuration(durationMs)}: alerting`);
      await this.send({ kind: 'outage', address: this.o.address, since: this.state.unreachableSince, durationMs, reason: error });
    }
  }

  private async send(a: EngineAlert): Promise<void> {
    try {
      await this.o.alert(a);
    } catch (e) {
      this.o.log?.(`could not send the engine ${a.kind} alert: ${(e as Error).message}`);
    }
  }

  /** Probes every `intervalMs` (the next probe starts after the previous one finished). */
  start(intervalMs: number): void {
    if (this.timer || this.running) return;
    const loop = () => {
      this.timer = undefined;
      this.running = this.check()
        .catch((e: Error) => this.o.log?.(`engine monitor: ${e.message}`))
        .finally(() => {
          this.running = undefined;
          if (this.stopped) return;
          this.timer = setTimeout(loop, intervalMs);
          this.timer.unref();
        });
    };
    this.stopped = false;
    loop();
  }

  private isActive(): boolean {
    return !this.stopped && (this.o.active?.() ?? true);
  }

  /** Stops the loop without waiting (callable from inside a check). */
  private halt(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Stops the loop; resolves when a probe in progress has finished. */
  async stop(): Promise<void> {
    this.halt();
    await this.running;
  }
}
