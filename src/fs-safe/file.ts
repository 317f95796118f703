/**
 * Files inside a pinned directory, opened so that what is used is exactly what was checked:
 * lstat the name (skip anything but a regular file before opening it), open with O_NOFOLLOW,
 * fstat the fd and compare its identity with the lstat (and with the plan). Content and metadata
 * are then changed through the fd only.
 */
import fs, { promises as fsp } from 'node:fs';
import type { Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { DirHandle } from './dir';
import { errnoCode, hardLinked, raced, refused, symlinkRefused } from './errors';
import { formatIdentity, identityOf, sameIdentity, type Identity } from './identity';
import { CREATE_FLAGS, META_FLAGS, O_PATH, READ_FLAGS, READ_WRITE_FLAGS, fdPath } from './proc';

/** An open regular file and the fstat taken right after opening it. */
export interface OpenFile {
  fh: FileHandle;
  stat: Stats;
  /** Display path. */
  path: string;
}

export interface OpenFileOptions {
  /** Open for writing too (truncation). @default false */
  write?: boolean;
  /** It must be this inode (what the plan saw). */
  expect?: Identity;
  /**
   * Refuse a file with more than one hard link; give what would be done ("truncate it"), for the message. Set it
   * whenever the content goes somewhere others can read or the file is changed: another link could
   * be a file outside the roots that the app user hard-linked in.
   */
  singleLinkFor?: string;
}

/**
 * Opens the regular file `name` in `dir`. Returns undefined when it does not exist; throws
 * `UnsafePathError` for a symlink or a swap, `RefusedError` for a non-regular file or (with
 * `singleLinkFor`) a hard-linked one.
 *
 * @example const f = await openFileAt(logs, 'app.log', { write: true, expect: planned, singleLinkFor: 'truncate it' });
 */
export async function openFileAt(dir: DirHandle, name: string, opts: OpenFileOptions = {}): Promise<OpenFile | undefined> {
  const where = dir.child(name);
  const before = await dir.lstat(name);
  if (!before) return undefined;
  if (before.isSymbolicLink()) throw symlinkRefused(where);
  // Checked before opening: opening a FIFO or a device can block or have side effects.
  if (!before.isFile()) throw refused(`"${where}" is not a regular file`);
  let fh: FileHandle;
  try {
    fh = await fsp.open(dir.at(name), opts.write ? READ_WRITE_FLAGS : READ_FLAGS);
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') throw symlinkRefused(where);
    throw e;
  }
  try {
    const stat = await fh.stat();
    checkOpened(where, stat, identityOf(before), opts);
    return { fh, stat, path: where };
  } catch (e) {
    await fh.close();
    throw e;
  }
}

function checkOpened(where: string, st: Stats, seen: Identity, opts: OpenFileOptions): void {
  const id = identityOf(st);
  if (!st.isFile() || !sameIdentity(id, seen)) throw raced(where, `checked ${formatIdentity(seen)}, opened ${formatIdentity(id)}`);
  if (opts.expect && !sameIdentity(id, opts.expect)) throw raced(where, `planned ${formatIdentity(opts.expect)}, found ${formatIdentity(id)}`);
  if (opts.singleLinkFor && st.nlink > 1) throw hardLinked(where, st.nlink, opts.singleLinkFor);
}

/** Opens, uses and closes a file (nothing happens when it does not exist: `use` gets undefined). */
export async function withFile<T>(dir: DirHandle, name: string, opts: OpenFileOptions, use: (f: OpenFile | undefined) => Promise<T>): Promise<T> {
  const f = await openFileAt(dir, name, opts);
  try {
    return await use(f);
  } finally {
    await f?.fh.close();
  }
}

/**
 * A file or directory pinned by an O_PATH fd for metadata changes: chmod, chown and utimes go
 * through `/proc/self/fd/<fd>`, which the kernel resolves to that very inode (fchmod does not work
 * on O_PATH fds; this is fchmodat(fd, "", AT_EMPTY_PATH) by another road, and needs no read
 * permission on the inode).
 */
export class MetaHandle {
  private constructor(
    private readonly fh: FileHandle,
    readonly stat: Stats,
    readonly path: string,
  ) {}

  /**
   * Pins `name` in `dir` (file or directory; never a symlink). With `expect` it must be that
   * inode; `singleLinkFor` refuses a hard-linked file. Undefined when it does not exist.
   */
  static async open(dir: DirHandle, name: string, opts: { expect?: Identity; singleLinkFor?: string } = {}): Promise<MetaHandle | undefined> {
    const where = dir.child(name);
    let fh: FileHandle;
    try {
      fh = await fsp.open(dir.at(name), META_FLAGS);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return undefined;
      throw e;
    }
    try {
      const st = await fh.stat();
      // O_PATH|O_NOFOLLOW opens a symlink itself: check the type before any change.
      if (st.isSymbolicLink()) throw symlinkRefused(where);
      if (!st.isFile() && !st.isDirectory()) throw refused(`"${where}" is neither a regular file nor a directory`);
      const id = identityOf(st);
      if (opts.expect && !sameIdentity(id, opts.expect)) throw raced(where, `planned ${formatIdentity(opts.expect)}, found ${formatIdentity(id)}`);
      if (opts.singleLinkFor && st.isFile() && st.nlink > 1) throw hardLinked(where, st.nlink, opts.singleLinkFor);
      return new MetaHandle(fh, st, where);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  /** Pins the directory a DirHandle holds (e.g. a root itself). */
  static async ofDir(dir: DirHandle): Promise<MetaHandle> {
    // Through the magic link (so no O_NOFOLLOW here: that would pin the /proc link itself).
    const fh = await fsp.open(dir.self(), O_PATH | fs.constants.O_DIRECTORY);
    try {
      const st = await fh.stat();
      if (!sameIdentity(identityOf(st), dir.id)) throw raced(dir.path, 'the pinned directory is not the one reopened');
      return new MetaHandle(fh, st, dir.path);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  async chmod(mode: number): Promise<void> {
    await fsp.chmod(fdPath(this.fh.fd), mode & 0o7777);
  }

  async chown(uid: number, gid: number): Promise<void> {
    await fsp.chown(fdPath(this.fh.fd), uid, gid);
  }

  /** Sets atime/mtime (seconds, fractional). */
  async utimes(atime: number, mtime: number): Promise<void> {
    await fsp.utimes(fdPath(this.fh.fd), atime, mtime);
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

/**
 * Creates `name` in `dir` exclusively (O_CREAT|O_EXCL|O_NOFOLLOW: an existing name of any kind,
 * a planted symlink included, makes it fail) and returns it open for writing.
 */
export async function createExclusiveAt(dir: DirHandle, name: string, mode: number): Promise<FileHandle> {
  return fsp.open(dir.at(name), CREATE_FLAGS, mode);
}
