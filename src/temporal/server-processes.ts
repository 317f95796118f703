/**
 * Which processes run a Temporal dev server on a given SQLite file, read from /proc: the argv of
 * every process, its working directory (a relative --db-filename is relative to it) and its
 * owner. This is what "a server is already running on this database" means, whatever pid files
 * say: a stale file cannot fool it, and a reused pid is not a server on this database.
 */
import { readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import { listPids, readProcess, userNames, type PortHolder } from '../proc';

/** A dev server process found on the database: its identity (to re-check before a signal) and user. */
export type ServerProcess = PortHolder;

/** The --db-filename value of a `temporal server start-dev` argv, or undefined. */
export function dbFileArg(argv: string[]): string | undefined {
  if (!argv.includes('start-dev')) return undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--db-filename' || a === '-f') return argv[i + 1];
    const m = /^(?:--db-filename|-f)=(.*)$/.exec(a);
    if (m) return m[1];
  }
  return undefined;
}

/**
 * Dev servers whose database is `dbFile` (compared after resolving both), sorted by pid.
 * Processes of other users are found too (their argv is public); their cwd only as root.
 *
 * @example await serversOnDatabase('/opt/autofix/data/temporal/dev.db'); // [] when none
 */
export async function serversOnDatabase(dbFile: string): Promise<ServerProcess[]> {
  const want = path.resolve(dbFile);
  const pids = await listPids();
  const users = await userNames();
  const found: ServerProcess[] = [];
  await Promise.all(
    pids.map(async (pid) => {
      if (pid === process.pid) return;
      const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').filter(Boolean);
      const db = dbFileArg(argv);
      if (db === undefined) return;
      const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => '/');
      if (path.resolve(cwd, db) !== want) return;
      const p = await readProcess(pid, users);
      if (p) found.push({ pid: p.pid, startTime: p.startTime, uid: p.uid, user: p.user, cmdline: p.cmdline });
    }),
  );
  return found.sort((a, b) => a.pid - b.pid);
}
