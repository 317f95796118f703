/**
 * Reading a service's pid file without trusting whoever could write it. Whoever can write a pid
 * file the root worker acts on can make it signal any process, so before its number is believed:
 * - every directory above it (as written and after resolving symlinks) must belong to root or a
 *   trusted user and must not be writable by others unless sticky (/tmp), and a symlink on the
 *   way must belong to a trusted user, so nobody else can swap the file or redirect the path;
 * - the file is opened with O_NOFOLLOW (a symlink is refused, not followed) and checked on the
 *   open descriptor (fstat): a regular file, one link (a hard link elsewhere could be a file
 *   that was never a pid file), owned by root or a trusted user, not writable by group or others.
 * Trusted users are root, the worker's own user and the service's `user`.
 */
import { constants, promises as fsp } from 'node:fs';
import path from 'node:path';
import { refused } from '../errors';

/** What a pid file said, and when it was last written. */
export interface PidFileContent {
  pid: number;
  /** mtime, epoch ms: the process it names started before (a later one has a reused pid). */
  mtimeMs: number;
}

const modeText = (mode: number) => `0${(mode & 0o7777).toString(8)}`;

/** Every directory from `/` down to `dir`, as written. */
function prefixes(dir: string): string[] {
  const out = ['/'];
  for (const part of dir.split('/').filter(Boolean)) out.push(path.join(out[out.length - 1] as string, part));
  return out;
}

/**
 * Refuses a path another user could redirect: each directory on the way, as written and after
 * resolving symlinks, must belong to a trusted user and not be writable by others unless sticky;
 * a symlink on the way must belong to a trusted user (its directory already is). Returns the
 * resolved directory.
 */
async function checkDirectories(dir: string, trusted: ReadonlySet<number>, file: string): Promise<string> {
  const check = (p: string, st: { uid: number; mode: number }) => {
    if (!trusted.has(st.uid)) throw refused(`pid file ${file}: ${p} belongs to uid ${st.uid}, not to root or the service's user; refusing to trust it`);
    if ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0 && (st.mode & 0o170000) !== 0o120000) {
      throw refused(`pid file ${file}: directory ${p} is writable by others (mode ${modeText(st.mode)}); refusing to trust it`);
    }
  };
  for (const p of prefixes(path.resolve(dir))) check(p, await fsp.lstat(p));
  const real = await fsp.realpath(dir);
  for (const p of prefixes(real)) check(p, await fsp.stat(p));
  return real;
}

/**
 * Reads `file` under the rules of the module comment. Null when it does not exist (the service
 * is not running) or holds no pid; throws a non-retryable `RefusedError` when it is not safe.
 *
 * @example await readPidFile('/run/redis/redis-server.pid', new Set([0, 107])) // { pid: 812, mtimeMs: 1737190000000 }
 */
export async function readPidFile(file: string, trusted: ReadonlySet<number>): Promise<PidFileContent | null> {
  let dir: string;
  try {
    dir = await checkDirectories(path.dirname(file), trusted, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  let fh: fsp.FileHandle;
  try {
    // O_NONBLOCK: a FIFO planted under the name must not hang the open.
    fh = await fsp.open(path.join(dir, path.basename(file)), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'ELOOP') throw refused(`pid file ${file} is a symbolic link; refusing to follow it`);
    throw e;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw refused(`pid file ${file} is not a regular file`);
    if (st.nlink !== 1) throw refused(`pid file ${file} has ${st.nlink} hard links; refusing to trust it`);
    if (!trusted.has(st.uid)) throw refused(`pid file ${file} belongs to uid ${st.uid}, not to root or the service's user; refusing to trust it`);
    if ((st.mode & 0o022) !== 0) throw refused(`pid file ${file} is writable by others (mode ${modeText(st.mode)}); refusing to trust it`);
    const buf = Buffer.alloc(64);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const first = buf.toString('latin1', 0, bytesRead).split('\n')[0]?.trim() ?? '';
    const pid = /^\d{1,10}$/.test(first) ? Number(first) : NaN;
    return Number.isSafeInteger(pid) && pid > 0 ? { pid, mtimeMs: st.mtimeMs } : null;
  } finally {
    await fh.close();
  }
}

/**
 * The pid in a pid file, read only to PROTECT that process (the deny-list): no ownership rules,
 * since protecting a process a stranger named only ever refuses an action; never follows a
 * symlink. Null when missing, unreadable or not a pid.
 */
export async function readPidFileLenient(file: string): Promise<number | null> {
  try {
    const fh = await fsp.open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      const buf = Buffer.alloc(64);
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      const pid = Number(buf.toString('latin1', 0, bytesRead).split('\n')[0]?.trim());
      return Number.isSafeInteger(pid) && pid > 1 ? pid : null;
    } finally {
      await fh.close();
    }
  } catch {
    return null;
  }
}
