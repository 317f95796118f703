/** What a rotation knows of one log file it rotates (planned, then checked again at each step). */
import type { Identity } from '../fs-safe';

export interface RotatedLog {
  /** Display path of the log. */
  file: string;
  /** Its name in its (pinned) directory. */
  name: string;
  /** The inode the plan saw. */
  id: Identity;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  /** Name of the new generation (`app.log.1` or `app.log.1.gz`). */
  newest: string;
}

/** True for a failure of a write for lack of space. */
export function isNoSpace(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}
