/**
 * `autofix install-service`: writes the systemd unit — `auto-fix-daemon.service` (the seed's:
 * dev server, worker and daemon in one process) or, with `--unit worker`,
 * `autofix-worker.service` (a worker alone, for a shared Temporal cluster) —, the sudoers drop-in
 * (checked with `visudo -cf` first, mode 0440) and, when absent, the env file. For the daemon
 * unit it also puts the Temporal CLI where the unit runs it, when it is not there yet. It creates
 * the config's data and log directories for the service's user when they are missing, and
 * refuses (exit 2) ones the unit's sandbox makes read-only. `--dry-run` prints all of it and
 * touches nothing; systemctl runs only with `--enable`.
 */
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_CONFIG_PATH, loadConfig } from '../../config/load';
import { ConfigError } from '../../config/errors';
import type { Config } from '../../config/schema';
import { InvalidDeployOptionError, UnsafeServiceCommandError } from '../../deploy/errors';
import { isExecutableFile, readOnlyUnderProtectSystem, renderDaemonUnit, renderEnvFile, renderSudoers, renderUnit, resolverOn } from '../../deploy';
import { alertsLogPath, autoFixLogPath } from '../../logging';
import { resolveGid, resolveUid } from '../../proc/users';
import { findTemporalCli, ProvisionError } from '../../temporal/provision';
import { CliError } from '../output';

/** Which unit to install. */
export type UnitKind = 'daemon' | 'worker';

/** Options of `install-service` as commander parses them. */
export interface InstallServiceOptions {
  config: string;
  unit: UnitKind;
  user: string;
  group?: string;
  prefix: string;
  node: string;
  temporalCli: string;
  stateDirectory: string;
  unitDir: string;
  sudoersDir: string;
  envDir: string;
  visudo?: string;
  dryRun?: boolean;
  enable?: boolean;
}

/** The unit file names, by kind. */
export const UNIT_NAMES: Readonly<Record<UnitKind, string>> = {
  daemon: 'auto-fix-daemon.service',
  worker: 'autofix-worker.service',
};
/** The worker unit's file name (kept for multi-host setups). */
export const UNIT_NAME = UNIT_NAMES.worker;
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
function planFiles(opts: InstallServiceOptions, config: Config): { unit: PlannedFile; sudoers: PlannedFile; env: PlannedFile } {
  const unitOptions = {
    user: opts.user,
    group: opts.group,
    prefix: path.resolve(opts.prefix),
    nodePath: opts.node,
    envFile: path.join(opts.envDir, ENV_NAME),
    temporalCliPath: opts.temporalCli,
    stateDirectory: opts.stateDirectory,
  };
  try {
    return {
      unit: {
        file: path.join(opts.unitDir, UNIT_NAMES[opts.unit]),
        mode: 0o644,
        text: opts.unit === 'daemon' ? renderDaemonUnit(unitOptions) : renderUnit(unitOptions),
      },
      sudoers: { file: path.join(opts.sudoersDir, SUDOERS_NAME), mode: 0o440, text: renderSudoers(config, opts.user) },
      env: { file: path.join(opts.envDir, ENV_NAME), mode: 0o640, text: renderEnvFile({ configPath: config.source }) },
    };
  } catch (e) {
    if (e instanceof UnsafeServiceCommandError || e instanceof InvalidDeployOptionError) throw new CliError(e.message, 2);
    throw e;
  }
}

/** A directory the service writes (the config's data and log directories) and its JSON path. */
interface ServiceDir {
  dir: string;
  where: string;
}

/**
 * The directories the service writes under `config`, each once. Refused (ConfigError, exit 2)
 * when the unit's ProtectSystem=full makes one read-only.
 */
function serviceDirs(config: Config): ServiceDir[] {
  const dirs: ServiceDir[] = [
    { dir: config.daemon.data_dir, where: '$.daemon.data_dir' },
    { dir: path.dirname(autoFixLogPath(config)), where: '$.daemon.log_file' },
    { dir: path.dirname(alertsLogPath(config)), where: '$.daemon.alerts_file' },
  ];
  const unique = dirs.filter((d, i) => dirs.findIndex((x) => x.dir === d.dir) === i);
  const issues = unique.flatMap((d) => {
    const ro = readOnlyUnderProtectSystem(d.dir);
    return ro ? [{ path: d.where, message: `resolves to ${d.dir}, under ${ro}, which the unit makes read-only (ProtectSystem=full); expected a directory under /var or /opt, e.g. /var/lib/autofix/data` }] : [];
  });
  if (issues.length > 0) throw new ConfigError(config.source, issues);
  return unique;
}

/** Whether uid/gid may write into `dir` by its mode bits (what matters for a fresh service user). */
function writableBy(dir: string, uid: number, gid: number): boolean {
  const st = statSync(dir);
  if (uid === 0) return true;
  if (st.uid === uid) return (st.mode & 0o300) === 0o300;
  if (st.gid === gid) return (st.mode & 0o030) === 0o030;
  return (st.mode & 0o003) === 0o003;
}

/** Creates `dir` and its missing parents, each new one owned by uid:gid with mode 0750. */
function createOwned(dir: string, uid: number, gid: number): void {
  const missing: string[] = [];
  for (let d = path.resolve(dir); !existsSync(d); d = path.dirname(d)) missing.unshift(d);
  for (const d of missing) {
    mkdirSync(d, { mode: 0o750 });
    // Only directories made here, just now, are given away: an existing one keeps its owner.
    chownSync(d, uid, gid);
  }
}

/** Where the daemon unit's Temporal CLI comes from when it is not installed yet, or undefined. */
function temporalCliSource(target: string): string | undefined {
  try {
    const found = findTemporalCli();
    return found && path.resolve(found) !== path.resolve(target) ? found : undefined;
  } catch (e) {
    if (e instanceof ProvisionError) return undefined;
    throw e;
  }
}

/** The systemctl argv `--enable` runs, in order. */
export function enableArgvs(unit: UnitKind = 'daemon'): string[][] {
  return [
    ['systemctl', 'daemon-reload'],
    ['systemctl', 'enable', '--now', UNIT_NAMES[unit]],
  ];
}

/** Does (or with dryRun, shows) the installation; output goes to `out`. */
export async function installService(opts: InstallServiceOptions, out: (line: string) => void): Promise<void> {
  if (opts.unit !== 'daemon' && opts.unit !== 'worker') throw new CliError(`--unit must be "daemon" or "worker", got "${String(opts.unit)}"`, 2);
  const config = loadConfig(opts.config);
  const files = planFiles(opts, config);
  const dirs = serviceDirs(config);
  const [uid, gid] = await Promise.all([resolveUid(opts.user, '--user'), resolveGid(opts.group ?? opts.user, '--group')]).catch((e: Error) => {
    throw new CliError(e.message, 2);
  });
  const visudo = opts.visudo ?? resolverOn()('visudo');
  if (!visudo) throw new CliError('visudo was not found (install the "sudo" package, or pass --visudo PATH)', 1);
  await checkSudoers(visudo, '-', files.sudoers.text);
  for (const [what, p] of [['node', opts.node], ['autofix', path.join(path.resolve(opts.prefix), 'bin', 'autofix')]] as const) {
    if (!existsSync(p)) out(`warning: ${what} is not at ${p} yet; the unit will fail to start until it is`);
  }
  const envExists = existsSync(files.env.file);
  const cliMissing = opts.unit === 'daemon' && !isExecutableFile(opts.temporalCli);
  const cliSource = cliMissing ? temporalCliSource(opts.temporalCli) : undefined;
  if (cliMissing && !cliSource) {
    out(`warning: no Temporal CLI at ${opts.temporalCli} and none found to copy there; build one with \`npm run temporal:install\` and re-run, or set TEMPORAL_ADDRESS in ${files.env.file} to use a Temporal cluster`);
  }
  const toCreate = dirs.filter((d) => !existsSync(d.dir));
  for (const d of dirs.filter((x) => existsSync(x.dir) && !writableBy(x.dir, uid, gid))) {
    out(`warning: ${opts.user} cannot write ${d.dir} (${d.where}); the service will fail there until it can`);
  }

  if (opts.dryRun) {
    out('dry run: nothing is written or run.');
    out(`--- would write ${files.unit.file} (${octal(files.unit.mode)}) ---`);
    out(files.unit.text);
    out(`--- would write ${files.sudoers.file} (${octal(files.sudoers.mode)}; visudo -cf: parsed OK) ---`);
    out(files.sudoers.text);
    if (envExists) out(`--- would keep ${files.env.file} (exists) ---`);
    else out(`--- would write ${files.env.file} (${octal(files.env.mode)}) ---\n${files.env.text}`);
    if (cliSource) out(`would install ${opts.temporalCli} (0755) from ${cliSource}`);
    for (const d of toCreate) out(`would create ${d.dir} (0750, owner ${opts.user}:${opts.group ?? opts.user}) for ${d.where}`);
    for (const argv of opts.enable ? enableArgvs(opts.unit) : []) out(`would run: ${argv.join(' ')}`);
    return;
  }

  try {
    for (const dir of [opts.unitDir, opts.sudoersDir, opts.envDir]) mkdirSync(dir, { recursive: true });
    if (cliSource) {
      mkdirSync(path.dirname(opts.temporalCli), { recursive: true });
      const tmp = `${opts.temporalCli}.tmp-${process.pid}`;
      copyFileSync(cliSource, tmp);
      chmodSync(tmp, 0o755);
      renameSync(tmp, opts.temporalCli);
      out(`installed ${opts.temporalCli} (0755) from ${cliSource}`);
    }
    for (const d of toCreate) {
      createOwned(d.dir, uid, gid);
      out(`created ${d.dir} (0750, owner ${opts.user}:${opts.group ?? opts.user}) for ${d.where}`);
    }
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
    out(`next: ${enableArgvs(opts.unit).map((a) => a.join(' ')).join(' && ')}`);
    return;
  }
  for (const argv of enableArgvs(opts.unit)) {
    out(`run: ${argv.join(' ')}`);
    const r = await run(argv);
    if (r.code !== 0) throw new CliError(`${argv.join(' ')} failed (exit ${r.code}): ${r.output}`, 1);
  }
}

/** Registers `install-service`. */
export function registerInstallServiceCommand(program: Command): void {
  program
    .command('install-service')
    .description('Install the systemd unit (auto-fix-daemon.service), the sudoers rules for the configured restarts and the env file')
    .option('--config <path>', 'config file whose services may be restarted', DEFAULT_CONFIG_PATH)
    .option('--unit <kind>', '"daemon": auto-fix-daemon.service (server, worker and daemon); "worker": autofix-worker.service (a worker for a shared cluster)', 'daemon')
    .option('--user <name>', 'account the worker runs as', 'www-data')
    .option('--group <name>', 'its group (default: the user)')
    .option('--prefix <dir>', 'installation directory of autofix', '/opt/autofix')
    .option('--node <path>', 'node binary for ExecStart', '/usr/bin/node')
    .option('--temporal-cli <path>', "the daemon unit's Temporal CLI (copied there when missing)", '/usr/local/bin/temporal')
    .option('--state-directory <name>', "the daemon unit's StateDirectory= under /var/lib (the embedded server's database)", 'autofix')
    .option('--unit-dir <dir>', 'where the unit goes', '/etc/systemd/system')
    .option('--sudoers-dir <dir>', 'where the sudoers drop-in goes', '/etc/sudoers.d')
    .option('--env-dir <dir>', 'where the env file goes', '/etc/autofix')
    .option('--visudo <path>', 'visudo binary (default: found on sudo\'s secure_path)')
    .option('--dry-run', 'print the files and what would be done; touch nothing')
    .option('--enable', 'then run systemctl daemon-reload and enable --now the unit')
    .action((opts: InstallServiceOptions) => installService(opts, (line) => process.stdout.write(line + '\n')));
}
