/**
 * What the watchers watch, derived from the worker's config: the watched logs and JSON files,
 * autofix's own files (never a reason to wake: every loop writes its logs; src/detection/own-files),
 * and the processes whose death should wake the daemon, each with the periodic checks that
 * notice it (`redis` for the holder of the Redis port, …).
 */
import type { Config, ServiceConfig } from '../config/schema';
import { OwnFiles } from '../detection/own-files';
import { checkIntervals } from '../probes';
import { PROBES } from '../probes';
import { isLocalHost } from '../processes/protected';

/** Files to watch. Paths are absolute; `logs` and `json` may be globs. */
export interface WatchedFiles {
  logs: string[];
  json: string[];
  /** autofix's own files (its logs and their rotations, data_dir): never a reason to wake. */
  own: OwnFiles;
}

/**
 * Where the pids of one watched process come from: a service's pid file or its `process_match`
 * (found as `service_restart` finds them: src/processes/service-processes.ts), or the holders of
 * a local port a health check probes.
 */
export type PidSource =
  | { kind: 'pid_file' | 'process_match'; label: string; checks: string[]; service: string; config: ServiceConfig }
  | { kind: 'port'; label: string; checks: string[]; port: number };

/** Everything the watchers need from one config version. */
export interface WatchTargets {
  files: WatchedFiles;
  processes: PidSource[];
  /** The loop interval: the longest the waker spaces wakes. */
  loopIntervalMs: number;
}

/** How a service's own health type maps to the periodic check that notices it down. */
const CHECK_OF_HEALTH_TYPE: Record<string, string> = { redis: 'redis', postgres: 'postgres', http: 'http', tcp: 'ports' };

/**
 * The watch targets of a config.
 *
 * @example watchTargets(cfg).processes // [{ kind: 'port', label: 'redis port 6379', checks: ['redis'], port: 6379 }, …]
 */
export function watchTargets(cfg: Config): WatchTargets {
  const enabled = new Set(Object.keys(checkIntervals(cfg)));
  return {
    files: { logs: [...cfg.watch.logs], json: [...cfg.watch.json_files], own: OwnFiles.of(cfg) },
    processes: [...serviceSources(cfg, enabled), ...portSources(cfg, enabled)],
    loopIntervalMs: cfg.daemon.loop_interval_seconds * 1000,
  };
}

/** The services with a pid file or a command-line regex. */
function serviceSources(cfg: Config, enabled: Set<string>): PidSource[] {
  const out: PidSource[] = [];
  for (const [name, svc] of Object.entries(cfg.services)) {
    const checks = checksForService(cfg, name).filter((c) => enabled.has(c));
    const label = `service ${name}`;
    if (svc.pid_file) out.push({ kind: 'pid_file', label, checks, service: name, config: svc });
    if (svc.process_match) out.push({ kind: 'process_match', label, checks, service: name, config: svc });
  }
  return out;
}

/**
 * The periodic checks that notice service `name` down: its own health type, the health checks of
 * the patterns that restart it, the HTTP endpoints it serves.
 */
export function checksForService(cfg: Config, name: string): string[] {
  const out = new Set<string>();
  const type = cfg.services[name]?.health?.type;
  if (type && CHECK_OF_HEALTH_TYPE[type]) out.add(CHECK_OF_HEALTH_TYPE[type]);
  for (const p of cfg.error_patterns) {
    if (!p.actions.some((a) => a.type === 'service_restart' && a.service === name)) continue;
    for (const check of p.health_checks) {
      const probe = Object.values(PROBES).find((x) => x.check === check);
      if (probe) out.add(probe.section);
    }
  }
  if (cfg.health_checks.http.endpoints.some((e) => e.service === name)) out.add('http');
  return [...out];
}

/** The local TCP ports the health checks probe, each with the checks that probe it. */
function portSources(cfg: Config, enabled: Set<string>): PidSource[] {
  const byPort = new Map<number, Set<string>>();
  const add = (port: number | undefined, check: string) => {
    if (port !== undefined && enabled.has(check)) (byPort.get(port) ?? byPort.set(port, new Set()).get(port)!).add(check);
  };
  const h = cfg.health_checks;
  add(localPort(h.redis.url, 6379), 'redis');
  add(localPort(h.postgres.url, 5432), 'postgres');
  for (const e of h.ports.expect_listening) add(e.port, 'ports');
  for (const e of h.http.endpoints) add(localPort(e.url, e.url.startsWith('https:') ? 443 : 80), 'http');
  return [...byPort].map(([port, checks]) => ({ kind: 'port', label: `port ${port}`, checks: [...checks], port }));
}

/**
 * The TCP port of a URL whose host is this machine (loopback, any-address or one of its
 * interfaces), else undefined.
 * Only host and port are read: credentials in the URL are never kept or logged.
 *
 * @example localPort('postgresql://u:pw@127.0.0.1/db', 5432) // 5432
 */
export function localPort(url: string, defaultPort: number): number | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (!isLocalHost(u.hostname)) return undefined;
  const port = u.port ? Number(u.port) : defaultPort;
  return Number.isInteger(port) && port > 0 && port < 65536 ? port : undefined;
}
