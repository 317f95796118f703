/**
 * Which directories may be trusted to hold what they held a moment ago: those that only root or
 * the worker's own user can change. A user who can write a directory can rename, replace or
 * symlink anything in it, so a path is only as safe as the directories it is looked up in.
 *
 * Managed roots themselves may be (and usually are) owned by the app user: below a root,
 * fs-safe never resolves a name twice and never follows a symlink, so that user can swap what
 * they like there without effect. But the directories *above* a root (its ancestors, and every
 * directory a configured symlink on the way lies in) must be trusted: whoever can write one of
 * them can swap the root itself for another directory. Such a root is refused with an error that
 * names the directory and its owner. (The alternative, acting as that user in a child process as
 * logrotate's `su` directive does, needs a per-root user in the config and a process per action;
 * refusing is simpler, and the fix for the admin — a root-owned parent — is one chown.)
 */
import fs from 'node:fs';
import type { Stats } from 'node:fs';
import { unsafePath } from './errors';

const S_ISVTX = 0o1000;

/** uids whose directories are trusted: root and the worker's own user. */
export function isTrustedUid(uid: number): boolean {
  return uid === 0 || uid === process.geteuid?.();
}

/**
 * True when only a trusted user can change the directory's entries: owned by root or the worker
 * and not writable by others, nor by its group unless that group is root's (logrotate's rule for
 * a log directory's parent) — or sticky and owned by root, like /tmp, where others may add names
 * but not rename or remove ours (entries found there must then be trusted-owned too).
 */
export function isTrustedDir(st: Pick<Stats, 'uid' | 'gid' | 'mode'>): boolean {
  if (!isTrustedUid(st.uid)) return false;
  const groupOk = (st.mode & 0o020) === 0 || st.gid === 0;
  if (groupOk && (st.mode & 0o002) === 0) return true;
  return (st.mode & S_ISVTX) !== 0 && st.uid === 0;
}

/** True for a sticky directory others may write (entries there are only as safe as their owner). */
export function isSharedSticky(st: Pick<Stats, 'mode'>): boolean {
  return (st.mode & S_ISVTX) !== 0 && (st.mode & 0o022) !== 0;
}

const names = new Map<number, string>();

/** "uid 33 (www-data)" — the name from /etc/passwd when there is one. */
export function describeUid(uid: number): string {
  if (!names.has(uid)) {
    let name = '';
    try {
      const line = fs
        .readFileSync('/etc/passwd', 'utf8')
        .split('\n')
        .find((l) => l.split(':')[2] === String(uid));
      name = line?.split(':')[0] ?? '';
    } catch {
      // no passwd file: the number alone
    }
    names.set(uid, name);
  }
  const name = names.get(uid);
  return name ? `uid ${uid} (${name})` : `uid ${uid}`;
}

/**
 * The refusal for an untrusted directory met on the way to `what`.
 *
 * @example untrusted('managed.roots entry "/srv/app/logs"', '/srv/app', st)
 */
export function untrusted(what: string, dir: string, st: Pick<Stats, 'uid' | 'gid' | 'mode'>): ReturnType<typeof unsafePath> {
  const mode = '0' + (st.mode & 0o7777).toString(8);
  const why = isTrustedUid(st.uid) ? `writable by group ${st.gid} or others (mode ${mode})` : `owned by ${describeUid(st.uid)} (mode ${mode})`;
  return unsafePath(
    `${what}: the directory "${dir}" on the way to it is ${why}; whoever can write it can swap what lies below it, so autofix will not act through it. ` +
      `Make "${dir}" owned by root (or the worker's user) and not writable by others or a group other than root, or configure a path below such directories`,
  );
}

/** The refusal for a symlink planted in a shared sticky directory by another user. */
export function untrustedLink(what: string, link: string, uid: number): ReturnType<typeof unsafePath> {
  return unsafePath(`${what}: "${link}" is a symlink owned by ${describeUid(uid)} in a shared sticky directory; autofix will not follow it`);
}
