/**
 * Stopping a process safely: SIGTERM (and SIGCONT, for a stopped one), a grace period, then
 * SIGKILL. A pid is only a number the kernel hands out again, so the process is named by its
 * identity (pid + start time + uid + command line, see src/proc) and that identity is read again
 * before EVERY signal: when the pid now belongs to another process (reused, or exec()ed in place
 * into another program), nothing more is sent. The deny-list (protected.ts) is checked before
 * the first signal and cannot be overridden by any config.
 *
 * What remains: between the last identity read and kill(2) lie microseconds in which the
 * process could exit and its pid be handed out again; closing that needs pidfd_send_signal(2),
 * which Node does not offer.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { identityChange, readIdentity, type ProcessIdentity } from '../proc';
import { refused } from '../errors';
import type { ProcessGuard } from './protected';

/**
 * How a stop ended: the process had already exited; it exited after SIGTERM; it was SIGKILLed;
 * or the pid turned into another process (reused or exec()ed) and nothing more was sent to it.
 */
export type StopOutcome = 'already-gone' | 'terminated' | 'killed' | 'identity-changed';

/** Options of `terminateProcess`. */
export interface StopOptions {
  /** Milliseconds between SIGTERM and SIGKILL. */
  graceMs: number;
  /** The deny-list of this action (`processGuard`). */
  guard: ProcessGuard;
  signal?: AbortSignal;
  /**
   * Reads a pid's identity now. Injectable so tests can observe and change what is seen between
   * two signals. @default readIdentity
   */
  identify?: (pid: number) => Promise<ProcessIdentity | null>;
  /** Called after each signal actually sent (for logs and tests). */
  onSignal?: (sig: NodeJS.Signals) => void;
}

/** What a pid is when looked at again. */
type Seen = { kind: 'same' } | { kind: 'gone' } | { kind: 'changed'; why: string };

/** The result of `terminateProcess`: how it ended, and why when the identity changed. */
export interface StopResult {
  outcome: StopOutcome;
  detail?: string;
}

/**
 * Stops the process `target` names (see the module comment). Throws a non-retryable
 * `RefusedError` when the deny-list protects it, and a plain Error when even SIGKILL did not end it.
 *
 * @example
 *   const planned = await readIdentity(pid);
 *   const { outcome } = await terminateProcess(planned!, { graceMs: 5000, guard: await processGuard(cfg, 'redis') });
 */
export async function terminateProcess(target: ProcessIdentity, o: StopOptions): Promise<StopResult> {
  const identify = o.identify ?? readIdentity;
  const why = await o.guard.reason(target.pid);
  if (why) throw refused(`refusing to signal ${why}`);

  /** What the pid is now: still the planned process, gone, or another process. */
  const look = async (): Promise<Seen> => {
    const now = await identify(target.pid);
    if (!now) return { kind: 'gone' };
    const why = identityChange(target, now);
    return why ? { kind: 'changed', why } : { kind: 'same' };
  };
  /** Sends `sig` only if the pid is still the planned process (what was seen otherwise). */
  const send = async (sig: NodeJS.Signals): Promise<Seen> => {
    const seen = await look();
    if (seen.kind !== 'same') return seen;
    try {
      process.kill(target.pid, sig);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ESRCH') return { kind: 'gone' };
      throw e;
    }
    o.onSignal?.(sig);
    return seen;
  };
  /** Polls until the planned process is no more, or `ms` passed (then 'same'). */
  const waitGone = async (ms: number): Promise<Seen> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const seen = await look();
      if (seen.kind !== 'same' || Date.now() >= deadline) return seen;
      await sleep(Math.min(100, Math.max(1, deadline - Date.now())), undefined, { signal: o.signal });
    }
  };

  const term = await send('SIGTERM');
  if (term.kind === 'gone') return { outcome: 'already-gone' };
  if (term.kind === 'changed') return { outcome: 'identity-changed', detail: term.why };
  // A stopped (SIGSTOP) process only acts on SIGTERM once continued, as systemd does it.
  await send('SIGCONT');
  let seen = await waitGone(o.graceMs);
  if (seen.kind === 'same') {
    // The grace period is over: SIGKILL, but only if the pid is still the planned process.
    seen = await send('SIGKILL');
    if (seen.kind === 'same') {
      if ((await waitGone(5000)).kind !== 'same') return { outcome: 'killed' };
      throw new Error(`pid ${target.pid} is still alive 5 s after SIGKILL`);
    }
  }
  return seen.kind === 'gone' ? { outcome: 'terminated' } : { outcome: 'identity-changed', detail: seen.why };
}

/** How a single signal ended: sent, the process had exited, or its pid is another process now. */
export type SignalOutcome = 'sent' | 'gone' | 'identity-changed';

/**
 * Sends one signal (e.g. SIGHUP: "reopen your log files") to the process `target` names, under
 * the same rules as `terminateProcess`: the deny-list first, then its identity read again right
 * before kill(2) — a reused or exec()ed pid gets nothing.
 *
 * @example await signalProcess(planned, 'SIGHUP', { guard: await processGuard(cfg, 'flask') }) // 'sent'
 */
export async function signalProcess(target: ProcessIdentity, sig: NodeJS.Signals, o: Pick<StopOptions, 'guard' | 'identify'>): Promise<SignalOutcome> {
  const why = await o.guard.reason(target.pid);
  if (why) throw refused(`refusing to signal ${why}`);
  const now = await (o.identify ?? readIdentity)(target.pid);
  if (!now) return 'gone';
  if (identityChange(target, now)) return 'identity-changed';
  try {
    process.kill(target.pid, sig);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return 'gone';
    throw e;
  }
  return 'sent';
}
