/**
 * The `autofix` command. Each subcommand lives in its own file under ./commands and registers
 * itself on the program; this file only wires them and maps failures to exit codes.
 */
import { Command } from 'commander';
import { describeFailure } from './output';
type Registrar = (program: Command) => void;

/**
 * Each command module and the subcommands it registers. Modules load on demand: `autofix scan`
 * need not load the Temporal worker, so it starts fast.
 */
const MODULES: Array<{ names: string[]; load: () => Registrar }> = [
  { names: ['config'], load: () => (require('./commands/config') as typeof import('./commands/config')).registerConfigCommands },
  { names: ['up', 'server', 'worker'], load: () => (require('./commands/up') as typeof import('./commands/up')).registerUpCommands },
  {
    names: ['run', 'pause', 'resume', 'run-now', 'stop', 'status'],
    load: () => (require('./commands/daemon') as typeof import('./commands/daemon')).registerDaemonCommands,
  },
  { names: ['incidents', 'incident', 'fix'], load: () => (require('./commands/incidents') as typeof import('./commands/incidents')).registerIncidentCommands },
  { names: ['replay'], load: () => (require('./commands/replay') as typeof import('./commands/replay')).registerReplayCommand },
  { names: ['health'], load: () => (require('./commands/health') as typeof import('./commands/health')).registerHealthCommand },
  {
    names: ['install-service'],
    load: () => (require('./commands/install-service') as typeof import('./commands/install-service')).registerInstallServiceCommand,
  },
  { names: ['scan'], load: () => (require('./commands/scan') as typeof import('./commands/scan')).registerScanCommand },
  { names: ['backups'], load: () => (require('./commands/backups') as typeof import('./commands/backups')).registerBackupCommands },
];

/** Builds the commander program: only `command`'s module when it is known, else every one (help). */
export function buildProgram(command?: string): Command {
  const program = new Command('autofix')
    .description('Self-healing daemon for a Flask + PostgreSQL + Redis stack, on Temporal')
    .showHelpAfterError()
    .configureOutput({ outputError: (str, write) => write(str) });
  const one = MODULES.find((m) => command !== undefined && m.names.includes(command));
  for (const m of one ? [one] : MODULES) m.load()(program);
  return program;
}

/** Runs the CLI with argv; exits with the command's code. */
export async function main(argv: string[] = process.argv): Promise<void> {
  const program = buildProgram(argv[2]);
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
