/**
 * Which processes hold a file open for writing: /proc/<pid>/fd/<n> is a magic link that stat()
 * follows to the very inode the fd holds (renamed or unlinked as it may be), so comparing its
 * device and inode number finds every holder; /proc/<pid>/fdinfo/<n> gives the fd's open flags.
 * Used by log rotation to know when a writer has let go of a rotated file (it may be compressed
 * and removed only then); a reader (`tail -f`, `less`) loses nothing when it is, and does not
 * count. Other users' fds are visible to root only.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { listPids } from './processes';

/** O_ACCMODE bits of an fd's flags: 0 = read only. */
const O_ACCMODE = 0o3;

/** True when fd `fd` of `pid` was opened for writing (unknown counts as writing: the safe side). */
async function opensForWriting(pid: number, fd: string): Promise<boolean> {
  const info = await readFile(`/proc/${pid}/fdinfo/${fd}`, 'utf8').catch(() => '');
  const flags = /^flags:\s+([0-7]+)/m.exec(info)?.[1];
  return flags === undefined || (parseInt(flags, 8) & O_ACCMODE) !== 0;
}

/**
 * The pids (sorted) that hold inode `ino` of device `dev` open for writing, this process excluded.
 *
 * @example await writersOf({ dev: 2049, ino: 131074 }) // [812]
 */
export async function writersOf(id: { dev: number; ino: number }): Promise<number[]> {
  const out: number[] = [];
  for (const pid of await listPids()) {
    if (pid === process.pid) continue;
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      const st = await stat(`/proc/${pid}/fd/${fd}`).catch(() => undefined);
      if (st && st.ino === id.ino && st.dev === id.dev && (await opensForWriting(pid, fd))) {
        out.push(pid);
        break;
      }
    }
  }
  return out.sort((a, b) => a - b);
}
