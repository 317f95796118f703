/**
 * Who listens on a TCP port, read straight from /proc (no `ss`/`lsof` needed): the socket inodes
 * of /proc/net/tcp{,6} in LISTEN state, matched against each process's /proc/<pid>/fd links.
 * Written here because src/activities/probes/ports.ts did not exist yet when this was needed.
 */
import { readFile, readdir, readlink } from 'node:fs/promises';
import { readCmdline, readProcessUser } from './signals';

/** One process holding a listening socket on the port. */
export interface PortHolder {
  pid: number;
  user: string | null;
  cmdline: string;
}

const LISTEN = '0A';

/** Socket inodes listening on `port` (IPv4 and IPv6). */
export async function listeningInodes(port: number): Promise<Set<string>> {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(table, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      const local = cols[1];
      if (!local || cols[3] !== LISTEN) continue;
      const hexPort = local.slice(local.lastIndexOf(':') + 1);
      if (Number.parseInt(hexPort, 16) === port && cols[9]) inodes.add(cols[9]);
    }
  }
  return inodes;
}

/**
 * The processes listening on TCP `port` (empty when none; processes we may not inspect are skipped).
 *
 * @example
 *   const [holder] = await findPortHolders(8080); // { pid, user, cmdline }
 */
export async function findPortHolders(port: number): Promise<PortHolder[]> {
  const inodes = await listeningInodes(port);
  if (inodes.size === 0) return [];
  const holders: PortHolder[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      const link = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m?.[1] && inodes.has(m[1])) {
        holders.push({ pid, user: await readProcessUser(pid), cmdline: (await readCmdline(pid)) ?? '' });
        break;
      }
    }
  }
  return holders;
}
