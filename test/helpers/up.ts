/**
 * `autofix up` as a child process on its own data dir and free ports, for the supervision tests:
 * start it, read its output, find the dev server it runs, ask `status --json`, read alerts.log.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { DaemonStatus } from '../../src/workflows/definitions';
import { freePort } from './net';
import { waitFor } from './temporal';

export const REPO = path.resolve(__dirname, '../../..');
export const CLI = path.join(REPO, 'bin', 'autofix');

/** The outcome of one CLI run. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `bin/autofix` (never rejects on a non-zero exit). */
export function cli(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (err as { code?: unknown }).code : 0;
      resolve({ code: typeof code === 'number' ? code : -1, stdout, stderr });
    });
  });
}

/** A running `autofix up`. */
export interface UpProcess {
  child: ChildProcess;
  /** Everything it printed so far (stdout and stderr). */
  out(): string;
  /** Environment for CLI calls against its server (TEMPORAL_ADDRESS, AUTOFIX_CONFIG). */
  clientEnv: NodeJS.ProcessEnv;
  port: number;
  uiPort: number;
  configPath: string;
  dataDir: string;
  /** Its exit code, once it has exited. */
  exited: Promise<number | null>;
  /** Pid of the dev server it last reported starting. */
  serverPid(): number | undefined;
  /** SIGINT, then the exit code. */
  stop(): Promise<number | null>;
}

/** Writes `config` (data_dir filled in) into `dir` and starts `up` on free ports. */
export async function startUp(
  dir: string,
  config: Record<string, unknown>,
  extraEnv: NodeJS.ProcessEnv = {},
  o: { /** Returns once its output holds this (default: the daemon runs). */ readyAt?: string; /** More `up` arguments. */ args?: string[] } = {},
): Promise<UpProcess> {
  const readyAt = o.readyAt ?? 'daemon running';
  const [port, uiPort] = [await freePort(), await freePort()];
  const dataDir = path.join(dir, 'data');
  const configPath = path.join(dir, 'error_patterns.json');
  const daemon = { data_dir: dataDir, log_file: path.join(dataDir, 'logs', 'auto_fix.log'), ...((config.daemon as object | undefined) ?? {}) };
  writeFileSync(configPath, JSON.stringify({ error_patterns: [], ...config, daemon }, null, 2));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AUTOFIX_DATA_DIR: dataDir,
    AUTOFIX_TEMPORAL_PORT: String(port),
    AUTOFIX_UI_PORT: String(uiPort),
    AUTOFIX_LOG_LEVEL: 'WARN',
    ...(process.env.AUTOFIX_TEST_TEMPORAL_CLI ? { TEMPORAL_CLI_PATH: process.env.AUTOFIX_TEST_TEMPORAL_CLI } : {}),
    ...extraEnv,
  };
  delete env.TEMPORAL_ADDRESS;
  let out = '';
  const child = spawn(process.execPath, [CLI, 'up', '--config', configPath, '--metrics', 'off', ...(o.args ?? [])], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const up: UpProcess = {
    child,
    out: () => out,
    clientEnv: { ...process.env, TEMPORAL_ADDRESS: `127.0.0.1:${port}`, AUTOFIX_CONFIG: configPath },
    port,
    uiPort,
    configPath,
    dataDir,
    exited,
    serverPid() {
      const pids = [...out.matchAll(/Temporal dev server (?:on|restarted on) \S+ \(pid (\d+)/g)].map((m) => Number(m[1]));
      return pids.at(-1);
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
      return await exited;
    },
  };
  await waitFor(`up: ${readyAt}`, async () => {
    if (child.exitCode !== null) throw new Error(`up exited ${child.exitCode}:\n${out}`);
    return out.includes(readyAt);
  }, 120_000, 20);
  return up;
}

/** The daemon's loop total from `status --json`, or undefined when status does not answer. */
export async function loopsOf(up: UpProcess): Promise<number | undefined> {
  const r = await cli(['status', '--json'], up.clientEnv, 20_000);
  if (r.code !== 0) return undefined;
  return (JSON.parse(r.stdout) as DaemonStatus).totals.loops;
}

/** Waits until the daemon has done more than `than` loops (status answers); returns the count. */
export async function loopsAbove(up: UpProcess, than: number, timeoutMs: number): Promise<number> {
  return await waitFor(`loops > ${than}`, async () => {
    const n = await loopsOf(up);
    return n !== undefined && n > than ? n : undefined;
  }, timeoutMs, 250);
}

/** One alerts.log record. */
export interface AlertLine {
  severity: string;
  message: string;
  incident_id?: string;
  pattern_id?: string;
  details?: Record<string, unknown>;
}

/** The records of alerts.log under `dataDir/logs` (empty when there is none yet). */
export function alertsIn(dataDir: string): AlertLine[] {
  try {
    return readFileSync(path.join(dataDir, 'logs', 'alerts.log'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as AlertLine);
  } catch {
    return [];
  }
}

/** alerts.log records of the engine monitor, by event. */
export function engineAlerts(dataDir: string): { outage: AlertLine[]; recovered: AlertLine[] } {
  const all = alertsIn(dataDir);
  return {
    outage: all.filter((a) => a.details?.event === 'engine_unreachable'),
    recovered: all.filter((a) => a.details?.event === 'engine_recovered'),
  };
}
