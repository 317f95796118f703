/**
 * Opening a file that someone else may control, for reading only: a watched log or JSON file.
 * Detection reads these as the worker's user (root, often) and copies lines into alerts, incidents
 * and histories, so an app user who owns its log directory must not be able to turn `app.log`
 * into a symlink (or a hard link) to /etc/shadow, or to the worker's own backups, and have the
 * worker read it for them.
 *
 * The rule follows trust.ts: a symlink is followed only where root or the worker could have put
 * it — in a trusted directory (so an admin's `/var/log/app.log -> /srv/app/log/app.log` works).
 * From the first directory on the path that another user can write, the rest is reached one
 * O_NOFOLLOW component at a time (cursor.ts), the file is opened O_NOFOLLOW (file.ts), and a file
 * with more than one hard link there is refused: its other name could be a file that user cannot
 * read.
 */
import path from 'node:path';
import { openBelow } from './cursor';
import type { DirHandle } from './dir';
import { unsafePath } from './errors';
import { openFileAt, type OpenFile } from './file';
import { walkTrusted } from './resolve';
import { isTrustedDir } from './trust';

/** Linux's own limit on symlinks followed in one resolution. */
const MAX_LINKS = 40;

/**
 * Opens `file` for reading under the rule above. Undefined when it (or a directory on its way)
 * does not exist; `UnsafePathError` for a symlink or a hard link an untrusted user could have
 * planted; `RefusedError` for something that is not a regular file.
 *
 * @example const f = await openForReading('/srv/app/logs/app.log'); // f.fh, f.stat; close f.fh
 */
export async function openForReading(file: string): Promise<OpenFile | undefined> {
  let target = path.resolve(file);
  for (let links = 0; links <= MAX_LINKS; links++) {
    const parent = await openParent(target);
    if (!parent) return undefined;
    const name = path.basename(target);
    try {
      const st = await parent.lstat(name);
      if (!st) return undefined;
      // An admin's symlink in a trusted directory is followed: resolve its target from "/" again.
      if (st.isSymbolicLink() && isTrustedDir(parent.stat)) {
        target = path.resolve(path.dirname(target), await parent.readlink(name));
        continue;
      }
      return await openFileAt(parent, name, isTrustedDir(parent.stat) ? {} : { singleLinkFor: 'read it for the worker' });
    } finally {
      await parent.close();
    }
  }
  throw unsafePath(`${file}: more than ${MAX_LINKS} symlinks on the way (a loop?)`);
}

/** The pinned directory holding `file`: trusted resolution, then no symlink below the first untrusted directory. */
async function openParent(file: string): Promise<DirHandle | undefined> {
  const walk = await walkTrusted(path.dirname(file), { what: `watched file ${file}`, stopAt: (d) => !isTrustedDir(d.stat) });
  if (walk.stopped === 'missing' || walk.stopped === 'not-dir') {
    await walk.dir.close();
    return undefined;
  }
  if (walk.rest.length === 0) return walk.dir;
  try {
    const below = await openBelow(walk.dir, walk.rest);
    if (below.rest.length > 0) {
      await below.dir.close();
      return undefined;
    }
    return below.dir;
  } finally {
    await walk.dir.close();
  }
}
