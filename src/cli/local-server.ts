/**
 * The Temporal server the seed's `run` commands look at on this host, and a temporary one for the
 * one-shot run when there is none: the seed's `python auto_fix_daemon.py` (one loop, then exit)
 * needed no server, so `autofix run` on a fresh host must not need one either.
 */
import os from 'node:os';
import path from 'node:path';
import {
  describeHolders,
  startDevServer,
  DevServerError,
  type RunningDevServer,
} from '../temporal/dev-server';
import { workersOf } from '../worker/presence';
import { ensureTemporalCli, ProvisionError } from '../temporal/provision';
import { connectTemporal, temporalTarget, type TemporalTarget } from '../temporal/connect';
import { canConnect, freePort } from '../util/net';
import { CliError } from './output';

/**
 * TEMPORAL_ADDRESS, else the local dev server `up` would start (127.0.0.1 on
 * AUTOFIX_TEMPORAL_PORT, default 7233).
 */
export function localTarget(): TemporalTarget {
  const t = temporalTarget();
  return process.env.TEMPORAL_ADDRESS
    ? t
    : { ...t, address: `127.0.0.1:${process.env.AUTOFIX_TEMPORAL_PORT ?? 7233}` };
}

/** True unless nothing accepts TCP connections at `address` (a fresh host: start a server). */
export async function listening(address: string): Promise<boolean> {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(address);
  if (!m) return true; // let the connection itself say what is wrong
  return canConnect(Number(m[2]), m[1] as string, 2000);
}

/** What `fn` of withLocalServer learns about the server it runs on. */
export interface LocalServerRun {
  /** A temporary server: no other worker can serve the run's queue. */
  temporary: boolean;
  /** Aborted on SIGINT/SIGTERM/SIGHUP during a temporary-server run: start nothing new, drain the worker. */
  stopping: AbortSignal;
}

/**
 * Runs `fn` against the local Temporal server; when TEMPORAL_ADDRESS is unset and none answers,
 * against a temporary in-memory dev server of its own, stopped when `fn` ends (or on a signal).
 * Its histories go with it: what the run did stays in auto_fix.log, alerts.log and the backups.
 * Refused when a worker of the same config (`dataDir`) runs on this host: that daemon's fixes
 * go through a server this run cannot see, and two servers do not serialise fixes.
 */
export async function withLocalServer<T>(
  fn: (run: LocalServerRun) => Promise<T>,
  o: { note: (line: string) => void; dataDir: () => string },
): Promise<T> {
  const target = localTarget();
  const notStopping = new AbortController().signal;
  if (process.env.TEMPORAL_ADDRESS) return await fn({ temporary: false, stopping: notStopping }); // asked for by name: its errors are the user's
  if (await listening(target.address)) {
    await answersAsTemporal(target);
    return await withAddress(target.address, () => fn({ temporary: false, stopping: notStopping }));
  }
  refuseRemoteCredentials(target);
  await refuseBesideAWorker(target.address, o.dataDir());
  const cli = await temporalCli(); // a first build can take minutes: a Ctrl-C meanwhile just ends the run
  // From the spawn on, a signal must not leave the server behind.
  const signals = exitOnSignal(o.note);
  try {
    const server = await startTemporaryServer(cli).catch(async (err: unknown) => {
      await signals.exitIfSignalled(); // a Ctrl-C that reached the starting server too
      throw err;
    });
    await signals.stopFirst(server);
    o.note(
      `no Temporal server answers on ${target.address}: this run uses a temporary in-memory one on ${server.address}, stopped when the run ends`,
    );
    try {
      return await withAddress(server.address, () => fn({ temporary: true, stopping: signals.stopping }));
    } finally {
      await server.stop();
      await signals.exitIfSignalled();
    }
  } finally {
    signals.off();
  }
}

/** Where the local server is looked for, as the user would set it. */
function localPortSetting(): string {
  const port = process.env.AUTOFIX_TEMPORAL_PORT;
  return port ? `AUTOFIX_TEMPORAL_PORT=${port}` : 'AUTOFIX_TEMPORAL_PORT, default 7233';
}

/**
 * Fails with a message about the local port when what listens there is not a Temporal server:
 * the connection errors further on would say "check TEMPORAL_ADDRESS", which the user never set.
 */
async function answersAsTemporal(target: TemporalTarget): Promise<void> {
  let conn: Awaited<ReturnType<typeof connectTemporal>>;
  try {
    conn = await connectTemporal(target);
  } catch (err) {
    const cause = (err as Error).cause ?? err;
    throw new CliError(
      `something accepts connections on ${target.address} (${localPortSetting()}), but no Temporal server answers there (${String((cause as Error)?.message ?? cause).split('\n')[0]}). ` +
        'If another program holds that port, give autofix its own: AUTOFIX_TEMPORAL_PORT=<the port `npm start` uses>, or TEMPORAL_ADDRESS=host:port of a running server.',
      1,
    );
  }
  await conn.connection.close();
}

/**
 * TLS or an API key without TEMPORAL_ADDRESS are meant for a server the user has not named: a
 * temporary local server speaks neither, and an API key is not sent to a server nobody chose.
 */
function refuseRemoteCredentials(target: TemporalTarget): void {
  if (!target.tls && !target.apiKey) return;
  const names = Object.keys(process.env).filter((k) => /^TEMPORAL_(TLS|API_KEY)/.test(k) && process.env[k]);
  throw new CliError(
    `no Temporal server answers on ${target.address}, and ${names.join(', ')} ${names.length > 1 ? 'are' : 'is'} set for a server TEMPORAL_ADDRESS does not name. ` +
      'Set TEMPORAL_ADDRESS=host:port of that server, or unset them to run this on a temporary local server.',
    1,
  );
}

async function refuseBesideAWorker(address: string, dataDir: string): Promise<void> {
  const others = await workersOf(dataDir);
  if (!others.count) return;
  const who = others.holders.length
    ? describeHolders(others.holders)
    : `${others.count} process(es) of another user`;
  throw new CliError(
    `no Temporal server answers on ${address}, but an autofix worker of this config (data directory ${path.resolve(dataDir)}) runs on this host: ${who}. ` +
      'Its fixes go through the Temporal server it uses; a run on a temporary server would not be serialised with them. ' +
      "Point this run at that server with TEMPORAL_ADDRESS (see the worker's unit or environment), or stop that worker first.",
    1,
  );
}

const CANNOT_START =
  'No Temporal server runs here and a temporary one could not be started; `npm start` runs one.';

async function temporalCli(): Promise<string> {
  try {
    return await ensureTemporalCli();
  } catch (err) {
    if (err instanceof ProvisionError) throw new CliError(`${err.message}\n${CANNOT_START}`, 1);
    throw err;
  }
}

async function startTemporaryServer(cli: string): Promise<RunningDevServer> {
  try {
    // Its own process group: a Ctrl-C is this process's to handle (it stops the server itself).
    const namespace = temporalTarget().namespace;
    return await startDevServer({
      cli,
      port: await freePort(),
      uiPort: await freePort(),
      namespace,
      ownProcessGroup: true,
      dieWithParent: true,
    });
  } catch (err) {
    if (err instanceof DevServerError) throw new CliError(`${err.message}\n${CANNOT_START}`, 1);
    throw err;
  }
}

/** Points the commands' Temporal target at `address` while `fn` runs. */
async function withAddress<T>(address: string, fn: () => Promise<T>): Promise<T> {
  const before = process.env.TEMPORAL_ADDRESS;
  process.env.TEMPORAL_ADDRESS = address;
  try {
    return await fn();
  } finally {
    if (before === undefined) delete process.env.TEMPORAL_ADDRESS;
    else process.env.TEMPORAL_ADDRESS = before;
  }
}

/** How long a worker gets to drain after a signal before the run is ended anyway. */
const DRAIN_MS = 30_000;

/**
 * A SIGINT/SIGTERM/SIGHUP ends the run with that signal's exit status and never leaves the
 * temporary server behind. Once the run is under way it is asked to stop (`stopping`): nothing new
 * starts and the worker drains, as on the daemon's worker, so a fix is not cut between two steps;
 * then the server stops and the process exits. A second signal, or a drain longer than DRAIN_MS,
 * ends it at once (the server still stopped first). A signal while the server starts is acted on
 * once it has started (`stopFirst`, which then never returns).
 */
function exitOnSignal(note: (line: string) => void): {
  stopping: AbortSignal;
  stopFirst(server: RunningDevServer): Promise<void>;
  exitIfSignalled(): Promise<void>;
  off(): void;
} {
  const names: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const ctl = new AbortController();
  let server: RunningDevServer | undefined;
  let signalled: NodeJS.Signals | undefined;
  const exit = async (): Promise<never> => {
    await server?.stop().catch(() => undefined);
    process.exit(128 + (os.constants.signals[signalled as NodeJS.Signals] ?? 0));
  };
  const on = (s: NodeJS.Signals) => {
    if (signalled) return void exit(); // a second signal: no more waiting
    signalled = s;
    if (!server) return; // still starting: stopFirst acts
    note(
      `${s}: stopping; a fix in progress may finish first (up to ${DRAIN_MS / 1000} s, a second signal stops at once)`,
    );
    ctl.abort();
    setTimeout(() => void exit(), DRAIN_MS).unref();
  };
  for (const s of names) process.on(s, on);
  return {
    stopping: ctl.signal,
    async stopFirst(srv) {
      server = srv;
      if (signalled) await exit();
    },
    async exitIfSignalled() {
      if (signalled) await exit();
    },
    off: () => names.forEach((s) => process.off(s, on)),
  };
}
