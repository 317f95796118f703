/**
 * The identity of an inode: device and inode number. A plan records the identity of what it saw;
 * the use compares it with what its fd holds (fstat), so a swapped name is never acted on.
 */
import type { Stats } from 'node:fs';

/** Device and inode number. (Inode numbers above 2^53 would lose precision as JS numbers; no
 * Linux file system in use allocates them that high.) */
export interface Identity {
  dev: number;
  ino: number;
}

/** The identity of a stat result. */
export function identityOf(st: Pick<Stats, 'dev' | 'ino'>): Identity {
  return { dev: st.dev, ino: st.ino };
}

/** True when both name the same inode. */
export function sameIdentity(a: Identity, b: Identity): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

/** "dev:ino" for messages. */
export function formatIdentity(id: Identity): string {
  return `${id.dev}:${id.ino}`;
}
