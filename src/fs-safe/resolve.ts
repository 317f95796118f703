/**
 * Resolving a configured absolute path (a managed root, the backup store) from "/" one component
 * at a time, following symlinks only where they cannot have been planted or swapped by anyone but
 * root or the worker: every directory a name is looked up in must be trusted (trust.ts). The result
 * is a pinned directory, so nothing resolved here is ever resolved by name again.
 */
import { unsafePath } from './errors';
import { DirHandle } from './dir';
import { identityOf } from './identity';
import { splitAbsolute } from './names';
import { isSharedSticky, isTrustedDir, isTrustedUid, untrusted, untrustedLink } from './trust';

/** Linux's own limit on symlinks followed in one resolution. */
const MAX_LINKS = 40;

export interface TrustedWalk {
  /** The deepest directory reached; the caller closes it. */
  dir: DirHandle;
  /** Components not walked: empty when the whole path was resolved. */
  rest: string[];
  /** Why the walk ended before the end of the path. */
  stopped?: 'stop' | 'missing' | 'not-dir';
}

export interface TrustedOptions {
  /** What is being resolved, for messages, e.g. `managed.roots entry "/srv/app"`. */
  what: string;
  /** Called on every directory reached; true ends the walk there (the rest is returned). */
  stopAt?: (dir: DirHandle) => boolean;
  /** Creates missing components with this mode (each inside a trusted directory). */
  createMode?: number;
  /** The final directory must be trusted too (a store only the worker may write). */
  trustFinal?: boolean;
}

interface Step {
  dir: DirHandle;
}

async function closeAll(steps: Step[], keep?: DirHandle): Promise<void> {
  for (const s of steps) if (s.dir !== keep) await s.dir.close();
}

/**
 * Walks `p` from "/" and pins the directory it names (or the deepest one reached: see `stopped`).
 * Throws `UnsafePathError` for an untrusted directory on the way, a symlink another user planted
 * in a shared sticky directory (/tmp), or a symlink loop.
 *
 * @example const { dir } = await walkTrusted('/srv/app/logs', { what: 'managed.roots entry "/srv/app/logs"' });
 */
export async function walkTrusted(p: string, opts: TrustedOptions): Promise<TrustedWalk> {
  const queue = splitAbsolute(p);
  const slash = await DirHandle.openSlash();
  const stack: Step[] = [{ dir: slash }];
  const top = () => stack[stack.length - 1]!.dir;
  const finish = async (stopped?: TrustedWalk['stopped']): Promise<TrustedWalk> => {
    const dir = top();
    await closeAll(stack, dir);
    return { dir, rest: queue, ...(stopped ? { stopped } : {}) };
  };
  let links = 0;
  try {
    for (;;) {
      if (opts.stopAt?.(top())) return await finish('stop');
      const name = queue.shift();
      if (name === undefined) break;
      if (name === '.') continue;
      if (name === '..') {
        if (stack.length > 1) await stack.pop()!.dir.close();
        continue;
      }
      const cur = top();
      if (!isTrustedDir(cur.stat)) throw untrusted(opts.what, cur.path, cur.stat);
      let st = await cur.lstat(name);
      if (!st && opts.createMode !== undefined) {
        await cur.mkdir(name, opts.createMode);
        st = await cur.lstat(name);
      }
      if (!st) {
        queue.unshift(name);
        return await finish('missing');
      }
      if (st.isSymbolicLink()) {
        if (++links > MAX_LINKS) throw unsafePath(`${opts.what}: more than ${MAX_LINKS} symlinks on the way (a loop?)`);
        if (isSharedSticky(cur.stat) && !isTrustedUid(st.uid)) throw untrustedLink(opts.what, cur.child(name), st.uid);
        const target = await cur.readlink(name);
        if (target.startsWith('/')) while (stack.length > 1) await stack.pop()!.dir.close();
        queue.unshift(...target.split('/').filter((s) => s.length > 0));
        continue;
      }
      if (!st.isDirectory()) {
        queue.unshift(name);
        return await finish('not-dir');
      }
      stack.push({ dir: await cur.openDir(name, identityOf(st)) });
    }
    if (opts.trustFinal && !isTrustedDir(top().stat)) throw untrusted(opts.what, top().path, top().stat);
    return await finish();
  } catch (e) {
    await closeAll(stack);
    throw e;
  }
}
