/**
 * The running processes of the service a `service_restart` acts on, from its `pid_file` and/or
 * `process_match`, believed only as far as they can be checked:
 * - a pid file must pass `readPidFile` (owner, mode, no symlink; else the action is refused);
 * - the process it names must have started before the file was last written (a later start
 *   means the service died and the pid was handed out again: a stale file is ignored), run as
 *   root, the worker's user or the service's `user`, and match `process_match` when given;
 * - `process_match` is a full match of the command line (cmdline-match.ts) and, with `user`,
 *   only counts processes of root or that user.
 */
import type { ServiceConfig } from '../config/schema';
import { listProcesses, readProcess, resolveUid, startedAtMs, type ProcessInfo } from '../proc';
import { cmdlineRegex } from './cmdline-match';
import { readPidFile } from './pid-file';

/** Slack for the start-time/mtime comparison: /proc's boot time has whole seconds. */
const START_SLACK_MS = 2000;

/** The processes found, and what was ignored and why (for the action's log). */
export interface ServiceProcesses {
  found: ProcessInfo[];
  notes: string[];
}

/** Root, the worker's own user and the service's `user`: who may own its pid file. */
async function trustedUids(name: string, svc: ServiceConfig): Promise<Set<number>> {
  const uids = new Set<number>([0, process.geteuid?.() ?? 0]);
  if (svc.user) uids.add(await resolveUid(svc.user, `services.${name}.user`));
  return uids;
}

/** The process its pid file names, if it passes the checks of the module comment. */
async function fromPidFile(file: string, trusted: Set<number>, match: RegExp | null, notes: string[]): Promise<ProcessInfo | null> {
  const content = await readPidFile(file, trusted);
  if (!content) return null;
  const p = await readProcess(content.pid);
  if (!p) {
    notes.push(`pid file ${file} names pid ${content.pid}, which is not running`);
    return null;
  }
  if ((await startedAtMs(p.startTime)) > content.mtimeMs + START_SLACK_MS) {
    notes.push(`pid file ${file} is stale: pid ${p.pid} (${JSON.stringify(p.cmdline.slice(0, 80))}) started after the file was written; not signalled`);
    return null;
  }
  if (!trusted.has(p.uid)) {
    notes.push(`pid ${p.pid} from ${file} runs as ${p.user}, not root or the service's user; not signalled`);
    return null;
  }
  if (match && !match.test(p.cmdline)) {
    notes.push(`pid ${p.pid} from ${file} (${JSON.stringify(p.cmdline.slice(0, 80))}) does not match process_match; not signalled`);
    return null;
  }
  return p;
}

/**
 * Finds the service's live processes (see the module comment). Throws a non-retryable
 * `RefusedError` for an unsafe pid file and a `ConfigError` for an unknown `user`.
 *
 * @example const { found, notes } = await findServiceProcesses('redis', cfg.services.redis);
 */
export async function findServiceProcesses(name: string, svc: ServiceConfig): Promise<ServiceProcesses> {
  const notes: string[] = [];
  const trusted = await trustedUids(name, svc);
  const match = svc.process_match ? cmdlineRegex(svc.process_match) : null;
  const found = new Map<number, ProcessInfo>();
  if (svc.pid_file) {
    const p = await fromPidFile(svc.pid_file, trusted, match, notes);
    if (p) found.set(p.pid, p);
  }
  if (match) {
    const userUid = svc.user ? await resolveUid(svc.user, `services.${name}.user`) : undefined;
    for (const p of await listProcesses()) {
      if (p.pid === process.pid || !match.test(p.cmdline)) continue;
      if (userUid !== undefined && p.uid !== 0 && p.uid !== userUid) continue;
      found.set(p.pid, p);
    }
  }
  return { found: [...found.values()], notes };
}
