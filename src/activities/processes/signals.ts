/**
 * Process lookup and termination: read a pid file or match /proc/<pid>/cmdline, then stop a
 * process with SIGTERM, a grace period and SIGKILL. Never signals PID 1, this process or its parent.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/** Why a pid must never be signalled, or null when it may be. */
export function protectedPidReason(pid: number): string | null {
  if (!Number.isInteger(pid) || pid <= 1) return `pid ${pid} is init or invalid`;
  if (pid === process.pid) return `pid ${pid} is the autofix worker itself`;
  if (pid === process.ppid) return `pid ${pid} is the parent of the autofix worker`;
  return null;
}

/** True while `pid` exists (a zombie counts as gone). */
export async function isAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (e) {
    // EPERM means it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const st = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Field 3 (after the parenthesised comm) is the state; Z = zombie, X = dead.
    const state = st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** The command line of `pid` joined by spaces, or null when it is gone or unreadable. */
export async function readCmdline(pid: number): Promise<string | null> {
  try {
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return raw.replace(/\0+$/, '').split('\0').join(' ');
  } catch {
    return null;
  }
}

/** The user name (or uid) owning `pid`, or null when it is gone. */
export async function readProcessUser(pid: number): Promise<string | null> {
  try {
    const { uid } = await stat(`/proc/${pid}`);
    const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
    const line = passwd.split('\n').find((l) => l.split(':')[2] === String(uid));
    return line?.split(':')[0] ?? String(uid);
  } catch {
    return null;
  }
}

/** Reads a pid file; null when missing, empty or not a number. */
export async function readPidFile(file: string): Promise<number | null> {
  try {
    const pid = Number.parseInt((await readFile(file, 'utf8')).trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** Pids whose command line matches `re` (excluding protected pids). */
export async function findPidsByCmdline(re: RegExp): Promise<number[]> {
  const out: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (protectedPidReason(pid)) continue;
    const cmd = await readCmdline(pid);
    if (cmd && re.test(cmd)) out.push(pid);
  }
  return out;
}

/** Polls until `pid` is gone or `ms` elapsed; true when gone. */
export async function waitForExit(pid: number, ms: number, signal?: AbortSignal): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (!(await isAlive(pid))) return true;
    if (Date.now() >= deadline) return false;
    await sleep(Math.min(100, Math.max(1, deadline - Date.now())), undefined, { signal });
  }
}

/**
 * Stops `pid`: SIGTERM, wait up to `graceMs`, then SIGKILL and wait for it to vanish.
 * Returns how it ended. Throws on a protected pid or when even SIGKILL did not end it.
 *
 * @example
 *   const how = await terminateProcess(1234, 5000); // 'already-gone' | 'terminated' | 'killed'
 */
export async function terminateProcess(
  pid: number,
  graceMs: number,
  signal?: AbortSignal,
): Promise<'already-gone' | 'terminated' | 'killed'> {
  const why = protectedPidReason(pid);
  if (why) throw new Error(`refusing to signal ${why}`);
  if (!(await isAlive(pid))) return 'already-gone';
  try {
    process.kill(pid, 'SIGTERM');
    // A stopped (SIGSTOP) process only acts on SIGTERM once continued, as systemd does it.
    process.kill(pid, 'SIGCONT');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return 'already-gone';
    throw e;
  }
  if (await waitForExit(pid, graceMs, signal)) return 'terminated';
  try {
    process.kill(pid, 'SIGKILL');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return 'terminated';
    throw e;
  }
  if (await waitForExit(pid, 5000, signal)) return 'killed';
  throw new Error(`pid ${pid} is still alive 5 s after SIGKILL`);
}
