/**
 * Who listens on a TCP port, from /proc (no lsof/netstat needed, nothing passed to a shell):
 * /proc/net/tcp{,6} maps ports to socket inodes, /proc/<pid>/fd maps inodes to processes.
 * Linux only. Processes of other users are visible only to root (their fds are unreadable).
 */
import { readFile, readdir, readlink } from 'node:fs/promises';

/** A process holding a socket. */
export interface PortHolder {
  pid: number;
  user?: string;
  /** The command line (argv joined by spaces), or `[comm]` for kernel threads / zombies. */
  command: string;
}

/** One row of /proc/net/tcp{,6}. */
export interface TcpSocket {
  port: number;
  /** Kernel state: LISTEN is '0A'. */
  state: string;
  inode: string;
}

const TCP_LISTEN = '0A';

/** Parses /proc/net/tcp-format text into local port, state and inode per socket. */
export function parseProcNetTcp(text: string): TcpSocket[] {
  const rows: TcpSocket[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    const local = f[1];
    const state = f[3];
    const inode = f[9];
    if (!local || !state || !inode) continue;
    const portHex = local.slice(local.lastIndexOf(':') + 1);
    rows.push({ port: parseInt(portHex, 16), state, inode });
  }
  return rows;
}

/** All TCP sockets of this network namespace (IPv4 and IPv6). Throws when /proc/net/tcp is missing. */
export async function readTcpSockets(): Promise<TcpSocket[]> {
  const v4 = await readFile('/proc/net/tcp', 'utf8');
  const v6 = await readFile('/proc/net/tcp6', 'utf8').catch(() => ''); // IPv6 may be disabled
  return [...parseProcNetTcp(v4), ...parseProcNetTcp(v6)];
}

/** Ports with a socket in LISTEN state. */
export async function listeningPorts(): Promise<Set<number>> {
  return new Set((await readTcpSockets()).filter((s) => s.state === TCP_LISTEN).map((s) => s.port));
}

/** uid → user name from /etc/passwd (empty map when unreadable). */
async function readUsers(): Promise<Map<string, string>> {
  const text = await readFile('/etc/passwd', 'utf8').catch(() => '');
  const users = new Map<string, string>();
  for (const line of text.split('\n')) {
    const [name, , uid] = line.split(':');
    if (name && uid) users.set(uid, name);
  }
  return users;
}

/** Describes one process, or undefined when it is gone. */
async function describeProcess(pid: number, users: Map<string, string>): Promise<PortHolder | undefined> {
  try {
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean).join(' ');
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1];
    const comm = cmdline || `[${(await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '?')).trim()}]`;
    const user = uid !== undefined ? (users.get(uid) ?? uid) : undefined;
    return { pid, ...(user !== undefined ? { user } : {}), command: comm };
  } catch {
    return undefined;
  }
}

/**
 * Maps socket inodes to the processes holding them (a pre-forked server's workers share one
 * listening socket, so an inode can have several holders).
 */
export async function socketHolders(inodes: Set<string>): Promise<Map<string, PortHolder[]>> {
  const byInode = new Map<string, PortHolder[]>();
  if (inodes.size === 0) return byInode;
  const users = await readUsers();
  const pids = (await readdir('/proc')).filter((d) => /^\d+$/.test(d)).map(Number);
  await Promise.all(
    pids.map(async (pid) => {
      // Other users' fds are EACCES unless root; vanished processes are ENOENT: skip both.
      const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
      const held = new Set<string>();
      for (const fd of fds) {
        const link = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
        const m = /^socket:\[(\d+)\]$/.exec(link);
        if (m?.[1] && inodes.has(m[1])) held.add(m[1]);
      }
      if (held.size === 0) return;
      const proc = await describeProcess(pid, users);
      if (!proc) return;
      for (const inode of held) byInode.set(inode, [...(byInode.get(inode) ?? []), proc]);
    }),
  );
  return byInode;
}

/**
 * The processes listening on a TCP port (IPv4 or IPv6), sorted by pid; empty when none (or
 * when they belong to another user and we are not root).
 *
 * @example
 *   await whoHoldsPort(5432); // [{ pid: 812, user: 'postgres', command: '/usr/lib/postgresql/16/bin/postgres -D ...' }]
 */
export async function whoHoldsPort(port: number): Promise<PortHolder[]> {
  const inodes = new Set(
    (await readTcpSockets())
      .filter((s) => s.port === port && s.state === TCP_LISTEN && s.inode !== '0')
      .map((s) => s.inode),
  );
  const byInode = await socketHolders(inodes);
  const byPid = new Map<number, PortHolder>();
  for (const holders of byInode.values()) for (const h of holders) byPid.set(h.pid, h);
  return [...byPid.values()].sort((a, b) => a.pid - b.pid);
}
