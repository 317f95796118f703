/**
 * Runs a system command safely: an argv array (never a shell string), a timeout and output cut
 * to a bounded size, so a noisy or hung command can neither flood memory nor block an activity.
 */
import { execFile } from 'node:child_process';

/** The outcome of one command. `code` is null when it was killed (timeout or signal). */
export interface CommandResult {
  argv: string[];
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Options of `runCommand`. */
export interface RunOptions {
  /** Milliseconds before the command is killed. @default 60000 */
  timeoutMs?: number;
  /** Characters of stdout/stderr kept (each). @default 4000 */
  maxOutput?: number;
  signal?: AbortSignal;
}

/** Something that runs an argv; injectable so tests can assert argv where the command is impossible. */
export type CommandRunner = (argv: string[], opts?: RunOptions) => Promise<CommandResult>;

/** Cuts a string to `max` characters, marking the cut. */
export function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}… [${s.length - max} more characters]`;
}

/**
 * Runs `argv[0]` with `argv.slice(1)` via `execFile`. Never rejects for a non-zero exit: the
 * caller decides what a failure means. Rejects only when the program cannot be started.
 *
 * @example
 *   const r = await runCommand(['systemctl', 'restart', 'redis'], { timeoutMs: 30_000 });
 *   if (r.code !== 0) throw new Error(r.stderr);
 */
export const runCommand: CommandRunner = (argv, opts = {}) => {
  const [file, ...args] = argv;
  if (!file) return Promise.reject(new Error('runCommand: empty argv (expected [program, ...args])'));
  const max = opts.maxOutput ?? 4000;
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { timeout: opts.timeoutMs ?? 60_000, maxBuffer: 1024 * 1024, signal: opts.signal, encoding: 'utf8', killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { code?: unknown; killed?: boolean; signal?: string | null }) | null;
        if (e && typeof e.code === 'string' && e.code !== 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') {
          reject(new Error(`cannot run ${JSON.stringify(argv)}: ${e.code} ${e.message}`));
          return;
        }
        resolve({
          argv,
          code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
          signal: e?.signal ?? null,
          stdout: truncate(String(stdout), max),
          stderr: truncate(String(stderr), max),
          timedOut: Boolean(e?.killed && e.signal === 'SIGKILL'),
        });
      },
    );
  });
};
