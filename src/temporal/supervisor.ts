/**
 * Keeps the embedded dev server alive for `autofix up`. When the server it started exits (OOM
 * killer, crash, kill -9), it is started again on the same database and ports after a backoff
 * (0.5 s doubling to 30 s; back to 0.5 s once a server has run a stable minute). When starting it
 * again cannot work (a port taken by another process, a corrupt database, a full disk, or
 * `maxFailedStarts` failed starts in a row) supervision gives up and `failure` resolves with the
 * reason: `up` then exits non-zero, and systemd's Restart= (or a person) takes over.
 */
import { briefFailure, describeHolders, DevServerError, startDevServer, type DevServerExit, type DevServerOptions, type RunningDevServer } from './dev-server';
import { serversOnDatabase, type ServerProcess } from './server-processes';
import { formatDuration } from '../util/duration';
import { terminateProcess } from '../processes/signals';

/** Restart pacing. */
export interface BackoffOptions {
  /** First delay. @default 500 */
  initialMs?: number;
  /** Largest delay. @default 30 000 */
  maxMs?: number;
  /** A server that ran this long resets the delay to `initialMs`. @default 60 000 */
  stableMs?: number;
}

/**
 * The delay before the next restart: `initialMs` after a stable run or the first time, else the
 * previous delay doubled, at most `maxMs`.
 *
 * @example nextRestartDelay(4000, 2000) // 8000
 */
export function nextRestartDelay(previousMs: number | undefined, uptimeMs: number, o: BackoffOptions = {}): number {
  const initial = o.initialMs ?? 500;
  if (previousMs === undefined || uptimeMs >= (o.stableMs ?? 60_000)) return initial;
  return Math.min(previousMs * 2, o.maxMs ?? 30_000);
}

export interface SupervisorOptions {
  /** How to start the server; `dbFile` is required (a supervised in-memory server would lose all). */
  server: DevServerOptions & { dbFile: string };
  /** One line for the operator (up's output). */
  say: (line: string) => void;
  backoff?: BackoffOptions;
  /** Failed starts in a row (server exits before answering) before giving up. @default 5 */
  maxFailedStarts?: number;
}

/** Thrown when a server that is not ours (another user's) runs on the database. */
export class DatabaseInUseError extends DevServerError {
  override readonly name = 'DatabaseInUseError';
  override readonly permanent = true;
}

function describeExit(e: DevServerExit): string {
  return e.signal ? `killed by ${e.signal}` : `exit code ${e.code}`;
}

/**
 * Starts the dev server and restarts it whenever it exits unasked.
 *
 * @example
 *   const sup = new DevServerSupervisor({ server: { cli, dbFile }, say: console.log });
 *   await sup.start();
 *   const reason = await sup.failure; // only when it cannot go on
 */
export class DevServerSupervisor {
  /** Resolves when supervision gives up; the error says why. */
  readonly failure: Promise<DevServerError>;
  /** Restarts done so far. */
  restarts = 0;
  private giveUp!: (e: DevServerError) => void;
  private server: RunningDevServer | undefined;
  private stopping = false;
  private delayMs: number | undefined;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  private readonly o: SupervisorOptions;

  constructor(o: SupervisorOptions) {
    this.o = { ...o, server: { ...o.server, ownProcessGroup: true } };
    this.failure = new Promise((resolve) => (this.giveUp = resolve));
  }

  /**
   * First start: takes over a server left running on this database by an earlier `up` (one of
   * this user's; another user's server is refused), then starts and watches a fresh one. A start
   * that fails for a reason not known to be permanent (seen: the CLI panicking while it picked one
   * of its own random ports on a busy machine) is tried again like a restart. Throws
   * DevServerError when it cannot start.
   */
  async start(): Promise<RunningDevServer> {
    const server = await this.startRetrying('starting');
    this.watch(server);
    return server;
  }

  /** Servers on our database that no `up` supervises (ours holds the instance lock). */
  private async stopStrayServers(): Promise<void> {
    const uid = process.getuid?.() ?? 0;
    for (const p of await serversOnDatabase(this.o.server.dbFile)) {
      if (p.uid !== uid) {
        throw new DatabaseInUseError(
          `a Temporal server of another user, ${describeHolders([p])}, uses ${this.o.server.dbFile}; ` +
            'two servers on one database would corrupt it. Stop that server first.',
        );
      }
      this.o.say(`a dev server left running on ${this.o.server.dbFile} by an earlier start (pid ${p.pid}) is stopped, to run one under supervision`);
      await stopStray(p);
    }
  }

  private watch(server: RunningDevServer): void {
    this.server = server;
    const startedAt = Date.now();
    void server.exited?.then((exit) => {
      if (this.stopping || this.server !== server) return;
      this.server = undefined;
      this.delayMs = nextRestartDelay(this.delayMs, Date.now() - startedAt, this.o.backoff);
      this.o.say(
        `the Temporal dev server (pid ${server.pid}) stopped (${describeExit(exit)}) after ${formatDuration(Date.now() - startedAt)}; ` +
          `restarting it in ${this.delayMs / 1000} s`,
      );
      this.loop = this.restart();
    });
  }

  /** Restarts until a server answers, a permanent failure, or too many failed starts. */
  private async restart(): Promise<void> {
    await this.sleep(this.delayMs ?? 0);
    if (this.stopping) return;
    let server: RunningDevServer | undefined;
    try {
      server = await this.startRetrying('restarting');
    } catch (e) {
      if (!this.stopping) this.giveUp(e as DevServerError);
      return;
    }
    if (this.stopping) return void (await server.stop());
    this.restarts++;
    this.o.say(`Temporal dev server restarted on ${server.address} (pid ${server.pid}, restart ${this.restarts}); the worker reconnects by itself`);
    this.watch(server);
  }

  /**
   * Starts a server on our database (stopping strays first: nobody may start another on it
   * meanwhile), again after each failure that is not permanent, with the backoff, until
   * `maxFailedStarts` failures in a row. Throws the last failure.
   */
  private async startRetrying(what: 'starting' | 'restarting'): Promise<RunningDevServer> {
    for (let failed = 1; ; failed++) {
      try {
        await this.stopStrayServers();
        return await startDevServer(this.o.server);
      } catch (e) {
        const err = e instanceof DevServerError ? e : new DevServerError((e as Error).message);
        if (err.permanent || this.stopping || failed >= (this.o.maxFailedStarts ?? 5)) {
          if (!err.permanent) this.o.say(`giving up on the Temporal dev server after ${failed} failed start${failed > 1 ? 's' : ''}`);
          throw err;
        }
        this.delayMs = nextRestartDelay(this.delayMs, 0, this.o.backoff);
        this.o.say(`${what} the Temporal dev server failed (${briefFailure(err.message)}); trying again in ${this.delayMs / 1000} s`);
        await this.sleep(this.delayMs);
        if (this.stopping) throw err;
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  /** Stops supervising and stops the server (a restart in progress is abandoned). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.loop;
    await this.server?.stop();
    this.server = undefined;
  }
}

/** Nothing denies stopping a stray server: it is this user's, on our database (checked above). */
const STRAY_SERVER_GUARD = { reason: async () => null };

/**
 * Stops a stray server like any process autofix stops (SIGTERM, 10 s, SIGKILL; its identity read
 * again before each signal, so a pid reused meanwhile gets nothing).
 */
async function stopStray(p: ServerProcess): Promise<void> {
  try {
    await terminateProcess(p, { graceMs: 10_000, guard: STRAY_SERVER_GUARD });
  } catch (e) {
    throw new DevServerError(`the stray Temporal server pid ${p.pid} did not stop (${(e as Error).message}); stop it by hand first.`);
  }
}
