/**
 * Users and groups: names ↔ numeric ids from /etc/passwd and /etc/group, then `getent` (execFile
 * with an argument array) for NSS sources such as LDAP. The one place autofix reads them.
 * Names come from the config only, and are checked against a strict pattern before they reach a
 * command line.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { configFailure } from '../errors';

type Db = 'passwd' | 'group';

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$/;
const FILES: Record<Db, string> = { passwd: '/etc/passwd', group: '/etc/group' };

/** The `name:x:id:...` rows of a database file (empty when unreadable). */
async function readRows(db: Db): Promise<Array<{ name: string; id: number }>> {
  const text = await readFile(FILES[db], 'utf8').catch(() => '');
  const rows: Array<{ name: string; id: number }> = [];
  for (const line of text.split('\n')) {
    const [name, , id] = line.split(':');
    if (name && id !== undefined && /^\d+$/.test(id)) rows.push({ name, id: Number(id) });
  }
  return rows;
}

function getent(db: Db, key: string): Promise<{ name: string; id: number } | undefined> {
  return new Promise((resolve) => {
    execFile('getent', [db, key], { timeout: 5000, maxBuffer: 64 * 1024 }, (err, stdout) => {
      const [name, , id] = err ? [] : String(stdout).split(':');
      resolve(name && id !== undefined && /^\d+$/.test(id) ? { name, id: Number(id) } : undefined);
    });
  });
}

/**
 * uid → user name of the local users (/etc/passwd), for labelling processes; ids without a name
 * are absent.
 *
 * @example (await userNames()).get(0) // 'root'
 */
export async function userNames(): Promise<Map<number, string>> {
  const names = new Map<number, string>();
  for (const r of await readRows('passwd')) if (!names.has(r.id)) names.set(r.id, r.name);
  return names;
}

/** The id of a user or group name (files first, then NSS), or undefined when there is none. */
export async function lookupId(db: Db, name: string): Promise<number | undefined> {
  if (!NAME.test(name)) return undefined;
  return (await readRows(db)).find((r) => r.name === name)?.id ?? (await getent(db, name))?.id;
}

async function resolveId(db: Db, name: string, where: string): Promise<number> {
  const what = db === 'passwd' ? 'user' : 'group';
  if (/^\d+$/.test(name)) return Number(name);
  if (!NAME.test(name)) throw configFailure(`${where}: "${name}" is not a valid ${what} name`);
  const id = await lookupId(db, name);
  if (id === undefined) throw configFailure(`${where}: no such ${what} "${name}" on this host`);
  return id;
}

/**
 * The uid of a user name (or a numeric string). Throws a non-retryable `ConfigError` naming
 * `where` for an unknown user.
 *
 * @example await resolveUid('www-data', 'managed.owner') // 33
 */
export function resolveUid(name: string, where: string): Promise<number> {
  return resolveId('passwd', name, where);
}

/**
 * The gid of a group name (or a numeric string). Throws a non-retryable `ConfigError` naming
 * `where` for an unknown group.
 *
 * @example await resolveGid('www-data', 'managed.group') // 33
 */
export function resolveGid(name: string, where: string): Promise<number> {
  return resolveId('group', name, where);
}
