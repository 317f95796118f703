/**
 * Processes from /proc: what identifies one for its whole life (pid + start time, unique per boot;
 * plus uid and command line as planned), its parent chain, and whether it is still alive.
 * Linux only; other users' processes are fully visible to root only.
 */
import { readFile, readdir, readlink } from 'node:fs/promises';
import { userNames } from './users';

/**
 * What autofix plans to signal, and checks again before every signal. A pid alone can be reused
 * by an unrelated process; (pid, startTime) cannot within one boot, and uid and cmdline must still
 * be what was planned (an exec() in place keeps pid and start time but changes the command line).
 */
export interface ProcessIdentity {
  pid: number;
  /** Start time in clock ticks after boot (/proc/<pid>/stat field 22). */
  startTime: number;
  /** Real uid (/proc/<pid>/status). */
  uid: number;
  /** argv joined by single spaces; `[comm]` when it has none (kernel thread, exiting process). */
  cmdline: string;
  /**
   * Set when the process was seen exiting (PF_EXITING): it has dropped its memory, so its command
   * line reads empty, but it is still the same process and may still hold its files and ports.
   */
  exiting?: true;
}

/** A process as seen once: its identity plus what the safety rules look at. */
export interface ProcessInfo extends ProcessIdentity {
  ppid: number;
  /** One-letter state (R, S, D, T, Z, ...). */
  state: string;
  /** The kernel's short name (/proc/<pid>/comm, 15 characters at most). */
  comm: string;
  /** User name, or the uid as a string when it has no name. */
  user: string;
  /** Executable path (/proc/<pid>/exe), null when unreadable (not root, kernel thread). */
  exe: string | null;
}

/**
 * Clock ticks per second of /proc times (USER_HZ): 100 on every architecture Node runs on
 * (`getconf CLK_TCK`); the kernel converts to it whatever its internal HZ.
 */
const USER_HZ = 100;

/** The fields of /proc/<pid>/stat autofix uses. */
export interface ProcStat {
  comm: string;
  state: string;
  ppid: number;
  /** The task's PF_* flags (field 9). */
  flags: number;
  startTime: number;
}

/**
 * Parses /proc/<pid>/stat. The command name (field 2) is in parentheses and may itself contain
 * spaces and parentheses, so fields are counted from the LAST ')'.
 *
 * @example parseStat('42 (a) b) S 1 42 42 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 777 0 0') // { comm: 'a) b', state: 'S', ppid: 1, flags: 4194560, startTime: 777 }
 */
export function parseStat(text: string): ProcStat | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open === -1 || close < open) return null;
  const rest = text.slice(close + 2).split(' ');
  // rest[0] is field 3 (state), so field n is rest[n - 3].
  const state = rest[0];
  const ppid = Number(rest[1]);
  const flags = Number(rest[6]);
  const startTime = Number(rest[19]);
  if (!state || !Number.isInteger(ppid) || !Number.isInteger(flags) || !Number.isInteger(startTime)) return null;
  return { comm: text.slice(open + 1, close), state, ppid, flags, startTime };
}

async function readStat(pid: number): Promise<ProcStat | null> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  return text === null ? null : parseStat(text);
}

async function readUid(pid: number): Promise<number | null> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1];
  return uid === undefined ? null : Number(uid);
}

async function readArgv(pid: number): Promise<string | null> {
  const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => null);
  return raw === null ? null : raw.split('\0').filter(Boolean).join(' ');
}

/**
 * True when the task has exited: a zombie (Z) or dead (X). It runs nothing and holds nothing
 * (its files and sockets were closed before it became a zombie).
 *
 * @example hasExited(parseStat(readFileSync('/proc/42/stat', 'latin1'))!) // false while it runs
 */
export function hasExited(s: ProcStat): boolean {
  return s.state === 'Z' || s.state === 'X';
}

/** PF_EXITING (include/linux/sched.h): set when the task enters do_exit(), before it drops its memory. */
const PF_EXITING = 0x4;

/**
 * True when the task is in do_exit() but not yet a zombie. Freeing a big heap takes a while
 * (0.16 s for 2 GiB here), and meanwhile its command line reads empty while its sockets are
 * still open: it is the same process, exiting — neither another program nor gone.
 */
function isExiting(s: ProcStat): boolean {
  return (s.flags & PF_EXITING) !== 0;
}

/**
 * Reads one process, or null when it is gone, has exited (zombie) or is unreadable. The stat is
 * read again at the end: when the start time changed meanwhile, the pid was reused mid-read and
 * the mix is discarded.
 */
async function readOnce(pid: number): Promise<(ProcessIdentity & ProcStat) | null> {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  const stat = await readStat(pid);
  if (!stat || hasExited(stat)) return null;
  const [argv, uid] = await Promise.all([readArgv(pid), readUid(pid)]);
  const again = await readStat(pid);
  if (argv === null || uid === null || !again || hasExited(again) || again.startTime !== stat.startTime) return null;
  // Exiting by the second read: an empty command line read before it is its exit, not an exec().
  const exiting = isExiting(again) && argv === '';
  return { pid, ...stat, uid, cmdline: argv || `[${stat.comm}]`, ...(exiting ? { exiting: true as const } : {}) };
}

/**
 * The identity of `pid` now, or null when it is gone (or a zombie).
 *
 * @example await readIdentity(process.pid) // { pid: 4242, startTime: 123456, uid: 0, cmdline: 'node dist/...' }
 */
export async function readIdentity(pid: number): Promise<ProcessIdentity | null> {
  const p = await readOnce(pid);
  return p ? { pid: p.pid, startTime: p.startTime, uid: p.uid, cmdline: p.cmdline, ...(p.exiting ? { exiting: p.exiting } : {}) } : null;
}

/**
 * Everything autofix reads about `pid`, or null when it is gone. `users` (uid → name) saves
 * re-reading /etc/passwd when many processes are read.
 */
export async function readProcess(pid: number, users?: Map<number, string>): Promise<ProcessInfo | null> {
  const p = await readOnce(pid);
  if (!p) return null;
  const names = users ?? (await userNames());
  const exe = await readlink(`/proc/${pid}/exe`).catch(() => null);
  return { ...p, user: names.get(p.uid) ?? String(p.uid), exe };
}

/**
 * Why `now` is not the process `planned` was, or null when it still is.
 *
 * @example identityChange(planned, await readIdentity(planned.pid)) // 'start time changed: pid 4242 was reused'
 */
export function identityChange(planned: ProcessIdentity, now: ProcessIdentity | null): string | null {
  if (!now) return `pid ${planned.pid} is gone`;
  if (now.pid !== planned.pid || now.startTime !== planned.startTime) return `start time changed: pid ${planned.pid} was reused`;
  if (now.uid !== planned.uid) return `uid changed from ${planned.uid} to ${now.uid}`;
  // The same task (pid, start time, uid) whose memory is being freed: its command line is gone, not changed.
  if (now.exiting) return null;
  if (now.cmdline !== planned.cmdline) return `command line changed from ${JSON.stringify(planned.cmdline.slice(0, 120))} to ${JSON.stringify(now.cmdline.slice(0, 120))}`;
  return null;
}

/** Pids of every process now (numeric entries of /proc). */
export async function listPids(): Promise<number[]> {
  return (await readdir('/proc')).filter((d) => /^\d+$/.test(d)).map(Number);
}

/**
 * Every readable process now (the ones that vanish while being read are left out).
 *
 * @example (await listProcesses()).filter((p) => p.comm === 'sshd')
 */
export async function listProcesses(): Promise<ProcessInfo[]> {
  const users = await userNames();
  const all = await Promise.all((await listPids()).map((pid) => readProcess(pid, users)));
  return all.filter((p): p is ProcessInfo => p !== null);
}

/** True while `pid` exists and is not a zombie. */
export async function isAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (e) {
    // EPERM means it exists but belongs to someone else.
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const stat = await readStat(pid);
  return stat !== null && !hasExited(stat);
}

/**
 * The parent chain of `pid`, nearest first, up to and including PID 1 (empty when it is gone).
 *
 * @example await ancestors(process.pid) // [ppid, ..., 1]
 */
export async function ancestors(pid: number): Promise<number[]> {
  const chain: number[] = [];
  let cur = pid;
  for (let depth = 0; depth < 4096; depth++) {
    const stat = await readStat(cur);
    if (!stat || stat.ppid <= 0 || chain.includes(stat.ppid)) break;
    chain.push(stat.ppid);
    cur = stat.ppid;
  }
  return chain;
}

/** Boot time, epoch ms (/proc/stat `btime`, whole seconds). */
async function bootTimeMs(): Promise<number> {
  const m = /^btime (\d+)$/m.exec(await readFile('/proc/stat', 'utf8'));
  if (!m?.[1]) throw new Error('/proc/stat has no btime line');
  return Number(m[1]) * 1000;
}

/**
 * Wall-clock time a process started (epoch ms, ±1 s: the boot time has whole seconds).
 *
 * @example await startedAtMs((await readIdentity(pid))!.startTime) // 1737194400000
 */
export async function startedAtMs(startTime: number): Promise<number> {
  return (await bootTimeMs()) + (startTime * 1000) / USER_HZ;
}
