/**
 * The `autofix` command. Each subcommand lives in its own file under ./commands and registers
 * itself on the program; this file only wires them and maps failures to exit codes.
 */
import { Command } from 'commander';
import { describeFailure } from './output';
import { registerConfigCommands } from './commands/config';
import { registerDaemonCommands } from './commands/daemon';
import { registerUpCommands } from './commands/up';
import { registerIncidentCommands } from './commands/incidents';
import { registerReplayCommand } from './commands/replay';
import { registerHealthCommand } from './commands/health';
import { registerInstallServiceCommand } from './commands/install-service';
import { registerScanCommand } from './commands/scan';

/** Builds the commander program with every subcommand registered. */
export function buildProgram(): Command {
  const program = new Command('autofix')
    .description('Self-healing daemon for a Flask + PostgreSQL + Redis stack, on Temporal')
    .showHelpAfterError()
    .configureOutput({ outputError: (str, write) => write(str) });
  registerConfigCommands(program);
  registerUpCommands(program);
  registerDaemonCommands(program);
  registerIncidentCommands(program);
  registerReplayCommand(program);
  registerHealthCommand(program);
  registerInstallServiceCommand(program);
  registerScanCommand(program);
  return program;
}

/** Runs the CLI with argv; exits with the command's code. */
export async function main(argv: string[] = process.argv): Promise<void> {
  const program = buildProgram();
  program.exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    const code = (err as { code?: string; exitCode?: number }).code;
    if (typeof code === 'string' && code.startsWith('commander.')) {
      process.exitCode = (err as { exitCode: number }).exitCode === 0 ? 0 : 2;
      return;
    }
    const { message, exitCode } = describeFailure(err);
    process.stderr.write(`autofix: ${message}\n`);
    process.exitCode = exitCode;
  }
}

if (require.main === module) void main();
