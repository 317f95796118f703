/**
 * Who listens on a TCP port, in the shape the process actions use. One reading of /proc serves
 * the probes and the actions: this adapts `whoHoldsPort` (src/activities/probes/port-owners.ts).
 */
import { readTcpSockets, whoHoldsPort } from '../probes/port-owners';

/** One process holding a listening socket on the port. */
export interface PortHolder {
  pid: number;
  user: string | null;
  cmdline: string;
}

const LISTEN = '0A';

/** Socket inodes listening on `port` (IPv4 and IPv6). */
export async function listeningInodes(port: number): Promise<Set<string>> {
  const sockets = await readTcpSockets();
  return new Set(sockets.filter((s) => s.port === port && s.state === LISTEN && s.inode !== '0').map((s) => s.inode));
}

/**
 * The processes listening on TCP `port` (empty when none; processes we may not inspect are skipped).
 *
 * @example
 *   const [holder] = await findPortHolders(8080); // { pid, user, cmdline }
 */
export async function findPortHolders(port: number): Promise<PortHolder[]> {
  return (await whoHoldsPort(port)).map((h) => ({ pid: h.pid, user: h.user ?? null, cmdline: h.command }));
}
