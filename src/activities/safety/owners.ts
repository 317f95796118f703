/**
 * User and group names → numeric ids, read from /etc/passwd and /etc/group, then `getent`
 * (execFile with an argument array) for NSS sources such as LDAP. Names come from the config
 * only, and are checked against a strict pattern before they reach a command line.
 */
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { configError } from './errors';

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$/;

async function lookupFile(file: string, name: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f[2] !== undefined && /^\d+$/.test(f[2])) return Number(f[2]);
  }
  return undefined;
}

function getent(db: 'passwd' | 'group', name: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    execFile('getent', [db, name], { timeout: 5000, maxBuffer: 64 * 1024 }, (err, stdout) => {
      const id = err ? undefined : String(stdout).split(':')[2];
      resolve(id !== undefined && /^\d+$/.test(id) ? Number(id) : undefined);
    });
  });
}

async function resolveId(db: 'passwd' | 'group', name: string, where: string): Promise<number> {
  if (/^\d+$/.test(name)) return Number(name);
  if (!NAME.test(name)) throw configError(`${where}: "${name}" is not a valid ${db === 'passwd' ? 'user' : 'group'} name`);
  const id = (await lookupFile(db === 'passwd' ? '/etc/passwd' : '/etc/group', name)) ?? (await getent(db, name));
  if (id === undefined) throw configError(`${where}: no such ${db === 'passwd' ? 'user' : 'group'} "${name}" on this host`);
  return id;
}

/**
 * The uid of a user name (or a numeric string). Throws `ConfigError` for an unknown user.
 *
 * @example await resolveUid('www-data', 'managed.owner') // 33
 */
export function resolveUid(name: string, where: string): Promise<number> {
  return resolveId('passwd', name, where);
}

/**
 * The gid of a group name (or a numeric string). Throws `ConfigError` for an unknown group.
 *
 * @example await resolveGid('www-data', 'managed.group') // 33
 */
export function resolveGid(name: string, where: string): Promise<number> {
  return resolveId('group', name, where);
}
