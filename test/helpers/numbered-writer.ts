/**
 * A real log writer process for rotation tests (test/fixtures/numbered-writer.py: numbered lines
 * at a set rate, reopening its log on SIGHUP) and the check that every number it wrote is found
 * exactly once across the live log and its generations (plain or gzip'd).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { requireTool } from './tools';

export const WRITER_SCRIPT = path.resolve(__dirname, '../../../test/fixtures/numbered-writer.py');

/** A running writer. */
export interface Writer {
  proc: ChildProcess;
  pid: number;
  /** SIGTERMs it and resolves with the last number it wrote. */
  stop(): Promise<number>;
}

/**
 * Starts a writer appending to `log` at `rate` lines/s; resolves once it has opened the log.
 *
 * @example const w = await startWriter('/tmp/x/app.log', 2000);
 */
export async function startWriter(log: string, rate: number, opts: { ignoreHup?: boolean; pad?: number } = {}): Promise<Writer> {
  const proc = spawn(requireTool('python3'), [WRITER_SCRIPT, log, String(rate), String(opts.pad ?? 60), ...(opts.ignoreHup ? ['--ignore-hup'] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  await new Promise<void>((resolve, reject) => {
    const check = () => (out.includes('ready') ? resolve() : undefined);
    proc.stdout!.on('data', check);
    proc.once('exit', (code) => reject(new Error(`writer exited early (${code})`)));
  });
  return {
    proc,
    pid: proc.pid!,
    stop: () =>
      new Promise<number>((resolve) => {
        proc.once('exit', () => resolve(Number(out.trim().split('\n').at(-1))));
        proc.kill('SIGTERM');
      }),
  };
}

/** Every number found in the live log `name` in `dir` and its generations (name.N, name.N.gz), with duplicates. */
export function numbersIn(dir: string, name: string): number[] {
  const out: number[] = [];
  for (const f of readdirSync(dir)) {
    if (f !== name && !new RegExp(`^${name.replace(/\./g, '\\.')}\\.\\d+(\\.gz)?$`).test(f)) continue;
    const raw = readFileSync(path.join(dir, f));
    const text = (f.endsWith('.gz') ? gunzipSync(raw) : raw).toString('latin1');
    for (const line of text.split('\n')) {
      const m = /^(\d+) x*$/.exec(line);
      if (m) out.push(Number(m[1]));
      else if (line.replace(/\0/g, '') !== '') throw new Error(`${f}: a torn or foreign line: ${JSON.stringify(line.slice(0, 80))}`);
    }
  }
  return out;
}

/** Numbers 1..last missing, and numbers seen more than once. */
export function accountFor(numbers: readonly number[], last: number): { missing: number[]; duplicates: number[] } {
  const seen = new Map<number, number>();
  for (const n of numbers) seen.set(n, (seen.get(n) ?? 0) + 1);
  const missing: number[] = [];
  for (let i = 1; i <= last; i++) if (!seen.has(i)) missing.push(i);
  const duplicates = [...seen].filter(([, c]) => c > 1).map(([n]) => n);
  return { missing, duplicates };
}
