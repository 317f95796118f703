/**
 * Starts a service from its unit file the way `systemctl start` does, for machines without
 * systemd as PID 1 (containers, CI): as User=/Group=, in WorkingDirectory=, with a clean
 * environment made of Environment= and EnvironmentFile= (in that order, the file winning), and
 * StateDirectory= created under `stateRoot` owned by the user (systemd's /var/lib). Its stdout
 * and stderr are collected as the journal would show them. Only the directives our units use are
 * understood; anything else is an error, so a unit that grows a new directive fails loudly here.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { requireTool } from './tools';

/** The [Service] directives a test may need to act on. */
export interface ParsedUnit {
  user: string;
  group: string;
  workingDirectory: string;
  environment: Record<string, string>;
  environmentFiles: Array<{ file: string; optional: boolean }>;
  execStart: string[];
  stateDirectory?: string;
  killMode: string;
}

/** Directives of [Service] that only limit or sandbox the process (not emulated; systemd-analyze checks them). */
const SANDBOX_ONLY = new Set([
  'Type', 'Restart', 'RestartSec', 'KillSignal', 'TimeoutStopSec', 'MemoryMax', 'CPUQuota', 'NoNewPrivileges', 'PrivateTmp',
  'ProtectSystem', 'ProtectControlGroups', 'UMask', 'StateDirectoryMode',
]);

/** Parses the [Service] section of a unit. */
export function parseUnit(text: string): ParsedUnit {
  const u: ParsedUnit = { user: 'root', group: 'root', workingDirectory: '/', environment: {}, environmentFiles: [], execStart: [], killMode: 'control-group' };
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) {
      section = header[1] as string;
      continue;
    }
    if (section !== 'Service') continue;
    const eq = line.indexOf('=');
    const [key, value] = [line.slice(0, eq), line.slice(eq + 1)];
    switch (key) {
      case 'User':
        u.user = value;
        break;
      case 'Group':
        u.group = value;
        break;
      case 'WorkingDirectory':
        u.workingDirectory = value;
        break;
      case 'Environment': {
        const i = value.indexOf('=');
        u.environment[value.slice(0, i)] = value.slice(i + 1);
        break;
      }
      case 'EnvironmentFile':
        u.environmentFiles.push({ file: value.replace(/^-/, ''), optional: value.startsWith('-') });
        break;
      case 'ExecStart':
        u.execStart = value.split(/\s+/);
        break;
      case 'StateDirectory':
        u.stateDirectory = value;
        break;
      case 'KillMode':
        u.killMode = value;
        break;
      default:
        if (!SANDBOX_ONLY.has(key)) throw new Error(`the test's unit runner does not know ${key}=; teach test/helpers/systemd-unit.ts what systemd does with it`);
    }
  }
  return u;
}

/** KEY=value lines of an EnvironmentFile= (comments and blank lines skipped). */
export function parseEnvironmentFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m && !line.trim().startsWith('#')) env[m[1] as string] = m[2] as string;
  }
  return env;
}

/** A started unit. */
export interface StartedUnit {
  child: ChildProcess;
  /** stdout and stderr so far, as journalctl -u would show them. */
  journal(): string;
  /** `systemctl stop`: the kill signal to the main process (KillMode=mixed), then waits for the exit code. */
  stop(): Promise<number | null>;
}

/**
 * `systemctl start` for a unit file. `stateRoot` stands for /var/lib: StateDirectory= is created
 * there (owned by User=/Group=, 0750) and the unit's own /var/lib paths in Environment= point to it.
 *
 * @example const svc = startUnit('/tmp/x/auto-fix-daemon.service', '/tmp/x/var-lib'); await svc.stop();
 */
export function startUnit(unitFile: string, stateRoot: string): StartedUnit {
  const u = parseUnit(readFileSync(unitFile, 'utf8'));
  if (u.killMode !== 'mixed') throw new Error(`only KillMode=mixed is emulated, the unit says ${u.killMode}`);
  const env: Record<string, string> = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', USER: u.user, LOGNAME: u.user, HOME: '/nonexistent' };
  if (u.stateDirectory) {
    const dir = path.join(stateRoot, u.stateDirectory);
    mkdirSync(stateRoot, { recursive: true });
    chmodSync(stateRoot, 0o755); // like /var/lib
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o750);
    chownSync(dir, Number(execFileSync('id', ['-u', u.user], { encoding: 'utf8' })), Number(execFileSync('getent', ['group', u.group], { encoding: 'utf8' }).split(':')[2]));
    env.STATE_DIRECTORY = dir;
  }
  for (const [k, v] of Object.entries(u.environment)) env[k] = u.stateDirectory ? v.replace(`/var/lib/${u.stateDirectory}`, path.join(stateRoot, u.stateDirectory)) : v;
  for (const f of u.environmentFiles) {
    if (!existsSync(f.file)) {
      if (f.optional) continue;
      throw new Error(`EnvironmentFile=${f.file} is missing`);
    }
    Object.assign(env, parseEnvironmentFile(readFileSync(f.file, 'utf8')));
  }
  let journal = '';
  // setpriv execs the command itself (runuser would fork, and SIGKILL it 2 s after passing SIGTERM).
  const child = spawn(requireTool('setpriv'), [`--reuid=${u.user}`, `--regid=${u.group}`, '--init-groups', '--', ...u.execStart], {
    cwd: u.workingDirectory,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (journal += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (journal += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    child,
    journal: () => journal,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return await exited;
    },
  };
}
