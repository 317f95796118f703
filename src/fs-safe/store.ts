/**
 * The backup store (`<daemon.data_dir>/backups`): it holds copies of secrets and the manifests a
 * restore acts on, so it must be a place only root or the worker can change. It is created 0700
 * when missing, and every directory from "/" down to it — itself included — must be trusted
 * (trust.ts), or backups are refused. Once checked, paths inside it are used as they are: nobody
 * else can rename or plant anything there.
 */
import { walkTrusted } from './resolve';

/**
 * Checks (creating it 0700 when missing) that `dir` is a trusted store. Throws `UnsafePathError`
 * naming the directory and its owner when it is not.
 *
 * @example await ensureTrustedStore('/var/lib/autofix/backups');
 */
export async function ensureTrustedStore(dir: string): Promise<void> {
  const walk = await walkTrusted(dir, { what: `the backup store "${dir}" (daemon.data_dir)`, createMode: 0o700, trustFinal: true });
  await walk.dir.close();
}

/**
 * Checks an existing store without creating it; false when it does not exist.
 */
export async function isTrustedStore(dir: string): Promise<boolean> {
  const walk = await walkTrusted(dir, { what: `the backup store "${dir}" (daemon.data_dir)`, trustFinal: true });
  await walk.dir.close();
  return walk.stopped === undefined;
}
