/**
 * The reopen step of a "create" rotation: after the log was renamed and a new one created, the
 * writer must be told to reopen its log by name, or it keeps writing into the renamed file.
 * `managed.log_rotate.reopen` signals the service's processes — found and signalled under the
 * kill-safety rules (src/processes: pid-file rules, the non-overridable deny-list, the identity
 * read again right before the signal); `managed.log_rotate.postrotate` runs an argv (no shell).
 *
 * Nothing here can lose a line: until the writer reopens, it writes into the renamed file, which
 * is compressed and removed only once no process has it open for writing (`waitReleased`).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../config/schema';
import { writersOf } from '../proc';
import { findServiceProcesses } from '../processes/service-processes';
import { processGuard } from '../processes/protected';
import { signalProcess } from '../processes/signals';
import { runCommand } from '../processes/run-command';
import type { Identity } from '../fs-safe';

/**
 * Tells the writers to reopen their logs (see the module comment). Returns what was done, one
 * line each; a refusal or a failing command is a line too (the rotation itself is done).
 */
export async function reopenWriters(cfg: Config, signal?: AbortSignal): Promise<string[]> {
  const rot = cfg.managed.log_rotate;
  const notes: string[] = [];
  if (rot.reopen) {
    const name = rot.reopen.service;
    const svc = cfg.services[name];
    if (svc) {
      const sig = `SIG${rot.reopen.signal}` as NodeJS.Signals;
      const { found, notes: why } = await findServiceProcesses(name, svc);
      notes.push(...why);
      if (found.length === 0) notes.push(`reopen: no running process of service "${name}" found (pid_file/process_match); nothing signalled`);
      const guard = await processGuard(cfg, name);
      for (const p of found) {
        try {
          notes.push(`reopen: ${sig} → pid ${p.pid} (${name}): ${await signalProcess(p, sig, { guard })}`);
        } catch (e) {
          notes.push(`reopen: ${sig} → pid ${p.pid} (${name}) refused: ${(e as Error).message}`);
        }
      }
    }
  }
  if (rot.postrotate) {
    const r = await runCommand(rot.postrotate, { timeoutMs: 60_000, ...(signal ? { signal } : {}) });
    const how = r.code === 0 ? 'ok' : r.timedOut ? 'timed out' : `exit ${r.code ?? r.signal}: ${r.stderr.trim().slice(0, 200)}`;
    notes.push(`postrotate ${JSON.stringify(rot.postrotate)}: ${how}`);
  }
  return notes;
}

/**
 * Waits up to `ms` until no other process has inode `id` open for writing (a reader such as
 * `tail -f` loses nothing when it is compressed); returns the pids that still do (empty: released).
 */
export async function waitReleased(id: Identity, ms: number, signal?: AbortSignal): Promise<number[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const holders = await writersOf(id);
    if (holders.length === 0 || Date.now() >= deadline) return holders;
    await sleep(Math.min(100, Math.max(1, deadline - Date.now())), undefined, signal ? { signal } : {});
  }
}
