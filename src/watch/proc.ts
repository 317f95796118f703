/** The process watcher's cheap liveness check (Linux): an open handle on /proc/<pid>/stat. */
import { closeSync, openSync, readSync } from 'node:fs';
import { hasExited, parseStat } from '../proc';

/**
 * An open handle on /proc/<pid>/stat: re-reading it costs one pread (~3 µs, against ~13 µs to
 * open, read and close), and it stays bound to that process — once the process is reaped, reads
 * fail with ESRCH even if its pid is reused, like a pidfd.
 */
export class ProcHandle {
  private readonly buf = Buffer.alloc(1024);

  private constructor(
    readonly pid: number,
    private fd: number | undefined,
  ) {}

  /** Opens the handle; undefined when the process is gone or already a zombie. */
  static open(pid: number): ProcHandle | undefined {
    let fd: number;
    try {
      fd = openSync(`/proc/${pid}/stat`, 'r');
    } catch {
      return undefined;
    }
    const h = new ProcHandle(pid, fd);
    if (h.exited()) {
      h.close();
      return undefined;
    }
    return h;
  }

  /** True when the process has exited: reaped, zombie (Z) or dead (X). */
  exited(): boolean {
    if (this.fd === undefined) return true;
    try {
      const n = readSync(this.fd, this.buf, 0, this.buf.length, 0);
      const st = parseStat(this.buf.toString('latin1', 0, n));
      return !st || hasExited(st);
    } catch {
      return true;
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
