/** `autofix config check|schema`: validate a config file; print the JSON Schema. */
import type { Command } from 'commander';
import { configJsonSchema, DEFAULT_CONFIG_PATH, loadConfig } from '../../config/load';
import { printJson } from '../output';

/** Registers `config check` and `config schema`. */
export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description('Validate the config file or print its JSON Schema');
  config
    .command('check')
    .description('Validate a config file (exit 2 with the JSON path of each problem)')
    .option('--config <path>', 'config file', DEFAULT_CONFIG_PATH)
    .option('--json', 'print the validated config with defaults as JSON')
    .action((opts: { config: string; json?: boolean }) => {
      const cfg = loadConfig(opts.config);
      if (opts.json) printJson(cfg);
      else
        process.stdout.write(
          `ok: ${cfg.source}: ${cfg.error_patterns.length} patterns, ${cfg.watch.logs.length} watched logs, ` +
            `${Object.keys(cfg.services).length} services\n`,
        );
    });
  config
    .command('schema')
    .description('Print the JSON Schema of the config file')
    .action(() => printJson(configJsonSchema()));
}
