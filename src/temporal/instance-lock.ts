/**
 * One `autofix up` per database: a lock the kernel holds for the process, so it cannot go stale.
 *
 * The lock is a listening Unix socket in Linux's abstract namespace, named after the database
 * path. Binding it is atomic (a second bind fails with EADDRINUSE) and the kernel drops it the
 * moment its process exits, however it exits (kill -9 included): there is no file to clean up,
 * so neither a stale pid file nor a reused pid can fool it. A refused `up` names the holder,
 * found through /proc/net/unix. Scope: one network namespace (the abstract namespace is per
 * netns); the supervisor's check for a server process on the same database covers the rest.
 */
import net from 'node:net';
import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { abstractSocketInodes, socketHolders, type PortHolder } from '../proc';
import { describeHolders } from './dev-server';

/** Thrown when another process holds the lock of this database. */
export class AlreadyRunningError extends Error {
  override readonly name = 'AlreadyRunningError';
  constructor(
    readonly holders: PortHolder[],
    message: string,
  ) {
    super(message);
  }
}

/** A held lock. */
export interface InstanceLock {
  readonly name: string;
  release(): Promise<void>;
}

/** The lock's name for `dbFile` (its directory resolved through symlinks, so aliases agree). */
export function lockName(dbFile: string): string {
  const abs = path.resolve(dbFile);
  let dir = path.dirname(abs);
  try {
    dir = realpathSync(dir);
  } catch {
    /* not created yet: the plain absolute path */
  }
  return `autofix-up-${createHash('sha256').update(path.join(dir, path.basename(abs))).digest('hex').slice(0, 32)}`;
}

/** Processes holding the abstract socket `name` (from /proc/net/unix and /proc/<pid>/fd). */
async function lockHolders(name: string): Promise<PortHolder[]> {
  const inodes = await abstractSocketInodes((n) => n === name);
  return (await socketHolders(inodes)).filter((h) => h.pid !== process.pid);
}

/**
 * Takes the lock of `dbFile` or throws AlreadyRunningError naming the process that holds it.
 *
 * @example
 *   const lock = await acquireInstanceLock('data/temporal/dev.db');
 *   try { ... } finally { await lock.release(); }
 */
export async function acquireInstanceLock(dbFile: string): Promise<InstanceLock> {
  const name = lockName(dbFile);
  // Nobody needs to talk to the lock: a connection is closed at once.
  const server = net.createServer((sock) => sock.destroy());
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(`\0${name}`, () => resolve());
    });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
    const holders = await lockHolders(name);
    const who = holders.length ? describeHolders(holders) : 'another process';
    throw new AlreadyRunningError(
      holders,
      `autofix is already running with the database ${path.resolve(dbFile)}: ${who}. ` +
        'See it with `bin/autofix status`, or stop it (Ctrl-C there, or `systemctl stop`) first.',
    );
  }
  server.unref(); // the lock never keeps the process alive by itself
  return {
    name,
    release: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
