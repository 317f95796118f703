/**
 * `autofix install-service`: writes the systemd unit, the sudoers drop-in (checked with
 * `visudo -cf` first, mode 0440) and, when absent, the env file. `--dry-run` prints the files and
 * touches nothing; systemctl runs only with `--enable`.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_CONFIG_PATH, loadConfig } from '../../config/load';
import { InvalidDeployOptionError, UnsafeServiceCommandError } from '../../deploy/errors';
import { renderEnvFile, renderSudoers, renderUnit, resolverOn } from '../../deploy';
import { CliError } from '../output';

/** Options of `install-service` as commander parses them. */
export interface InstallServiceOptions {
  config: string;
  user: string;
  group?: string;
  prefix: string;
  node: string;
  unitDir: string;
  sudoersDir: string;
  envDir: string;
  visudo?: string;
  dryRun?: boolean;
  enable?: boolean;
}

/** The unit's file name. */
export const UNIT_NAME = 'autofix-worker.service';
/** The sudoers drop-in's file name (no dot: sudo skips names containing one). */
export const SUDOERS_NAME = 'autofix';
/** The env file's name. */
export const ENV_NAME = 'autofix.env';

interface PlannedFile {
  file: string;
  mode: number;
  text: string;
}

/** Runs argv with `input` on stdin; resolves with the exit code and combined output. */
function run(argv: string[], input?: string): Promise<{ code: number | null; output: string }> {
  const [file, ...args] = argv as [string, ...string[]];
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { timeout: 30_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: unknown }) | null;
      if (e && typeof e.code === 'string') reject(new CliError(`cannot run ${argv.join(' ')}: ${e.code}`, 1));
      else resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, output: `${stdout}${stderr}`.trim() });
    });
    // A program that exits without reading its input (visudo -cf FILE) must not crash us with EPIPE.
    child.stdin?.on('error', () => undefined);
    if (input === undefined) child.stdin?.end();
    else child.stdin?.end(input);
  });
}

/** Checks sudoers text (`-` = stdin) or a file with `visudo -cf`; throws a CliError naming the problem. */
async function checkSudoers(visudo: string, target: string, text: string): Promise<void> {
  const r = await run([visudo, '-c', '-f', target], target === '-' ? text : undefined);
  if (r.code !== 0) throw new CliError(`visudo rejected the rendered sudoers file (${target}):\n${r.output}`, 1);
}

/** Writes a file atomically (temp file in the same directory, chmod, rename). */
function writeAtomically(p: PlannedFile, check?: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = path.join(path.dirname(p.file), `.${path.basename(p.file)}.tmp-${process.pid}`);
  writeFileSync(tmp, p.text, { mode: p.mode });
  chmodSync(tmp, p.mode);
  return (check ? check(tmp) : Promise.resolve()).then(
    () => renameSync(tmp, p.file),
    (err: unknown) => {
      rmSync(tmp, { force: true });
      throw err;
    },
  );
}

const octal = (mode: number) => `0${mode.toString(8)}`;

/** Renders the three files from options; deploy errors become exit code 2 with their message. */
function planFiles(opts: InstallServiceOptions): { unit: PlannedFile; sudoers: PlannedFile; env: PlannedFile } {
  const config = loadConfig(opts.config);
  try {
    return {
      unit: {
        file: path.join(opts.unitDir, UNIT_NAME),
        mode: 0o644,
        text: renderUnit({ user: opts.user, group: opts.group, prefix: path.resolve(opts.prefix), nodePath: opts.node, envFile: path.join(opts.envDir, ENV_NAME) }),
      },
      sudoers: { file: path.join(opts.sudoersDir, SUDOERS_NAME), mode: 0o440, text: renderSudoers(config, opts.user) },
      env: { file: path.join(opts.envDir, ENV_NAME), mode: 0o640, text: renderEnvFile({ configPath: config.source }) },
    };
  } catch (e) {
    if (e instanceof UnsafeServiceCommandError || e instanceof InvalidDeployOptionError) throw new CliError(e.message, 2);
    throw e;
  }
}

/** The systemctl argv `--enable` runs, in order. */
export function enableArgvs(): string[][] {
  return [
    ['systemctl', 'daemon-reload'],
    ['systemctl', 'enable', '--now', UNIT_NAME],
  ];
}

/** Does (or with dryRun, shows) the installation; output goes to `out`. */
export async function installService(opts: InstallServiceOptions, out: (line: string) => void): Promise<void> {
  const files = planFiles(opts);
  const visudo = opts.visudo ?? resolverOn()('visudo');
  if (!visudo) throw new CliError('visudo was not found (install the "sudo" package, or pass --visudo PATH)', 1);
  await checkSudoers(visudo, '-', files.sudoers.text);
  for (const [what, p] of [['node', opts.node], ['autofix', path.join(path.resolve(opts.prefix), 'bin', 'autofix')]] as const) {
    if (!existsSync(p)) out(`warning: ${what} is not at ${p} yet; the unit will fail to start until it is`);
  }
  const envExists = existsSync(files.env.file);

  if (opts.dryRun) {
    out('dry run: nothing is written or run.');
    out(`--- would write ${files.unit.file} (${octal(files.unit.mode)}) ---`);
    out(files.unit.text);
    out(`--- would write ${files.sudoers.file} (${octal(files.sudoers.mode)}; visudo -cf: parsed OK) ---`);
    out(files.sudoers.text);
    if (envExists) out(`--- would keep ${files.env.file} (exists) ---`);
    else out(`--- would write ${files.env.file} (${octal(files.env.mode)}) ---\n${files.env.text}`);
    for (const argv of opts.enable ? enableArgvs() : []) out(`would run: ${argv.join(' ')}`);
    return;
  }

  try {
    for (const dir of [opts.unitDir, opts.sudoersDir, opts.envDir]) mkdirSync(dir, { recursive: true });
    await writeAtomically(files.sudoers, (tmp) => checkSudoers(visudo, tmp, files.sudoers.text));
    out(`wrote ${files.sudoers.file} (${octal(files.sudoers.mode)}, checked with visudo -cf)`);
    await writeAtomically(files.unit);
    out(`wrote ${files.unit.file} (${octal(files.unit.mode)})`);
    if (envExists) out(`kept ${files.env.file} (exists)`);
    else {
      await writeAtomically(files.env);
      out(`wrote ${files.env.file} (${octal(files.env.mode)}; fill in DATABASE_URL and REDIS_URL)`);
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') throw new CliError(`${(e as Error).message}: run as root (sudo autofix install-service ...)`, 1);
    throw e;
  }
  if (!opts.enable) {
    out(`next: ${enableArgvs().map((a) => a.join(' ')).join(' && ')}`);
    return;
  }
  for (const argv of enableArgvs()) {
    out(`run: ${argv.join(' ')}`);
    const r = await run(argv);
    if (r.code !== 0) throw new CliError(`${argv.join(' ')} failed (exit ${r.code}): ${r.output}`, 1);
  }
}

/** Registers `install-service`. */
export function registerInstallServiceCommand(program: Command): void {
  program
    .command('install-service')
    .description('Install the systemd unit, the sudoers rules for the configured restarts and the env file')
    .option('--config <path>', 'config file whose services may be restarted', DEFAULT_CONFIG_PATH)
    .option('--user <name>', 'account the worker runs as', 'www-data')
    .option('--group <name>', 'its group (default: the user)')
    .option('--prefix <dir>', 'installation directory of autofix', '/opt/autofix')
    .option('--node <path>', 'node binary for ExecStart', '/usr/bin/node')
    .option('--unit-dir <dir>', 'where the unit goes', '/etc/systemd/system')
    .option('--sudoers-dir <dir>', 'where the sudoers drop-in goes', '/etc/sudoers.d')
    .option('--env-dir <dir>', 'where the env file goes', '/etc/autofix')
    .option('--visudo <path>', 'visudo binary (default: found on sudo\'s secure_path)')
    .option('--dry-run', 'print the files and what would be done; touch nothing')
    .option('--enable', 'then run systemctl daemon-reload and enable --now the unit')
    .action((opts: InstallServiceOptions) => installService(opts, (line) => process.stdout.write(line + '\n')));
}
