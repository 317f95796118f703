/**
 * The seed's run options (`--config`, `--log-file`, `--loop-count`, `--wait-minutes`, plus our
 * `--loop-interval`), shared by `run` and `up` so both read them the same way, and the daemon
 * input they give.
 */
import type { Command } from 'commander';
import type { DaemonInput } from '../workflows/definitions';
import { CliError } from './output';

/** The seed's options as commander parses them. */
export interface SeedRunOptions {
  config?: string;
  logFile?: string;
  loopCount?: number;
  waitMinutes?: number;
  loopInterval?: number;
}

/**
 * A commander parser for a positive number; a bad value is exit 2 naming the option.
 *
 * @example cmd.option('--loop-count <n>', 'loops', positiveNumber('--loop-count'))
 */
export function positiveNumber(name: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new CliError(`${name} must be a positive number, got "${v}"`, 2);
    return n;
  };
}

/** Registers the loop options (the config and log-file options differ in help text per command). */
export function loopOptions(cmd: Command): Command {
  return cmd
    .option('--loop-count <n>', 'loops per iteration (default 15)', positiveNumber('--loop-count'))
    .option('--wait-minutes <n>', 'minutes to wait between iterations (default 5; fractions allowed)', positiveNumber('--wait-minutes'))
    .option('--loop-interval <s>', 'seconds between loops (default 30)', positiveNumber('--loop-interval'));
}

/**
 * The daemon workflow's input from the loop options (absent ones keep the workflow's defaults).
 *
 * @example daemonInputOf({ loopCount: 20, waitMinutes: 10 }, ''); // { loopCount: 20, waitMinutes: 10 }
 */
export function daemonInputOf(o: SeedRunOptions, host: string): DaemonInput {
  return {
    ...(o.loopCount ? { loopCount: o.loopCount } : {}),
    ...(o.waitMinutes ? { waitMinutes: o.waitMinutes } : {}),
    ...(o.loopInterval ? { loopIntervalSeconds: o.loopInterval } : {}),
    ...(host ? { host } : {}),
  };
}
