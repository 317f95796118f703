/**
 * TCP sockets of this network namespace from /proc/net/tcp{,6} (no lsof/netstat, nothing passed
 * to a shell). Linux only.
 */
import { readFile } from 'node:fs/promises';

/** One row of /proc/net/tcp{,6}. */
export interface TcpSocket {
  port: number;
  /** Kernel state: LISTEN is '0A'. */
  state: string;
  inode: string;
}

/** Kernel state of a listening socket. */
export const TCP_LISTEN = '0A';

/**
 * Parses /proc/net/tcp-format text into local port, state and inode per socket.
 *
 * @example parseProcNetTcp(text) // [{ port: 5432, state: '0A', inode: '31337' }, ...]
 */
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

/** All TCP sockets (IPv4 and IPv6). Throws when /proc/net/tcp is missing. */
export async function readTcpSockets(): Promise<TcpSocket[]> {
  const v4 = await readFile('/proc/net/tcp', 'utf8');
  const v6 = await readFile('/proc/net/tcp6', 'utf8').catch(() => ''); // IPv6 may be disabled
  return [...parseProcNetTcp(v4), ...parseProcNetTcp(v6)];
}

/** Ports with a socket in LISTEN state. */
export async function listeningPorts(): Promise<Set<number>> {
  return new Set((await readTcpSockets()).filter((s) => s.state === TCP_LISTEN).map((s) => s.port));
}

/**
 * Inodes of the sockets listening on `port` (IPv4 and IPv6); empty when the port is free.
 *
 * @example (await listeningInodes(8080)).size > 0 // something listens on 8080
 */
export async function listeningInodes(port: number): Promise<Set<string>> {
  const sockets = await readTcpSockets();
  return new Set(sockets.filter((s) => s.port === port && s.state === TCP_LISTEN && s.inode !== '0').map((s) => s.inode));
}

/**
 * Inodes of the abstract Unix sockets (Linux's abstract namespace) whose name, without its
 * leading '@', satisfies `match`. Every user may read /proc/net/unix.
 *
 * @example await abstractSocketInodes((name) => name.startsWith('autofix-')) // Set { '48213' }
 */
export async function abstractSocketInodes(match: (name: string) => boolean): Promise<Set<string>> {
  const text = await readFile('/proc/net/unix', 'utf8').catch(() => '');
  const inodes = new Set<string>();
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // Node binds the full sun_path: the name is NUL-padded, which /proc shows as trailing '@'.
    const name = f[7]?.replace(/@+$/, '');
    if (name?.startsWith('@') && match(name.slice(1)) && f[6]) inodes.add(f[6]);
  }
  return inodes;
}
