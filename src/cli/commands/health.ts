/**
 * `autofix health`: run every enabled health check once and print the seed's report (JSON by
 * default, as `health_monitor.py` did; `--table` for people). Exit codes follow Nagios plugins
 * so monitoring can call it directly: 0 healthy, 1 degraded, 2 unhealthy, 3 unknown (also for
 * an unreadable or invalid config: the state of the stack is then unknown).
 */
import type { Command } from 'commander';
import { DEFAULT_CONFIG_PATH, loadConfig } from '../../config/load';
import { ConfigError } from '../../config/errors';
import {
  runHealthChecks,
  PROBE_NAMES,
  HEALTH_SECTIONS,
  type CheckStatus,
  type HealthReport,
} from '../../probes';
import { CliError, printJson, printTable } from '../output';
import { makeRedactor, secretsOf } from '../../config/secrets';

/** Nagios plugin exit code of an overall status. */
export const EXIT_CODES: Readonly<Record<CheckStatus, number>> = {
  healthy: 0,
  degraded: 1,
  unhealthy: 2,
  unknown: 3,
};

/** Key facts of a check or sub-item for the table (latency, usage, days left, HTTP status). */
function facts(r: Record<string, unknown>): string {
  const parts: string[] = [];
  if (r.http_status !== undefined) parts.push(`HTTP ${String(r.http_status)}`);
  if (r.latency_ms !== undefined) parts.push(`${String(r.latency_ms)} ms`);
  if (r.usage_percent !== undefined) parts.push(`${String(r.usage_percent)}%`);
  if (r.free_gb !== undefined) parts.push(`${String(r.free_gb)} GiB free`);
  if (r.days_left !== undefined) parts.push(`${String(r.days_left)} days left`);
  return parts.join(', ');
}

/** Prints a report as a table: one row per check, one indented row per endpoint/port/path. */
function printReportTable(report: HealthReport): void {
  const rows: unknown[][] = [];
  for (const [name, r] of Object.entries(report.checks)) {
    if (!r) continue;
    rows.push([name, r.status, facts(r), r.message]);
    for (const key of ['endpoints', 'certificates', 'ports', 'paths']) {
      const items = r[key];
      if (!items || typeof items !== 'object') continue;
      for (const [sub, v] of Object.entries(items as Record<string, Record<string, unknown>>)) {
        rows.push([`  ${sub}`, v.status, facts(v), v.message]);
      }
    }
  }
  printTable(['check', 'status', 'facts', 'message'], rows);
  process.stdout.write(`overall: ${report.overall_status} (${report.timestamp})\n`);
  const m = report.metrics;
  if (m) {
    const procs = m.processes ? `${m.processes.count} processes` : 'processes n/a';
    process.stdout.write(
      `metrics: cpu ${m.cpu?.usage_percent ?? 'n/a'}%, memory ${m.memory?.usage_percent ?? 'n/a'}%, ` +
        `${m.disk?.length ?? 0} file systems, ${procs}\n`,
    );
  }
}

/** Registers `autofix health`. */
export function registerHealthCommand(program: Command): void {
  program
    .command('health')
    .description('Run the health checks once; exit 0 healthy, 1 degraded, 2 unhealthy, 3 unknown')
    .option('--config <path>', 'config file', DEFAULT_CONFIG_PATH)
    .option('--table', 'print a table instead of JSON')
    .option('--no-metrics', 'skip system metrics (CPU, memory, disk, network, processes)')
    .option(
      '--only <names...>',
      `only these probes or sections (${[...new Set([...PROBE_NAMES, ...HEALTH_SECTIONS])].join(', ')})`,
    )
    .action(async (opts: { config: string; table?: boolean; metrics: boolean; only?: string[] }) => {
      let config;
      try {
        config = loadConfig(opts.config);
      } catch (err) {
        if (err instanceof ConfigError) throw new CliError(err.message, EXIT_CODES.unknown);
        throw err;
      }
      const unknownNames = (opts.only ?? []).filter((n) => !(PROBE_NAMES as readonly string[]).includes(n));
      if (unknownNames.length > 0) {
        throw new CliError(
          `--only: unknown probe ${unknownNames.join(', ')} (known: ${PROBE_NAMES.join(', ')})`,
          EXIT_CODES.unknown,
        );
      }
      // Terminals and CI logs keep what they show: no password or token of the config in a report.
      const report = makeRedactor(secretsOf(config))(await runHealthChecks(config, { only: opts.only, metrics: opts.metrics }));
      if (opts.table) printReportTable(report);
      else printJson(report);
      process.exitCode = EXIT_CODES[report.overall_status];
    });
}
