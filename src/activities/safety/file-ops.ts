/**
 * Small file operations shared by actions and backup: streamed hashing, and atomic replacement
 * (temp file in the same directory, fsync, rename) so a reader never sees a half-written file.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

/**
 * sha256 (hex) of a file, streamed.
 *
 * @example await sha256File('/srv/app/data/settings.json') // 'e3b0c4…'
 */
export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(file), h);
  return h.digest('hex');
}

/** A temp name next to `file`, so the final rename stays on one file system (atomic). */
export function tempNameFor(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.autofix-${randomBytes(6).toString('hex')}.tmp`);
}

async function fsyncPath(p: string): Promise<void> {
  const fh = await fsp.open(p, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Moves a fully written temp file over `dest` after fsyncing it, then fsyncs the directory.
 * `check` runs on the temp file first; if it throws, the temp file is removed and `dest` is left
 * untouched.
 */
async function commitTemp(tmp: string, dest: string, mode: number, check?: (tmp: string) => Promise<void>): Promise<void> {
  try {
    await fsp.chmod(tmp, mode & 0o7777);
    if (check) await check(tmp);
    await fsyncPath(tmp);
    await fsp.rename(tmp, dest);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
  await fsyncPath(path.dirname(dest)).catch(() => undefined); // best effort: some FS refuse dir fsync
}

/**
 * Atomically replaces (or creates) `file` with `data` and `mode`.
 *
 * @example await writeFileAtomic('/srv/app/data/state.json', '{}\n', 0o640);
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, mode: number, check?: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = tempNameFor(file);
  await fsp.writeFile(tmp, data, { flag: 'wx', mode: 0o600 });
  await commitTemp(tmp, file, mode, check);
}

/**
 * Atomically replaces (or creates) `dest` with a copy of `src` (kernel copy, no buffering),
 * optionally validating the copy before it becomes visible.
 *
 * @example await copyFileAtomic(backup, '/srv/app/data/state.json', 0o640, assertJson);
 */
export async function copyFileAtomic(src: string, dest: string, mode: number, check?: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = tempNameFor(dest);
  await fsp.copyFile(src, tmp, 1 /* COPYFILE_EXCL */);
  await commitTemp(tmp, dest, mode, check);
}
