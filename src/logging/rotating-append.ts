/**
 * Appends to a log file, rotating it first when the write would pass `maxBytes`
 * (file → file.1 → ... → file.<keep>, the oldest dropped). Writers of one path inside this
 * process are serialised, so concurrent activities never interleave or rotate twice.
 */
import { appendFile, mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';

const chains = new Map<string, Promise<unknown>>();

/** Runs `fn` after every earlier call queued for the same key (an in-process mutex). */
export function serialize<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const prev = chains.get(key) ?? Promise.resolve();
  const next = prev.then(fn, fn);
  const settled = next.catch(() => undefined);
  chains.set(key, settled);
  void settled.then(() => {
    if (chains.get(key) === settled) chains.delete(key);
  });
  return next;
}

/** Shifts file.N → file.N+1 (dropping file.<keep>) and file → file.1. */
export async function rotateFile(file: string, keep: number): Promise<void> {
  await rm(`${file}.${keep}`, { force: true });
  for (let i = keep - 1; i >= 1; i--) {
    await rename(`${file}.${i}`, `${file}.${i + 1}`).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  }
  await rename(file, `${file}.1`).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOENT') throw e;
  });
}

/**
 * Appends `text` to `file` (creating its directory), rotating first when the file would grow
 * past `maxBytes`. A single write larger than `maxBytes` still goes into a fresh file.
 *
 * @example
 *   await appendRotating('/var/log/autofix/auto_fix.log', 'line\n', 10 * 1024 * 1024, 5);
 */
export function appendRotating(file: string, text: string, maxBytes: number, keep: number): Promise<void> {
  return serialize(file, async () => {
    await mkdir(path.dirname(file), { recursive: true });
    const size = await stat(file).then(
      (s) => s.size,
      () => 0,
    );
    if (size > 0 && size + Buffer.byteLength(text) > maxBytes) await rotateFile(file, keep);
    await appendFile(file, text, { encoding: 'utf8', mode: 0o640 });
  });
}
