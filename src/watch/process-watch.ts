/**
 * Hears a watched process die within ~200 ms. Node cannot wait on a pidfd, and the services are
 * not our children (no SIGCHLD), so it polls — cheaply: every `tickMs` one pread of
 * /proc/<pid>/stat per watched pid, on a handle kept open (~3 µs each; no database or network
 * round trip). Not `kill(pid, 0)`: it succeeds on a zombie, and a killed daemon stays a zombie
 * until init reaps it — ~1 s on this VM, never under a container init that does not reap — and
 * it cannot tell a reused pid, while the open handle fails once its process is gone, whatever
 * pid comes next. The pids are resolved at start, right after a death (to find the restarted
 * process: 0.25, 0.5, 1, 2, 4, 8 s after it), and now and then — rarely, since a process that
 * replaces a watched one follows a death heard; these only find a service started while none
 * was watched (costs measured on ~100 processes: a pid file 2.5 ms, a port 3 ms, a full pass
 * 47 ms):
 *
 * - pid files every `verifyMs`, believed as `service_restart` believes them
 *   (src/processes/service-processes.ts: a safe file, not stale, a trusted user, and the command
 *   line matching `process_match` when there is one);
 * - port holders when the port's listening sockets change (/proc/net/tcp{,6} every `verifyMs`;
 *   the /proc/<pid>/fd scan that maps a socket to processes runs only then). Of a pre-forked
 *   server's processes only the first (whose parent holds no socket) is watched, so recycled
 *   workers wake nothing;
 * - `process_match` every `rescanMs` (a pass over /proc).
 */
import { listeningInodes, readProcess, whoHoldsPort } from '../proc';
import { cmdlineRegex } from '../processes/cmdline-match';
import { findServiceProcesses } from '../processes/service-processes';
import { ProcHandle } from './proc';
import type { PidSource } from './targets';

export interface ProcessWatchOptions {
  /** @default 200 */
  tickMs?: number;
  /** @default 30000 */
  verifyMs?: number;
  /** @default 300000 */
  rescanMs?: number;
  log?(message: string): void;
}

/** A death: the sources whose process it was and the checks that notice it. */
export interface ProcessDeath {
  pid: number;
  labels: string[];
  checks: string[];
}

interface Watched {
  handle: ProcHandle;
  /** Keys of the sources that named this pid. */
  sources: Set<string>;
}

/** Re-resolutions after a death, ms after it: the restarted process is usually there within seconds. */
const AFTER_DEATH_MS = [250, 500, 1000, 2000, 4000, 8000];

const keyOf = (s: PidSource) => `${s.kind}:${s.label}`;

/** Watches the pids of the configured sources; `onDeath` is called once per death. */
export class ProcessWatcher {
  private sources = new Map<string, PidSource>();
  private readonly pids = new Map<number, Watched>();
  /** Port → its listening socket inodes when last resolved (resolve again only when they change). */
  private readonly portInodes = new Map<number, string>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly afterDeath: NodeJS.Timeout[] = [];
  private readonly refused = new Set<string>();
  private resolving?: Promise<void>;
  private again = false;
  private closed = false;

  constructor(
    private readonly onDeath: (d: ProcessDeath) => void,
    private readonly o: ProcessWatchOptions = {},
  ) {
    this.timers.push(setInterval(() => this.tick(), o.tickMs ?? 200).unref());
    this.timers.push(setInterval(() => void this.resolve({ matches: false }), o.verifyMs ?? 30_000).unref());
    this.timers.push(setInterval(() => void this.resolve({ matches: true }), o.rescanMs ?? 300_000).unref());
  }

  /** Watches these sources from now on (a new config); resolves when their pids are. */
  async arm(sources: PidSource[]): Promise<void> {
    this.sources = new Map(sources.map((s) => [keyOf(s), s]));
    this.portInodes.clear();
    for (const [pid, w] of this.pids) {
      for (const k of w.sources) if (!this.sources.has(k)) w.sources.delete(k);
      if (w.sources.size === 0) this.unwatch(pid);
    }
    // A resolution of the old sources may be running: wait for it, then resolve the new ones.
    await this.resolving;
    await this.resolve({ matches: true });
  }

  /** The pids watched now, with the labels of their sources (for tests and status). */
  watched(): Map<number, string[]> {
    return new Map([...this.pids].map(([pid, w]) => [pid, [...w.sources].map((k) => this.sources.get(k)?.label ?? k)]));
  }

  close(): void {
    this.closed = true;
    for (const t of [...this.timers, ...this.afterDeath]) clearInterval(t);
    for (const pid of [...this.pids.keys()]) this.unwatch(pid);
  }

  /** The ~200 ms liveness poll: one pread per pid. */
  private tick(): void {
    for (const [pid, w] of [...this.pids]) if (w.handle.exited()) this.died(pid);
  }

  private died(pid: number): void {
    const w = this.pids.get(pid);
    if (!w || this.closed) return;
    this.unwatch(pid);
    const sources = [...w.sources].map((k) => this.sources.get(k)).filter((s): s is PidSource => s !== undefined);
    this.onDeath({ pid, labels: [...new Set(sources.map((s) => s.label))], checks: [...new Set(sources.flatMap((s) => s.checks))] });
    for (const t of this.afterDeath.splice(0)) clearTimeout(t);
    for (const ms of AFTER_DEATH_MS) this.afterDeath.push(setTimeout(() => void this.resolve({ matches: true }), ms).unref());
  }

  private unwatch(pid: number): void {
    this.pids.get(pid)?.handle.close();
    this.pids.delete(pid);
  }

  /** Resolves the sources' pids (one resolution at a time; a request meanwhile runs once after it). */
  private resolve(what: { matches: boolean }): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.resolving) {
      this.again ||= what.matches;
      return this.resolving;
    }
    this.resolving = this.resolveNow(what)
      .catch((err: Error) => this.o.log?.(`process watcher: ${err.message}`))
      .finally(() => {
        this.resolving = undefined;
        if (this.again) {
          this.again = false;
          void this.resolve({ matches: true });
        }
      });
    return this.resolving;
  }

  private async resolveNow(what: { matches: boolean }): Promise<void> {
    for (const [key, s] of this.sources) {
      if (s.kind === 'pid_file') this.setPids(key, await this.servicePids(key, s));
      else if (s.kind === 'process_match' && what.matches) this.setPids(key, await this.servicePids(key, s));
      else if (s.kind === 'port') {
        const now = [...(await listeningInodes(s.port))].sort().join(',');
        if (this.portInodes.get(s.port) === now) continue;
        this.portInodes.set(s.port, now);
        this.setPids(key, now ? await rootHolders(s.port) : []);
      }
    }
  }

  /** The pids of a service source: its pid file (checked as for a signal) or its `process_match`. */
  private async servicePids(key: string, s: Extract<PidSource, { kind: 'pid_file' | 'process_match' }>): Promise<number[]> {
    const only = s.kind === 'pid_file' ? { ...s.config, process_match: undefined } : { ...s.config, pid_file: undefined };
    try {
      const { found } = await findServiceProcesses(s.service, only);
      const match = s.kind === 'pid_file' && s.config.process_match ? cmdlineRegex(s.config.process_match) : null;
      this.refused.delete(key);
      return found.filter((p) => !match || match.test(p.cmdline)).map((p) => p.pid);
    } catch (err) {
      // An unsafe pid file (or an unknown user): nothing to watch; said once, not at every resolution.
      if (!this.refused.has(key)) this.o.log?.(`process watcher, ${s.label}: ${(err as Error).message}`);
      this.refused.add(key);
      return [];
    }
  }

  /** Makes `pids` the pids of source `key`: new ones watched from now, others no longer for it. */
  private setPids(key: string, pids: number[]): void {
    if (this.closed || !this.sources.has(key)) return;
    // Never PID 1 or the worker itself: their end is not a service's death.
    const now = new Set(pids.filter((p) => p > 1 && p !== process.pid));
    for (const [pid, w] of [...this.pids]) {
      if (!w.sources.has(key) || now.has(pid)) continue;
      // A source lost it because it died: that is a death (the tick may not have seen it yet).
      if (w.handle.exited()) this.died(pid);
      else {
        w.sources.delete(key);
        if (w.sources.size === 0) this.unwatch(pid);
      }
    }
    for (const pid of now) {
      const w = this.pids.get(pid);
      if (w) w.sources.add(key);
      else {
        const handle = ProcHandle.open(pid);
        if (handle) this.pids.set(pid, { handle, sources: new Set([key]) });
      }
    }
  }
}

/** The processes listening on `port` whose parent does not hold it too (a pre-forked server's master). */
async function rootHolders(port: number): Promise<number[]> {
  const holders = new Set((await whoHoldsPort(port)).map((h) => h.pid));
  const roots: number[] = [];
  for (const pid of holders) if (!holders.has((await readProcess(pid))?.ppid ?? -1)) roots.push(pid);
  return roots;
}
