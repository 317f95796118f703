/**
 * The kernel interface fs-safe is built on: open(2) flags and `/proc/self/fd/<fd>/<name>` paths.
 *
 * Why this mechanism. Node has no openat/unlinkat/fchmodat/renameat. On Linux,
 * `/proc/self/fd/<dirfd>` is a "magic link": the kernel resolves it to the exact directory inode
 * the fd holds — not by name, wherever that directory has been renamed to since — and `<name>` is
 * then looked up inside it, as an *at() call relative to dirfd would. So lstat, unlink, rmdir,
 * mkdir, rename, symlink and readlink on such a path act on the name inside the pinned directory
 * (a symlink there is the link itself, never its target), and open with O_NOFOLLOW refuses a
 * symlink as the last component. Swapping a directory on the way for a symlink after we opened it
 * changes nothing: we never resolve that path by name again. The alternatives were worse: a
 * native addon (a compiler and a binary per platform to ship), `process.chdir` (process-wide, so
 * racy with the other activities of the worker), or re-checking with realpath (the race itself).
 *
 * Directories are held with O_PATH: the fd needs no read permission (a worker that is not root
 * can still pin a 0700 directory of its own whose mode is being fixed) and opening one has no side
 * effects. `fs.constants` lacks O_PATH; its value is 010000000 on every architecture Node runs on
 * Linux (asm-generic, and arm/arm64/ppc64/s390x/riscv64/loong64 do not override it).
 */
import fs from 'node:fs';
import { refused } from './errors';

const c = fs.constants;

/** open(2) flag: an fd that only pins the inode (see above). */
export const O_PATH = 0o10000000;

/** Pins a directory: never a symlink, never anything but a directory. */
export const DIR_FLAGS = O_PATH | c.O_DIRECTORY | c.O_NOFOLLOW;

/** Pins any inode (file or directory) for metadata changes through its fd path. */
export const META_FLAGS = O_PATH | c.O_NOFOLLOW;

/**
 * Opens a regular file's content: never through a symlink, never blocking on a FIFO that was
 * swapped in, never becoming a controlling terminal.
 */
export const READ_FLAGS = c.O_RDONLY | c.O_NOFOLLOW | c.O_NONBLOCK | c.O_NOCTTY;

/** As READ_FLAGS, for reading and writing (truncation). */
export const READ_WRITE_FLAGS = c.O_RDWR | c.O_NOFOLLOW | c.O_NONBLOCK | c.O_NOCTTY;

/** Creates a new file: fails if the name exists in any form, a symlink included. */
export const CREATE_FLAGS = c.O_WRONLY | c.O_CREAT | c.O_EXCL | c.O_NOFOLLOW | c.O_NOCTTY;

let checked = false;

/** Refuses (once, then remembers) to run where /proc/self/fd magic links do not exist. */
export function assertProcFd(): void {
  if (checked) return;
  if (process.platform !== 'linux' || !fs.existsSync('/proc/self/fd')) {
    throw refused('file actions need Linux with /proc mounted (they act through /proc/self/fd/<fd>/<name>, see src/fs-safe/proc.ts)');
  }
  checked = true;
}

/**
 * The path that reaches `name` inside the directory pinned by `fd` (or, without a name, the inode
 * `fd` holds). `name` must be a single component (checked by the caller, see names.ts).
 *
 * @example fdPath(17, 'app.log') // '/proc/self/fd/17/app.log'
 */
export function fdPath(fd: number, name?: string): string {
  return name === undefined ? `/proc/self/fd/${fd}` : `/proc/self/fd/${fd}/${name}`;
}
