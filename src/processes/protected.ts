/**
 * The deny-list of processes autofix never signals, whatever the config says: PID 1 and kernel
 * threads, the worker and its ancestors, the Temporal server (by its executable, and whoever
 * holds the local port the worker is connected to), sshd, systemd (user instances and its
 * daemons too), and every process of a configured service other than the one being acted on
 * (its pid file, its `process_match`, the holders of its health-check port, and their
 * descendants). Checked by `terminateProcess` before the first signal, so no action can bypass
 * it; protecting too much only ever refuses an action.
 */
import os from 'node:os';
import path from 'node:path';
import type { Config, ServiceConfig } from '../config/schema';
import { ancestors, listProcesses, readProcess, whoHoldsPort, type ProcessInfo } from '../proc';
import { cmdlineRegex } from './cmdline-match';
import { readPidFileLenient } from './pid-file';

/** Program names (comm, executable or argv[0] basename) that are never signalled. */
const PROTECTED_PROGRAMS: Array<[RegExp, string]> = [
  [/^temporal/, 'the Temporal server'],
  [/^sshd/, 'sshd'],
  [/^systemd/, 'systemd'],
  [/^\(sd-pam\)$/, 'systemd'],
];

/** Ports of the Temporal server the worker is connected to, when that server is on this host. */
const temporalPorts = new Set<number>();

/** True when `host` names this machine (loopback, any-address or one of its interfaces). */
export function isLocalHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '0.0.0.0' || h === '::' || h === '::1' || h.startsWith('127.') || h === os.hostname().toLowerCase()) return true;
  return Object.values(os.networkInterfaces()).some((list) => list?.some((i) => i.address.toLowerCase() === h));
}

/**
 * Tells the deny-list which Temporal server the worker uses (`host:port`), so whatever listens
 * on that port is never signalled when the server runs on this host. Called once by the worker.
 *
 * @example protectTemporalServer('127.0.0.1:7233')
 */
export function protectTemporalServer(address: string): void {
  const m = /^(.*):(\d+)$/.exec(address.trim());
  if (m?.[1] !== undefined && m[2] && isLocalHost(m[1])) temporalPorts.add(Number(m[2]));
}

/** Well-known ports of the health-check types and URL schemes. */
const DEFAULT_PORTS: Record<string, number> = { postgres: 5432, postgresql: 5432, redis: 6379, rediss: 6379, http: 80, https: 443 };

/** The TCP port on this host that a service's health check connects to, if it names one. */
export function healthPort(svc: ServiceConfig): number | undefined {
  const h = svc.health;
  if (!h) return undefined;
  if (!h.url) return isLocalHost(h.host) ? (h.port ?? DEFAULT_PORTS[h.type]) : undefined;
  try {
    const u = new URL(h.url);
    if (!isLocalHost(u.hostname)) return undefined;
    return u.port ? Number(u.port) : DEFAULT_PORTS[u.protocol.slice(0, -1)];
  } catch {
    return undefined;
  }
}

/** The pids of a service, as far as they can be told (lenient: for protection, not for signals). */
async function servicePids(svc: ServiceConfig, all: ProcessInfo[]): Promise<number[]> {
  const pids: number[] = [];
  if (svc.pid_file) {
    const pid = await readPidFileLenient(svc.pid_file);
    if (pid) pids.push(pid);
  }
  if (svc.process_match) {
    const re = cmdlineRegex(svc.process_match);
    pids.push(...all.filter((p) => re.test(p.cmdline)).map((p) => p.pid));
  }
  const port = healthPort(svc);
  if (port !== undefined) pids.push(...(await whoHoldsPort(port)).map((h) => h.pid));
  return pids;
}

const basename = (s: string) => path.basename(s.split(' ')[0] ?? '');

/** What the deny-list knows for one action (see `processGuard`). */
export interface ProcessGuard {
  /** Why `pid` must never be signalled, or null when it may be. */
  reason(pid: number): Promise<string | null>;
}

/**
 * Builds the deny-list for an action on `actingOn` (a service name, or null when the action
 * acts on no configured service): a snapshot of the protected pids, plus per-process rules.
 *
 * @example
 *   const guard = await processGuard(cfg, 'redis');
 *   await guard.reason(1) // 'pid 1 is init'
 */
export async function processGuard(config: Config, actingOn: string | null): Promise<ProcessGuard> {
  const all = await listProcesses();
  const fixed = new Map<number, string>([[process.pid, 'the autofix worker itself']]);
  for (const pid of await ancestors(process.pid)) fixed.set(pid, 'an ancestor of the autofix worker');
  for (const port of temporalPorts) {
    for (const h of await whoHoldsPort(port)) fixed.set(h.pid, `the Temporal server the worker is connected to (port ${port})`);
  }
  const services = new Map<number, string>();
  for (const [name, svc] of Object.entries(config.services)) {
    if (name === actingOn) continue;
    for (const pid of await servicePids(svc, all)) services.set(pid, name);
  }

  return {
    async reason(pid) {
      if (!Number.isInteger(pid) || pid <= 1) return `pid ${pid} is init or invalid`;
      const known = fixed.get(pid);
      if (known) return `pid ${pid} is ${known}`;
      // Read live, not from the snapshot: the pid may have been handed to another process since.
      const p = await readProcess(pid);
      if (!p) return null; // gone: nothing to protect, and nothing will be signalled
      if (p.pid === 2 || p.ppid === 2) return `pid ${pid} is a kernel thread`;
      for (const name of [p.comm, p.exe ? path.basename(p.exe) : '', basename(p.cmdline), p.cmdline.split(':')[0] ?? '']) {
        const hit = PROTECTED_PROGRAMS.find(([re]) => re.test(name));
        if (hit) return `pid ${pid} is ${hit[1]} (${JSON.stringify(p.cmdline.slice(0, 80))})`;
      }
      for (const cur of [pid, ...(await ancestors(pid))]) {
        const svc = services.get(cur);
        if (svc) return `pid ${pid} ${cur === pid ? 'is' : `descends from pid ${cur},`} a process of service "${svc}", which this action does not act on`;
      }
      return null;
    },
  };
}
