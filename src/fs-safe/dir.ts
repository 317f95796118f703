/**
 * A directory pinned by an O_PATH fd, and the *at()-style operations on names inside it (through
 * `/proc/self/fd/<fd>/<name>`, see proc.ts). Every operation acts on a name in *this* directory,
 * whatever has been renamed or swapped on the path that led here.
 */
import fs, { promises as fsp } from 'node:fs';
import type { Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { errnoCode, raced, refused, symlinkRefused } from './errors';
import { formatIdentity, identityOf, sameIdentity, type Identity } from './identity';
import { assertName } from './names';
import { DIR_FLAGS, O_PATH, assertProcFd, fdPath } from './proc';

export class DirHandle {
  /** The identity of the pinned directory. */
  readonly id: Identity;

  private constructor(
    private readonly fh: FileHandle,
    /** The path it was reached by: for messages and results only, never used to act. */
    readonly path: string,
    /** fstat of the pinned directory when it was opened. */
    readonly stat: Stats,
  ) {
    this.id = identityOf(stat);
  }

  /**
   * Pins the file-system root "/" (the start of every trusted resolution).
   *
   * @example const slash = await DirHandle.openSlash();
   */
  static async openSlash(): Promise<DirHandle> {
    assertProcFd();
    const fh = await fsp.open('/', DIR_FLAGS);
    return new DirHandle(fh, '/', await fh.stat());
  }

  /** A second handle on the same directory (its own fd, closed separately). */
  async dup(): Promise<DirHandle> {
    // Through the magic link, so without O_NOFOLLOW (that would pin the /proc link itself).
    const fh = await fsp.open(this.self(), O_PATH | fs.constants.O_DIRECTORY);
    try {
      const st = await fh.stat();
      if (!sameIdentity(identityOf(st), this.id)) throw raced(this.path, 'the pinned directory is not the one reopened');
      return new DirHandle(fh, this.path, st);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  /** A fresh fstat of the pinned directory. */
  async fstat(): Promise<Stats> {
    return this.fh.stat();
  }

  /** The fd number (valid until close). */
  get fd(): number {
    return this.fh.fd;
  }

  /** `/proc/self/fd/<fd>/<name>`: the name inside this pinned directory. */
  at(name: string): string {
    assertName(name);
    return fdPath(this.fh.fd, name);
  }

  /** `/proc/self/fd/<fd>`: this directory itself (e.g. to list it or fsync it). */
  self(): string {
    return fdPath(this.fh.fd);
  }

  /** Display path of a name inside this directory. */
  child(name: string): string {
    return path.join(this.path, name);
  }

  /** lstat of a name here; undefined when it does not exist. */
  async lstat(name: string): Promise<Stats | undefined> {
    try {
      return await fsp.lstat(this.at(name));
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return undefined;
      throw e;
    }
  }

  /**
   * Pins the subdirectory `name` (never through a symlink). With `expect`, it must be that inode
   * (what a plan saw); otherwise `UnsafePathError`.
   */
  async openDir(name: string, expect?: Identity): Promise<DirHandle> {
    let fh: FileHandle;
    try {
      fh = await fsp.open(this.at(name), DIR_FLAGS);
    } catch (e) {
      if (errnoCode(e) !== 'ENOTDIR') throw e;
      const now = await this.lstat(name);
      if (now?.isSymbolicLink()) throw symlinkRefused(this.child(name));
      if (now?.isDirectory()) throw raced(this.child(name), 'it was not a directory a moment ago');
      throw refused(`"${this.child(name)}" is not a directory`);
    }
    try {
      const st = await fh.stat();
      if (expect && !sameIdentity(identityOf(st), expect)) {
        throw raced(this.child(name), `directory ${formatIdentity(expect)} is now ${formatIdentity(identityOf(st))}`);
      }
      return new DirHandle(fh, this.child(name), st);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  /** The names in this directory, sorted. */
  async list(): Promise<string[]> {
    return (await fsp.readdir(this.self())).sort();
  }

  /** readlink of a name here (the link's own text; nothing is followed). */
  async readlink(name: string): Promise<string> {
    try {
      return await fsp.readlink(this.at(name));
    } catch (e) {
      if (errnoCode(e) === 'EINVAL') throw raced(this.child(name), 'it is not a symlink any more');
      throw e;
    }
  }

  /**
   * Unlinks a name here (a file or a symlink — the link, never its target), when `check` (if
   * given) accepts what the name is now, e.g. the planned inode, still old. Returns 'removed',
   * 'gone' (already) or 'kept' (refused by `check`, or a directory: see rmdir).
   */
  async unlink(name: string, check?: (st: Stats) => boolean): Promise<'removed' | 'gone' | 'kept'> {
    const st = await this.lstat(name);
    if (!st) return 'gone';
    if (st.isDirectory() || (check && !check(st))) return 'kept';
    try {
      await fsp.unlink(this.at(name));
      return 'removed';
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return 'gone';
      if (errnoCode(e) === 'EISDIR') return 'kept'; // a directory was swapped in since lstat
      throw e;
    }
  }

  /**
   * Removes an empty subdirectory `name`. Returns 'removed', 'gone' (already), or 'kept' (not
   * empty, not a directory, or — with `expect` — another inode now).
   */
  async rmdir(name: string, expect?: Identity): Promise<'removed' | 'gone' | 'kept'> {
    const st = await this.lstat(name);
    if (!st) return 'gone';
    if (!st.isDirectory() || (expect && !sameIdentity(identityOf(st), expect))) return 'kept';
    try {
      await fsp.rmdir(this.at(name));
      return 'removed';
    } catch (e) {
      const code = errnoCode(e);
      if (code === 'ENOENT') return 'gone';
      if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'EBUSY' || code === 'ENOTDIR') return 'kept';
      throw e;
    }
  }

  /** mkdir of a name here; false when something already has that name. */
  async mkdir(name: string, mode: number): Promise<boolean> {
    try {
      await fsp.mkdir(this.at(name), { mode });
      return true;
    } catch (e) {
      if (errnoCode(e) === 'EEXIST') return false;
      throw e;
    }
  }

  /** Renames `from` here to `to` in `toDir` (default: here); replaces a file or link at `to`. */
  async rename(from: string, to: string, toDir: DirHandle = this): Promise<void> {
    await fsp.rename(this.at(from), toDir.at(to));
  }

  /**
   * Makes `to` here a second hard link to the file named `from` here; fails (EEXIST) when `to`
   * exists. link(2) never follows a symlink at `from`: the caller checks what `to` links.
   */
  async link(from: string, to: string): Promise<void> {
    await fsp.link(this.at(from), this.at(to));
  }

  /** Creates a symlink `name` here whose text is `target` (never resolved by us). */
  async symlink(target: string, name: string): Promise<void> {
    await fsp.symlink(target, this.at(name));
  }

  /** fsync of the directory (after renames), best effort: some file systems refuse it. */
  async sync(): Promise<void> {
    try {
      const fh = await fsp.open(this.self(), 'r');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    } catch {
      // durability hint only
    }
  }

  /** Releases the fd. */
  async close(): Promise<void> {
    await this.fh.close();
  }
}

/** Opens, uses and closes a directory handle. */
export async function withDir<T>(open: Promise<DirHandle>, use: (d: DirHandle) => Promise<T>): Promise<T> {
  const d = await open;
  try {
    return await use(d);
  } finally {
    await d.close();
  }
}
