/**
 * Folders that hold what only the worker may read — backups of the files it changed, its state,
 * the config versions it served: created 0700, and tightened to 0700 when they already exist.
 */
import { chmodSync, mkdirSync, promises as fsp, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Makes `dir` (and missing parents) and leaves it mode 0700.
 *
 * @example await ensurePrivateDir('/var/lib/autofix/backups');
 */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  await fsp.chmod(dir, 0o700);
}

/** The synchronous twin of `ensurePrivateDir`. */
export function ensurePrivateDirSync(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

/**
 * Replaces `file` with `value` as JSON, atomically (a 0600 temp file renamed over it) in a 0700
 * folder: a reader sees the old record or the new one, never half of one. For the worker's own
 * state; callers that can race within the process serialise themselves.
 *
 * @example await writePrivateJson('/var/lib/autofix/state/cursors.json', record);
 */
export async function writePrivateJson(file: string, value: unknown): Promise<void> {
  await ensurePrivateDir(path.dirname(file));
  const tmp = `${file}.${process.pid}.tmp`;
  await fsp.writeFile(tmp, JSON.stringify(value), { mode: 0o600 });
  await fsp.rename(tmp, file);
}

/** The synchronous twin of `writePrivateJson`. */
export function writePrivateJsonSync(file: string, value: unknown): void {
  ensurePrivateDirSync(path.dirname(file));
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(value), { mode: 0o600 });
  renameSync(tmp, file);
}
