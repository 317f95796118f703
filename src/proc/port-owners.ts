/**
 * Who listens on a TCP port: /proc/net/tcp{,6} maps ports to socket inodes, /proc/<pid>/fd maps
 * inodes to processes. Processes of other users are visible only to root (their fds are
 * unreadable otherwise).
 */
import { readdir, readlink } from 'node:fs/promises';
import { listeningInodes } from './sockets';
import { listPids, readProcess, type ProcessIdentity } from './processes';
import { userNames } from './users';

/** A process holding a listening socket: its identity (to re-check before a signal) and user. */
export interface PortHolder extends ProcessIdentity {
  /** User name, or the uid as a string. */
  user: string;
}

/** The socket inodes among `inodes` that `pid` holds (none when its fds are unreadable or it is gone). */
async function heldInodes(pid: number, inodes: Set<string>): Promise<string[]> {
  // Other users' fds are EACCES unless root; vanished processes are ENOENT: skip both.
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
  const held: string[] = [];
  for (const fd of fds) {
    const m = /^socket:\[(\d+)\]$/.exec(await readlink(`/proc/${pid}/fd/${fd}`).catch(() => ''));
    if (m?.[1] && inodes.has(m[1])) held.push(m[1]);
  }
  return held;
}

/**
 * The processes holding any of `inodes`, sorted by pid (a pre-forked server's workers share one
 * listening socket, so there may be several).
 */
export async function socketHolders(inodes: Set<string>): Promise<PortHolder[]> {
  if (inodes.size === 0) return [];
  const users = await userNames();
  const found = await Promise.all(
    (await listPids()).map(async (pid) => {
      if ((await heldInodes(pid, inodes)).length === 0) return null;
      const p = await readProcess(pid, users);
      return p ? { pid: p.pid, startTime: p.startTime, uid: p.uid, user: p.user, cmdline: p.cmdline } : null;
    }),
  );
  return found.filter((h): h is PortHolder => h !== null).sort((a, b) => a.pid - b.pid);
}

/**
 * The processes listening on TCP `port` (IPv4 or IPv6), sorted by pid; empty when none (or
 * when they belong to another user and we are not root).
 *
 * @example
 *   await whoHoldsPort(5432); // [{ pid: 812, startTime: 1234, uid: 108, user: 'postgres', cmdline: '/usr/lib/postgresql/16/bin/postgres -D ...' }]
 */
export async function whoHoldsPort(port: number): Promise<PortHolder[]> {
  return socketHolders(await listeningInodes(port));
}
