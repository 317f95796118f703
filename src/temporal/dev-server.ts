/**
 * Starts the Temporal CLI's dev server: SQLite under the data dir so workflows survive restarts,
 * gRPC on 7233, Web UI on 8233. One start, checked: ports free (else the error names the process
 * holding them), a new database created crash-safely, and a start that fails says why (port,
 * corrupt database, full disk). Keeping it alive is the supervisor's job (./supervisor.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, chmodSync, closeSync, constants, createWriteStream, existsSync, fsyncSync, openSync, renameSync, rmSync } from 'node:fs';
import { ensurePrivateDirSync } from '../util/private-dir';
import path from 'node:path';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import { canConnect } from '../util/net';
import { whoHoldsPort, type PortHolder } from '../proc';
import { resolverOn } from '../deploy/resolve-command';

/** Thrown when the dev server cannot start; the message names the cause and the fix. */
export class DevServerError extends Error {
  override readonly name: string = 'DevServerError';
  /** True when starting again cannot help (a person must act): the supervisor gives up at once. */
  readonly permanent: boolean = false;
}

/** Thrown when a port the server needs is held by another process. */
export class PortInUseError extends DevServerError {
  override readonly name = 'PortInUseError';
  override readonly permanent = true;
  constructor(
    readonly port: number,
    readonly what: string,
    readonly holders: PortHolder[],
    message: string,
  ) {
    super(message);
  }
}

/** Thrown when the server reports its SQLite database unreadable (corrupt, incomplete). */
export class DatabaseCorruptError extends DevServerError {
  override readonly name = 'DatabaseCorruptError';
  override readonly permanent = true;
}

/** Thrown when the server cannot write its database: the disk (or its quota) is full. */
export class DiskFullError extends DevServerError {
  override readonly name = 'DiskFullError';
  override readonly permanent = true;
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
  /** Where the server's own output is appended (its last 8 kB are also kept in memory). */
  logFile?: string;
  startTimeoutMs?: number;
  /**
   * Run the server in a process group of its own, so that a Ctrl-C or a hang-up meant for its
   * parent does not reach it at the same moment: the parent stops it itself (a supervisor would
   * otherwise see a crash to repair).
   */
  ownProcessGroup?: boolean;
  /**
   * The server gets SIGTERM from the kernel when this process dies, however it dies (kill -9, the
   * OOM killer): for a temporary server nobody else would ever stop. Through util-linux's
   * `setpriv --pdeathsig`; without it, the server is started plainly.
   */
  dieWithParent?: boolean;
}

/** How the server process ended. */
export interface DevServerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RunningDevServer {
  address: string;
  uiUrl: string;
  /** Present when this process started the server (and so should stop it). */
  child?: ChildProcess;
  pid?: number;
  /** Resolves when the server process ends, for whatever reason. */
  exited?: Promise<DevServerExit>;
  /** Stops the server (SIGTERM, then SIGKILL after 10 s). */
  stop(): Promise<void>;
}

/**
 * SQLite settings passed to the server. `synchronous=FULL` (SQLite's own default, pinned here so
 * a driver default can never weaken it) with the default rollback journal: a committed
 * transaction is on disk before the server answers, and a kill at any moment leaves a hot
 * journal that the next open rolls back.
 */
export const SQLITE_PRAGMAS = ['synchronous=FULL'];

/** Text of a failed start → the permanent failure it shows, if any. */
export function classifyStartFailure(output: string, dbFile?: string): DevServerError | undefined {
  const db = dbFile ?? 'the database';
  const line = lastMatchingLine(output, /database or disk is full|no space left on device|disk quota exceeded/i);
  if (line) {
    return new DiskFullError(
      `the disk holding ${db} is full, so the Temporal dev server cannot write its state (${line}). Free space there ` +
        '(or move AUTOFIX_DATA_DIR to a larger disk) and start autofix again.',
    );
  }
  const bad = lastMatchingLine(output, /file is not a database|database disk image is malformed|malformed database schema|no such table|database is corrupt/i);
  if (bad) {
    return new DatabaseCorruptError(
      `the Temporal database ${db} is corrupt or incomplete (${bad}). Move it aside (the workflows recorded in it are lost ` +
        'unless you repair it with `sqlite3 FILE .recover`) and start autofix again: a new database is created.',
    );
  }
  return undefined;
}

function lastMatchingLine(text: string, re: RegExp): string | undefined {
  const m = text.split('\n').reverse().find((l) => re.test(l));
  if (!m) return undefined;
  const hit = re.exec(m);
  // The server logs long structured lines: quote the words before the match, not the whole line.
  const at = hit && hit.index > 80 ? m.indexOf(' ', hit.index - 80) + 1 : 0;
  return `${at ? '…' : ''}${m.slice(at, at + 200).replace(/\\"/g, '"').replace(/"$/, '')}`.trim();
}

/**
 * `pid 812 (postgres: /usr/lib/postgresql/16/bin/postgres -D …)`, one per holder. A command line
 * is anyone's text: control characters are escaped so it cannot forge lines of up's output.
 */
export function describeHolders(holders: PortHolder[]): string {
  // eslint-disable-next-line no-control-regex
  const clean = (t: string) => t.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return holders.map((h) => `pid ${h.pid} (${h.user ? `${clean(h.user)}: ` : ''}${clean(h.cmdline).slice(0, 160)})`).join(', ');
}

/**
 * Throws PortInUseError when one of the ports answers: the message names the port and, read from
 * /proc, the process that holds it.
 */
export async function checkPortsFree(ip: string, ports: Array<{ port: number; what: string }>): Promise<void> {
  for (const { port, what } of ports) {
    if (!(await canConnect(port, ip))) continue;
    const holders = await whoHoldsPort(port).catch(() => [] as PortHolder[]);
    const who = holders.length ? `by ${describeHolders(holders)}` : 'by another program (not visible from here)';
    throw new PortInUseError(
      port,
      what,
      holders,
      `port ${port} (${what}) on ${ip} is already in use ${who}, so the Temporal dev server cannot start there. ` +
        `Stop that program, or if it is a Temporal server you want to use, set TEMPORAL_ADDRESS=${ip}:${port}; ` +
        'or pick other ports with AUTOFIX_TEMPORAL_PORT / AUTOFIX_UI_PORT.',
    );
  }
}

function serverArgs(o: DevServerOptions, ip: string, port: number, uiPort: number, dbFile: string | undefined): string[] {
  const args = ['server', 'start-dev', '--ip', ip, '--port', String(port), '--ui-port', String(uiPort)];
  args.push('--namespace', o.namespace ?? 'default', '--log-level', 'warn');
  if (dbFile) {
    args.push('--db-filename', dbFile);
    for (const p of SQLITE_PRAGMAS) args.push('--sqlite-pragma', p);
  }
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) args.push('--search-attribute', `${name}=${type}`);
  return args;
}

/** `file args` run through `setpriv --pdeathsig SIGTERM` when asked and available (it execs: same pid). */
function withParentDeathSignal(o: DevServerOptions, file: string, args: string[]): [string, string[]] {
  const setpriv = o.dieWithParent ? resolverOn()('setpriv') : undefined;
  return setpriv ? [setpriv, ['--pdeathsig', 'SIGTERM', '--', file, ...args]] : [file, args];
}

/** Spawns the server on `dbFile` and waits until gRPC and the Web UI answer. */
async function spawnServer(o: DevServerOptions, dbFile: string | undefined): Promise<RunningDevServer> {
  const ip = o.ip ?? '127.0.0.1';
  const port = o.port ?? 7233;
  const uiPort = o.uiPort ?? 8233;
  // The output goes through a pipe: kept here (its tail explains a failed start) and appended to
  // the log file. Read back from the file instead, the reason would be lost exactly when the
  // disk is full.
  // The server creates its database (and journal) with our umask: 0600, for the worker alone.
  const umask = process.umask(0o077);
  let child: ReturnType<typeof spawn>;
  try {
    const [file, args] = withParentDeathSignal(o, o.cli, serverArgs(o, ip, port, uiPort, dbFile));
    child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: o.ownProcessGroup === true });
  } finally {
    process.umask(umask);
  }
  if (dbFile && existsSync(dbFile)) chmodSync(dbFile, 0o600); // databases made before this rule
  const log = o.logFile ? createWriteStream(o.logFile, { flags: 'a' }) : undefined;
  log?.on('error', () => undefined); // a log that cannot be written must not stop the server
  // The first and the last 8 kB: a Go panic's message comes first and its stack after it.
  let head = '';
  let recent = '';
  for (const stream of [child.stdout, child.stderr]) {
    stream?.on('data', (d: Buffer) => {
      const text = d.toString('utf8');
      if (head.length < OUTPUT_KEPT) head = (head + text).slice(0, OUTPUT_KEPT);
      recent = (recent + text).slice(-OUTPUT_KEPT);
      if (log && !log.destroyed) log.write(d);
    });
  }
  let exit: DevServerExit | undefined;
  const exited = new Promise<DevServerExit>((resolve) => {
    child.once('error', (err) => {
      recent += `\n${err.message}`;
      resolve((exit = { code: -1, signal: null }));
    });
    // 'close', not 'exit': by then the last of its output has been read.
    child.once('close', (code, signal) => resolve((exit = { code, signal })));
  });
  void exited.then(() => log?.end());
  const output = () => (head.length < OUTPUT_KEPT ? head : `${head}\n[…]\n${recent}`);
  const timeoutMs = o.startTimeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  while (!(await canConnect(port, ip)) || !(await canConnect(uiPort, ip))) {
    if (exit) {
      const text = output();
      // Another program took one of our ports since the check: name it (else it was one of the
      // server's own random ports, and a new start picks others).
      if (/address already in use/.test(text)) await checkPortsFree(ip, [{ port, what: 'gRPC' }, { port: uiPort, what: 'Web UI' }]);
      throw (
        classifyStartFailure(text, dbFile) ??
        new DevServerError(`the Temporal dev server exited with code ${exit.code} before it answered. Its output:\n${explainOutput(text)}`)
      );
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await exited;
      throw new DevServerError(`the Temporal dev server did not answer on ${ip}:${port} within ${Math.round(timeoutMs / 1000)} s. Its output:\n${explainOutput(output())}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const stop = async () => {
    if (exit) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  };
  return { address: `${ip}:${port}`, uiUrl: `http://${ip}:${uiPort}`, child, ...(child.pid ? { pid: child.pid } : {}), exited, stop };
}

/**
 * Creates a new database crash-safely. The server creates its schema on first start in many
 * statements, not one transaction: killed in that window (~0.1 s) it leaves a file that no later
 * start accepts ("no such table"). So the schema is made under a temporary name by a first
 * server run, stopped cleanly, and only then renamed into place (atomic); a kill at any moment
 * leaves either no database or a complete one, and a left-over temporary file is discarded.
 */
async function createDatabase(o: DevServerOptions, dbFile: string): Promise<void> {
  const init = `${dbFile}.init`;
  for (const f of [init, `${init}-journal`, `${init}-wal`, `${init}-shm`]) rmSync(f, { force: true });
  const server = await spawnServer(o, init);
  await server.stop();
  if (existsSync(`${init}-journal`) || existsSync(`${init}-wal`)) {
    throw new DevServerError(`the Temporal dev server did not close ${init} cleanly while creating the database; start autofix again.`);
  }
  renameSync(init, dbFile);
  const dir = openSync(path.dirname(dbFile), 'r');
  try {
    fsyncSync(dir); // the rename itself survives a power cut
  } finally {
    closeSync(dir);
  }
}

/**
 * Starts the dev server on free ports, creating its database first when there is none.
 *
 * @example
 *   const server = await startDevServer({ cli, dbFile: 'data/temporal/dev.db' });
 *   console.log(server.uiUrl); // http://127.0.0.1:8233
 */
export async function startDevServer(opts: DevServerOptions): Promise<RunningDevServer> {
  const ip = opts.ip ?? '127.0.0.1';
  if (opts.dbFile) {
    const dir = path.dirname(opts.dbFile);
    try {
      // Incidents, histories and their payloads live here: no other user may read them.
      ensurePrivateDirSync(dir);
      accessSync(dir, constants.W_OK);
    } catch (e) {
      throw new DevServerError(
        `the data directory ${dir} cannot be created or written (${(e as NodeJS.ErrnoException).code ?? String(e)}). ` +
          'Fix its permissions, or choose another place with AUTOFIX_DATA_DIR=/writable/dir.',
      );
    }
  }
  await checkPortsFree(ip, [
    { port: opts.port ?? 7233, what: 'gRPC' },
    { port: opts.uiPort ?? 8233, what: 'Web UI' },
  ]);
  if (opts.dbFile && !existsSync(opts.dbFile)) await createDatabase(opts, opts.dbFile);
  return await spawnServer(opts, opts.dbFile);
}

function tail(text: string, lines: number): string {
  return text.trim().split('\n').slice(-lines).join('\n');
}

/** How much of the server's output is kept from its start and from its end. */
const OUTPUT_KEPT = 8000;

/**
 * The lines of a failed start's output that explain it: the last ten, preceded by a Go panic's
 * message when they do not hold it (after a panic, the last lines are only its stack).
 *
 * @example explainOutput('panic: failed assigning ephemeral port: …\n\ngoroutine 1 [running]:\n…') // 'panic: failed assigning …\n[…]\n…'
 */
export function explainOutput(text: string): string {
  if (!text.trim()) return '(it printed nothing)';
  const last = tail(text, 10);
  const panic = /^(?:panic|fatal error): .*$/m.exec(text)?.[0];
  return panic && !last.includes(panic) ? `${panic}\n[…]\n${last}` : last;
}

/**
 * A start failure in one line, for the supervisor's "trying again" message: its first line and the
 * output line that best explains it (a Go panic's message, else the last error line, else the last
 * line). Before, that message stopped at "Its output:", and a failed restart in CI left no reason.
 *
 * @example briefFailure('… exited with code 2 before it answered. Its output:\npanic: boom\n[…]\n\tx.go:1') // '… Its output: panic: boom'
 */
export function briefFailure(message: string): string {
  const [first = '', ...rest] = message.split('\n');
  const lines = rest.map((l) => l.trim()).filter((l) => l && l !== '[…]');
  const why =
    lines.find((l) => /^(?:panic|fatal error): /.test(l)) ??
    [...lines].reverse().find((l) => /level=(?:ERROR|FATAL)|^Error: /i.test(l)) ??
    lines.at(-1);
  const line = why ? `${first} ${why}` : first;
  return line.length > BRIEF_MAX ? `${line.slice(0, BRIEF_MAX)}…` : line;
}

/** A one-line reason stays readable in a terminal and a journal. */
const BRIEF_MAX = 400;
