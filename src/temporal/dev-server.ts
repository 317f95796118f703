/**
 * Starts (or finds already running) the Temporal CLI's dev server: SQLite under the data dir so
 * workflows survive restarts, gRPC on 7233, Web UI on 8233. A pid file next to the database
 * makes a second `autofix up` attach instead of starting a second server on the same file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import {
  accessSync,
  closeSync,
  constants,
  mkdirSync,
  openSync,
  readFileSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import { canConnect } from '../util/net';

/** Thrown when the dev server cannot start; the message names the cause and the fix. */
export class DevServerError extends Error {
  override readonly name = 'DevServerError';
}

export interface DevServerOptions {
  /** The Temporal CLI binary. */
  cli: string;
  /** SQLite file; `undefined` = in-memory (tests). */
  dbFile?: string;
  ip?: string;
  port?: number;
  uiPort?: number;
  namespace?: string;
  /** Where the server's own log goes (default: next to the database, or ignored). */
  logFile?: string;
  startTimeoutMs?: number;
}

export interface RunningDevServer {
  address: string;
  uiUrl: string;
  /** Present when this process started the server (and so should stop it). */
  child?: ChildProcess;
  pid?: number;
  attached: boolean;
  stop(): Promise<void>;
}

/** True when a process with this pid exists. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function pidFileOf(dbFile: string): string {
  return `${dbFile}.pid`;
}

/** A running server recorded in the pid file next to `dbFile`, if its process is alive. */
export function recordedServer(dbFile: string): { pid: number; address: string; uiUrl: string } | undefined {
  try {
    const rec = JSON.parse(readFileSync(pidFileOf(dbFile), 'utf8')) as {
      pid: number;
      address: string;
      uiUrl: string;
    };
    return pidAlive(rec.pid) ? rec : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts the dev server, or attaches to the one already running on the same database.
 *
 * @example
 *   const server = await startDevServer({ cli, dbFile: 'data/temporal/dev.db' });
 *   console.log(server.uiUrl); // http://127.0.0.1:8233
 */
export async function startDevServer(opts: DevServerOptions): Promise<RunningDevServer> {
  const ip = opts.ip ?? '127.0.0.1';
  const port = opts.port ?? 7233;
  const uiPort = opts.uiPort ?? 8233;
  const address = `${ip}:${port}`;
  const uiUrl = `http://${ip}:${uiPort}`;
  if (opts.dbFile) {
    const dir = path.dirname(opts.dbFile);
    try {
      mkdirSync(dir, { recursive: true });
      accessSync(dir, constants.W_OK);
    } catch (e) {
      throw new DevServerError(
        `the data directory ${dir} cannot be created or written (${(e as NodeJS.ErrnoException).code ?? String(e)}). ` +
          'Fix its permissions, or choose another place with AUTOFIX_DATA_DIR=/writable/dir.',
      );
    }
    const rec = recordedServer(opts.dbFile);
    if (rec) {
      return {
        address: rec.address,
        uiUrl: rec.uiUrl,
        pid: rec.pid,
        attached: true,
        stop: async () => undefined,
      };
    }
  }
  for (const [p, what] of [
    [port, 'gRPC'],
    [uiPort, 'Web UI'],
  ] as const) {
    if (await canConnect(p, ip)) {
      throw new DevServerError(
        `port ${p} (${what}) on ${ip} is already in use by another program, so the Temporal dev server cannot start. ` +
          `Find it with \`ss -ltnp 'sport = :${p}'\` and stop it, or if it is a Temporal server you want to use, set TEMPORAL_ADDRESS=${ip}:${port}; ` +
          'or pick other ports with AUTOFIX_TEMPORAL_PORT / AUTOFIX_UI_PORT.',
      );
    }
  }
  const args = [
    'server',
    'start-dev',
    '--ip',
    ip,
    '--port',
    String(port),
    '--ui-port',
    String(uiPort),
    '--namespace',
    opts.namespace ?? 'default',
    '--log-level',
    'warn',
  ];
  if (opts.dbFile) args.push('--db-filename', opts.dbFile);
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES))
    args.push('--search-attribute', `${name}=${type}`);
  const logFd = opts.logFile ? openSync(opts.logFile, 'a') : undefined;
  const child = spawn(opts.cli, args, {
    stdio: ['ignore', logFd ?? 'ignore', logFd ?? 'pipe'],
    detached: false,
  });
  if (logFd !== undefined) closeSync(logFd);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
  let exited: number | null = null;
  child.once('exit', (code) => (exited = code ?? -1));
  const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
  while (!(await canConnect(port, ip)) || !(await canConnect(uiPort, ip))) {
    if (exited !== null) {
      const log = opts.logFile ? readTail(opts.logFile) : stderr;
      throw new DevServerError(
        `the Temporal dev server exited with code ${exited} before it answered. Its output:\n${log.trim().split('\n').slice(-10).join('\n')}`,
      );
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new DevServerError(
        `the Temporal dev server did not answer on ${address} within ${Math.round((opts.startTimeoutMs ?? 60_000) / 1000)} s.`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  if (opts.dbFile) writeFileSync(pidFileOf(opts.dbFile), JSON.stringify({ pid: child.pid, address, uiUrl }));
  const stop = async () => {
    if (opts.dbFile) {
      try {
        unlinkSync(pidFileOf(opts.dbFile));
      } catch {
        /* already gone */
      }
    }
    if (exited !== null) return;
    const done = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await done;
    clearTimeout(t);
  };
  return { address, uiUrl, child, ...(child.pid ? { pid: child.pid } : {}), attached: false, stop };
}

function readTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').slice(-4000);
  } catch {
    return '';
  }
}
