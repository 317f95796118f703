/**
 * Follows a log file like `tail -F`: every line appended after the start is handed over once, in
 * order, across rotation (rename + new file) and truncation. `autofix up` uses it to echo
 * auto_fix.log to stdout, so that `journalctl -u auto-fix-daemon` shows the seed's lines exactly
 * as the logger wrote them — whatever writes them, whatever their format.
 *
 * The file may sit in a directory the monitored app's user controls, and this process may be
 * root: a file is only read when it is a regular file, not a symlink (O_NOFOLLOW), with one link,
 * owned by this process's user — what the logger itself creates. Anything else (a link planted to
 * /etc/shadow, a hard link) is never read: it is reported once through `onNotice`.
 */
import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';

/** Options of `followLog`. */
export interface FollowOptions {
  /** How often the file is checked. @default 500 */
  intervalMs?: number;
  /** Most bytes read per check (the rest waits for the next). @default 4 MiB */
  maxBytesPerTick?: number;
  /** Told once per path why it is not followed (wrong owner, a symlink, …). */
  onNotice?: (message: string) => void;
}

/** A running follower. */
export interface LogFollower {
  /** Reads what is left, stops, closes the file. */
  stop(): void;
}

interface Open {
  path: string;
  fd: number;
  dev: number;
  ino: number;
  pos: number;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/g;

/** A line as it may go to a terminal or journald: no control characters but tabs. */
export function printableLine(line: string): string {
  return line.replace(/\r$/, '').replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Why this process must not read `st` (see the module comment), or undefined when it may. */
function refusal(st: Stats): string | undefined {
  if (!st.isFile()) return 'not a regular file';
  if (st.nlink !== 1) return `${st.nlink} hard links`;
  const uid = process.geteuid?.();
  if (uid !== undefined && st.uid !== uid) return `owned by uid ${st.uid}, not by this process (uid ${uid})`;
  return undefined;
}

/**
 * Follows the file `file()` names (asked again at every check, so a config reload that moves the
 * log is followed too). Lines already in the file at the start are skipped; a file that appears
 * or replaces it later is read from its first byte.
 *
 * @example
 *   const f = followLog(() => '/var/lib/autofix/logs/auto_fix.log', (line) => process.stdout.write(`${line}\n`));
 *   // ... later
 *   f.stop();
 */
export function followLog(file: () => string, onLine: (line: string) => void, opts: FollowOptions = {}): LogFollower {
  const maxBytes = opts.maxBytesPerTick ?? 4 * 1024 * 1024;
  const noticed = new Set<string>();
  const notice = (p: string, why: string) => {
    if (noticed.has(p)) return;
    noticed.add(p);
    opts.onNotice?.(`not echoing ${p}: ${why}`);
  };
  let current: Open | undefined;
  let decoder = new StringDecoder('utf8');
  let partial = '';
  let first = true;

  const emit = (text: string) => {
    const parts = (partial + text).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) onLine(printableLine(line));
  };

  /** Reads from the open file up to its end (or maxBytes); true when it reached the end. */
  const drain = (o: Open, limit: number): boolean => {
    const size = fstatSync(o.fd).size;
    if (size < o.pos) o.pos = 0; // truncated in place (copytruncate): start over
    const buf = Buffer.alloc(Math.min(64 * 1024, Math.max(1, size - o.pos)));
    let budget = limit;
    while (o.pos < size && budget > 0) {
      const n = readSync(o.fd, buf, 0, Math.min(buf.length, size - o.pos, budget), o.pos);
      if (n <= 0) break;
      o.pos += n;
      budget -= n;
      emit(decoder.write(buf.subarray(0, n)));
    }
    return o.pos >= size;
  };

  const close = () => {
    if (!current) return;
    emit(decoder.end());
    if (partial) onLine(printableLine(partial));
    partial = '';
    decoder = new StringDecoder('utf8');
    closeSync(current.fd);
    current = undefined;
  };

  const open = (p: string, fromEnd: boolean) => {
    let fd: number;
    try {
      fd = openSync(p, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ELOOP') notice(p, 'it is a symbolic link');
      else if (code !== 'ENOENT') notice(p, code ?? String(e));
      return;
    }
    const st = fstatSync(fd);
    const why = refusal(st);
    if (why) {
      closeSync(fd);
      notice(p, why);
      return;
    }
    current = { path: p, fd, dev: st.dev, ino: st.ino, pos: fromEnd ? st.size : 0 };
  };

  const tick = () => {
    const p = file();
    if (current) {
      let st: Stats | undefined;
      try {
        st = statSync(p, { throwIfNoEntry: false }) ?? undefined;
      } catch {
        st = undefined;
      }
      const replaced = current.path !== p || !st || st.dev !== current.dev || st.ino !== current.ino;
      // Read the old file to its end first: lines written just before a rotation are not lost.
      const done = drain(current, maxBytes);
      if (!replaced || !done) return;
      close();
    }
    open(p, first);
    first = false;
    if (current) drain(current, maxBytes);
  };

  const timer = setInterval(() => {
    try {
      tick();
    } catch (e) {
      notice(file(), (e as Error).message);
    }
  }, opts.intervalMs ?? 500);
  timer.unref();
  try {
    tick();
  } catch (e) {
    notice(file(), (e as Error).message);
  }
  return {
    stop() {
      clearInterval(timer);
      try {
        if (current) drain(current, Number.MAX_SAFE_INTEGER);
      } finally {
        close();
      }
    },
  };
}
