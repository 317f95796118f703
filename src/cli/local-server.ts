/**
 * The Temporal server the seed's `run` commands look at on this host, and a temporary one for the
 * one-shot run when there is none: the seed's `python auto_fix_daemon.py` (one loop, then exit)
 * needed no server, so `autofix run` on a fresh host must not need one either.
 */
import os from 'node:os';
import { startDevServer, DevServerError, type RunningDevServer } from '../temporal/dev-server';
import { ensureTemporalCli, ProvisionError } from '../temporal/provision';
import { temporalTarget, type TemporalTarget } from '../temporal/connect';
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

/**
 * Runs `fn` against the local Temporal server; when TEMPORAL_ADDRESS is unset and none answers,
 * against a temporary in-memory dev server of its own, stopped when `fn` ends (or on a signal).
 * Its histories go with it: what the run did stays in auto_fix.log, alerts.log and the backups.
 * `fn` learns whether the server is temporary (then no other worker can serve its queue).
 */
export async function withLocalServer<T>(
  fn: (temporary: boolean) => Promise<T>,
  note: (line: string) => void,
): Promise<T> {
  const target = localTarget();
  if (process.env.TEMPORAL_ADDRESS) return await fn(false); // asked for by name: its errors are the user's to see
  if (await listening(target.address)) return await withAddress(target.address, () => fn(false));
  const cli = await temporalCli(); // a first build can take minutes: a Ctrl-C meanwhile just ends the run
  // From the spawn on, a signal must not leave the server behind.
  const signals = exitOnSignal();
  try {
    const server = await startTemporaryServer(cli);
    await signals.stopFirst(server);
    note(
      `no Temporal server answers on ${target.address}: this run uses a temporary in-memory one on ${server.address}, stopped when the run ends`,
    );
    try {
      return await withAddress(server.address, () => fn(true));
    } finally {
      await server.stop();
    }
  } finally {
    signals.off();
  }
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
    return await startDevServer({ cli, port: await freePort(), uiPort: await freePort() });
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

/**
 * A SIGTERM (or a Ctrl-C) ends the run as it would have ended the seed's, with the exit status of
 * that signal, but never leaves the temporary server behind: it is stopped first. A signal that
 * comes while the server starts is acted on once it has started (`stopFirst`, which then never
 * returns).
 */
function exitOnSignal(): { stopFirst(server: RunningDevServer): Promise<void>; off(): void } {
  const names: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  let server: RunningDevServer | undefined;
  let signalled: NodeJS.Signals | undefined;
  const exit = async (srv: RunningDevServer): Promise<never> => {
    await srv.stop().catch(() => undefined);
    process.exit(128 + (os.constants.signals[signalled as NodeJS.Signals] ?? 0));
  };
  const on = (s: NodeJS.Signals) => {
    if (signalled) return; // already stopping
    signalled = s;
    if (server) void exit(server);
  };
  for (const s of names) process.on(s, on);
  return {
    async stopFirst(srv) {
      server = srv;
      if (signalled) await exit(srv);
    },
    off: () => names.forEach((s) => process.off(s, on)),
  };
}
