/**
 * "Create" rotation, lossless: the log's inode is never truncated or removed while a writer holds
 * it. The name moves to the new generation and a new empty log takes the name, with no moment
 * when the name is missing: the log is hard-linked as `app.log.1`, then a new file (the log's
 * owner and mode, fsynced) is renamed over `app.log`. The writer keeps writing into the old inode
 * (now `app.log.1`) until the reopen step makes it reopen `app.log` (reopen.ts); the old inode is
 * compressed and removed only once no process has it open for writing — otherwise it stays
 * uncompressed and is compressed by a later rotation. So every line is in the live log or in a
 * generation.
 */
import { createExclusiveAt, hardLinked, identityOf, openFileAt, raced, sameIdentity, tempNameFor, type DirHandle, type Identity } from '../fs-safe';
import { errnoCode } from '../safety/errors';
import { GenerationWriter } from './generation';
import type { RotatedLog } from './types';

/**
 * Moves the log `f` to `moved` and gives its name a new empty file (see the module comment).
 * Returns false when the log was gone.
 */
export async function moveAndCreate(dir: DirHandle, f: RotatedLog, moved: string): Promise<boolean> {
  const st = await dir.lstat(f.name);
  if (!st) return false;
  if (!sameIdentity(identityOf(st), f.id)) throw raced(f.file, 'another file is under its name now');
  if (st.nlink > 1) throw hardLinked(f.file, st.nlink, 'rotate it');
  const tmp = tempNameFor(f.name);
  const fresh = await createExclusiveAt(dir, tmp, 0o600);
  try {
    await fresh.chown(f.uid, f.gid).catch((e: unknown) => (errnoCode(e) === 'EPERM' ? undefined : Promise.reject(e)));
    await fresh.chmod(f.mode & 0o7777);
    await fresh.sync();
  } finally {
    await fresh.close();
  }
  try {
    await dir.link(f.name, moved);
    const now = await dir.lstat(moved);
    if (!now || !sameIdentity(identityOf(now), f.id)) {
      // Swapped between the check and link(2): our new name holds something else; take it back.
      await dir.unlink(moved, (x) => !x.isDirectory());
      throw raced(f.file, 'another file was linked in its place');
    }
    await dir.rename(tmp, f.name); // atomic: the name always holds a log
  } catch (e) {
    await dir.unlink(tmp).catch(() => undefined);
    throw e;
  }
  await dir.sync();
  return true;
}

/**
 * Finishes a rotation interrupted between the link and the rename (a crash): `name` and `moved`
 * are the same inode. Gives `name` a new empty file; returns true when it did.
 */
export async function finishInterruptedMove(dir: DirHandle, name: string, moved: string, meta: { mode: number; uid: number; gid: number }): Promise<boolean> {
  const a = await dir.lstat(name);
  const b = await dir.lstat(moved);
  if (!a?.isFile() || !b?.isFile() || !sameIdentity(identityOf(a), identityOf(b)) || a.nlink !== 2) return false;
  const tmp = tempNameFor(name);
  const fresh = await createExclusiveAt(dir, tmp, 0o600);
  try {
    await fresh.chown(meta.uid, meta.gid).catch(() => undefined);
    await fresh.chmod(meta.mode & 0o7777);
    await fresh.sync();
  } finally {
    await fresh.close();
  }
  await dir.rename(tmp, name);
  await dir.sync();
  return true;
}

/**
 * Compresses the released generation `from` (inode `id`) into `to` (.gz, fsynced, same owner and
 * mode), then removes `from` — only while it is still that inode and holds nothing the .gz lacks.
 * Throws (ENOSPC included) with `from` untouched. Returns the bytes compressed; undefined when
 * `from` was gone.
 */
export async function compressGeneration(dir: DirHandle, from: string, id: Identity, to: string, signal?: AbortSignal): Promise<number | undefined> {
  const src = await openFileAt(dir, from, { expect: id, singleLinkFor: 'compress it' });
  if (!src) return undefined;
  let gen: GenerationWriter | undefined;
  let done = false;
  try {
    gen = await GenerationWriter.open(dir, to, true);
    let pos = await gen.appendFrom(src.fh, 0, signal);
    await gen.commit(src.stat);
    // Released means nobody appends; but if someone reopened it by name, catch up before removing.
    for (let size = (await src.fh.stat()).size; size > pos; size = (await src.fh.stat()).size) pos = await gen.appendFrom(src.fh, pos, signal);
    await gen.sync();
    const removed = await dir.unlink(from, (st) => sameIdentity(identityOf(st), id) && st.size === pos);
    done = true;
    if (removed === 'kept') throw raced(`${dir.child(from)}`, 'it changed while it was compressed; both copies kept');
    return pos;
  } finally {
    await gen?.close(done);
    await src.fh.close();
  }
}
