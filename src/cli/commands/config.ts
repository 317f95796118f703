/** `autofix config check|schema`: validate a config file; print the JSON Schema. */
import type { Command } from 'commander';
import { configJsonSchema, DEFAULT_CONFIG_PATH, loadConfigWithReport, type LoadReport } from '../../config/load';
import type { Config } from '../../config/schema';
import { printJson, printTable } from '../output';

/** The human summary of a successful check: counts, JSON extensions used, translations, notes. */
function printReport(cfg: Config, report: LoadReport): void {
  process.stdout.write(
    `ok: ${cfg.source}: ${cfg.error_patterns.length} patterns, ${cfg.watch.logs.length} watched logs, ` +
      `${Object.keys(cfg.services).length} services\n`,
  );
  const extensions = [report.comments && 'comments', report.trailingCommas && 'trailing commas'].filter(Boolean);
  if (extensions.length > 0) process.stdout.write(`read as JSON with ${extensions.join(' and ')} (not plain JSON)\n`);
  if (report.translations.length > 0) {
    process.stdout.write(`${report.translations.length} regex(es) translated from Python re syntax:\n`);
    printTable(
      ['path', 'changes', 'JavaScript regex', 'flags'],
      report.translations.map((t) => [t.path, t.changes.join('\n'), t.to, t.flags]),
    );
  }
  if (report.notes.length > 0) printTable(['path', 'note'], report.notes.map((n) => [n.path, n.message]));
}

/** Registers `config check` and `config schema`. */
export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description('Validate the config file or print its JSON Schema');
  config
    .command('check')
    .description('Validate a config file (exit 2 with the JSON path of each problem); list the regexes translated from Python re')
    .option('--config <path>', 'config file', DEFAULT_CONFIG_PATH)
    .option('--json', 'print {comments, trailing_commas, translations, notes, config} as JSON (config: validated, with defaults)')
    .action((opts: { config: string; json?: boolean }) => {
      const { config: cfg, report } = loadConfigWithReport(opts.config);
      if (!opts.json) return printReport(cfg, report);
      printJson({
        source: cfg.source,
        comments: report.comments,
        trailing_commas: report.trailingCommas,
        translations: report.translations,
        notes: report.notes,
        config: cfg,
      });
    });
  config
    .command('schema')
    .description('Print the JSON Schema of the config file')
    .action(() => printJson(configJsonSchema()));
}
