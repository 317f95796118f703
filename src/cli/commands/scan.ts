/** `autofix scan [--config P] [--json] [FILE...]`: one detection pass from the start; no fixes. */
import type { Stats } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { DEFAULT_CONFIG_PATH, loadConfig } from '../../config/load';
import { compileMatcher } from '../../detection/matcher';
import { scanFilesFromStart } from '../../detection/log-scanner';
import { OwnFiles } from '../../detection/own-files';
import { printJson, printTable } from '../output';

/** Progress is only worth showing for big files, and only to a person at a terminal. */
const PROGRESS_MIN_BYTES = 64 * 1024 * 1024;

/** Registers `scan`. */
export function registerScanCommand(program: Command): void {
  program
    .command('scan')
    .description('Scan log files once from their start and print what the patterns detect (never fixes anything)')
    .argument('[files...]', 'log files or globs (default: the configured watch.logs)')
    .option('--config <path>', 'config file', DEFAULT_CONFIG_PATH)
    .option('--json', 'print {"detections":[...]} as JSON')
    .option('--workers <n>', 'threads scanning a file of ≥ 64 MiB in parallel (default: min(cores, 2); 1 = one thread)', (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a positive integer');
      return n;
    })
    .action(async (files: string[], opts: { config: string; json?: boolean; workers?: number }) => {
      const cfg = loadConfig(opts.config);
      const targets = files.length > 0 ? files : cfg.watch.logs;
      // The configured globs never include autofix's own files (as in the daemon); files named
      // on the command line are read as asked.
      const own = files.length > 0 ? undefined : OwnFiles.of(cfg);
      const matcher = compileMatcher(cfg.error_patterns);
      const tty = process.stderr.isTTY === true;
      let lastPct = -1;
      const detections = await scanFilesFromStart(targets, matcher, {
        maxLineBytes: cfg.watch.max_line_bytes,
        ...(own
          ? {
              exclude: (f: string, st?: Stats) => own.reason(f, st),
              onExcluded: (f: string, _spec: string, why: string) => process.stderr.write(`skipped ${f}: ${why}\n`),
            }
          : {}),
        ...(opts.workers !== undefined ? { workers: opts.workers } : {}),
        onProgress: tty
          ? (file, done, total) => {
              const pct = Math.floor((done / Math.max(1, total)) * 100);
              if (total < PROGRESS_MIN_BYTES || pct === lastPct) return;
              lastPct = pct;
              process.stderr.write(`\r${file}: ${pct}%${pct >= 100 ? '\n' : ''}`);
            }
          : undefined,
      });
      if (opts.json) {
        printJson({
          detections: detections.map((d) => ({
            id: d.id,
            name: d.name,
            severity: d.severity,
            count: d.count,
            file: d.file,
            first_line: d.first_line,
            samples: d.samples,
          })),
        });
        return;
      }
      if (detections.length === 0) {
        process.stdout.write(`no detections in ${targets.length} path(s)\n`);
        return;
      }
      printTable(
        ['id', 'severity', 'count', 'file', 'lines', 'sample'],
        detections.map((d) => [
          d.id,
          d.severity,
          d.count,
          d.file,
          d.first_line === undefined ? '' : `${d.first_line}–${d.last_line}`,
          (d.samples[d.samples.length - 1] ?? '').slice(0, 80),
        ]),
      );
    });
}
