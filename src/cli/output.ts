/** Output helpers shared by the commands: readable tables by default, JSON with --json. */
import Table from 'cli-table3';
import { ConfigError } from '../config/errors';

/** Prints rows as a table with the given column headers (cells are stringified). */
export function printTable(head: string[], rows: Array<Array<unknown>>): void {
  const t = new Table({ head, style: { head: [], border: [] } });
  for (const r of rows) t.push(r.map((c) => (c === undefined || c === null ? '' : String(c))));
  process.stdout.write(t.toString() + '\n');
}

/** Prints a value as pretty JSON. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** Thrown by commands for a clean, one-paragraph failure with an exit code (no stack trace). */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** The innermost failure message: the worker's refusal, not the client wrappers around it. */
export function rootMessage(err: unknown): string {
  let e = err as { message?: string; cause?: unknown };
  for (let depth = 0; e.cause && depth < 8; depth++) e = e.cause as typeof e;
  return e.message ?? String(err);
}

/** Maps an error to its message and exit code: config errors exit 2, CLI errors their own code. */
export function describeFailure(err: unknown): { message: string; exitCode: number } {
  if (err instanceof ConfigError) return { message: err.message, exitCode: 2 };
  if (err instanceof CliError) return { message: err.message, exitCode: err.exitCode };
  const e = err as Error;
  return { message: `${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`, exitCode: 1 };
}
