/**
 * A worker's presence on this host, held by the kernel: while a worker runs, its process holds an
 * abstract Unix socket named after its config's data directory. A one-shot `autofix run` that
 * finds no Temporal server checks it before it runs on a temporary server of its own: a worker
 * of the same config means a daemon runs here against another server (TEMPORAL_ADDRESS in its
 * unit, another AUTOFIX_TEMPORAL_PORT, a server being restarted), and fixes run on two servers
 * are not serialised by incident id. The kernel drops the socket when its process exits, however
 * it exits, so it cannot go stale. Scope: one network namespace, like the instance lock.
 */
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { abstractSocketInodes, socketHolders, type PortHolder } from '../proc';

/** The name prefix shared by every worker of `dataDir` (resolved through symlinks, so aliases agree). */
function presencePrefix(dataDir: string): string {
  let dir = path.resolve(dataDir);
  try {
    dir = realpathSync(dir);
  } catch {
    /* not created yet: the plain absolute path */
  }
  return `autofix-worker-${createHash('sha256').update(dir).digest('hex').slice(0, 32)}-`;
}

/** Holds this process's presence for `dataDir` until it exits (it never keeps the process alive). */
export async function announceWorker(dataDir: string): Promise<void> {
  const name = `${presencePrefix(dataDir)}${process.pid}-${randomBytes(4).toString('hex')}`;
  const server = net.createServer((sock) => sock.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(`\0${name}`, () => resolve());
  });
  server.unref();
}

/**
 * The other processes that run a worker of `dataDir` on this host. `count` is seen by every user
 * (/proc/net/unix); `holders` names them where /proc lets us (all of them as root).
 */
export async function workersOf(dataDir: string): Promise<{ count: number; holders: PortHolder[] }> {
  const prefix = presencePrefix(dataDir);
  const ours = `${prefix}${process.pid}-`;
  const inodes = await abstractSocketInodes((name) => name.startsWith(prefix) && !name.startsWith(ours));
  const holders = (await socketHolders(inodes)).filter((h) => h.pid !== process.pid);
  return { count: inodes.size, holders };
}
