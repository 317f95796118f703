/**
 * Writing inside a pinned directory without ever following a name: a new file is created
 * O_EXCL|O_NOFOLLOW under a random temp name, filled, given its owner, mode and mtime through its
 * fd, fsynced, and renamed over the target name inside the same pinned directory — so a reader
 * never sees a half-written file and a symlink planted at the target name is replaced, not
 * followed.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { DirHandle } from './dir';
import { errnoCode } from './errors';
import { createExclusiveAt } from './file';

/** A temp name next to `name` (same directory, so the final rename is atomic). */
export function tempNameFor(name: string): string {
  // Keep it under NAME_MAX (255) whatever the target's length.
  return `.${name.slice(0, 200)}.autofix-${randomBytes(6).toString('hex')}.tmp`;
}

/** What a new file gets. */
export interface NewFileMeta {
  mode: number;
  uid?: number;
  gid?: number;
  /** Sets the mtime (and atime) when given. */
  mtimeMs?: number;
}

/** The outcome of a write: false `ownerSet` when chown was denied (the worker is not root). */
export interface Written {
  ownerSet: boolean;
}

/**
 * Creates `name` in `dir` (replacing what is there) with what `fill` writes into the new file.
 * `fill` may throw (e.g. validation): the temp file is removed and `name` is left untouched.
 *
 * @example await replaceFileAt(dataDir, 'state.json', (fh) => fh.writeFile('{}\n'), { mode: 0o640 });
 */
export async function replaceFileAt(dir: DirHandle, name: string, fill: (fh: FileHandle) => Promise<void>, meta: NewFileMeta): Promise<Written> {
  const tmp = tempNameFor(name);
  const fh = await createExclusiveAt(dir, tmp, 0o600);
  let ownerSet = true;
  try {
    try {
      await fill(fh);
      ownerSet = await setOwner(fh, meta);
      await fh.chmod(meta.mode & 0o7777); // after chown: chown clears setuid/setgid bits
      if (meta.mtimeMs !== undefined) await fh.utimes(meta.mtimeMs / 1000, meta.mtimeMs / 1000);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await dir.rename(tmp, name);
  } catch (e) {
    await dir.unlink(tmp).catch(() => undefined);
    throw e;
  }
  await dir.sync();
  return { ownerSet };
}

async function setOwner(fh: FileHandle, meta: NewFileMeta): Promise<boolean> {
  if (meta.uid === undefined && meta.gid === undefined) return true;
  try {
    await fh.chown(meta.uid ?? -1, meta.gid ?? -1);
    return true;
  } catch (e) {
    if (errnoCode(e) === 'EPERM') return false;
    throw e;
  }
}

/** Reads `src` from its start in 1 MiB chunks (its own position is irrelevant; the fd stays open). */
export function readFrom(src: FileHandle): Readable {
  return src.createReadStream({ start: 0, autoClose: false, emitClose: false, highWaterMark: 1 << 20 });
}

/**
 * A stream writing into `dest` from its start, leaving the fd open for what follows (chown,
 * fsync, truncate). Not `dest.createWriteStream({ autoClose: false })`: in Node 20 that keeps a
 * reference on the FileHandle that makes its close() wait forever.
 */
export function writeInto(dest: FileHandle): Writable {
  let position = 0;
  const writeAll = async (chunk: Buffer): Promise<void> => {
    for (let off = 0; off < chunk.length; ) {
      const { bytesWritten } = await dest.write(chunk, off, chunk.length - off, position);
      off += bytesWritten;
      position += bytesWritten;
    }
  };
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      writeAll(chunk).then(() => done(), done);
    },
  });
}

/**
 * Streams `src` (an open, checked file) into `dest` (gzip'd when asked; `null` reads without
 * writing); returns the number of bytes read from `src` and, with `hash`, their sha256.
 *
 * @example const { bytes, sha256 } = await copyFd(file.fh, copyFh, { hash: true });
 */
export async function copyFd(
  src: FileHandle,
  dest: FileHandle | null,
  opts: { gzip?: boolean; hash?: boolean; signal?: AbortSignal } = {},
): Promise<{ bytes: number; sha256?: string }> {
  const hash = opts.hash ? createHash('sha256') : undefined;
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash?.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  // A null destination only measures (and hashes): the bytes are read and dropped.
  const sink = dest ? writeInto(dest) : new Writable({ write: (_c, _e, done) => done() });
  const stages = [readFrom(src), tap, ...(opts.gzip ? [createGzip()] : []), sink] as const;
  await pipeline([...stages], opts.signal ? { signal: opts.signal } : {});
  return { bytes, sha256: hash?.digest('hex') };
}

/** sha256 (hex) of an open file's content, from its start. */
export async function sha256Of(fh: FileHandle): Promise<string> {
  const h = createHash('sha256');
  await pipeline(readFrom(fh), h);
  return h.digest('hex');
}
