/**
 * Shared plumbing of the daemon benchmarks: options, statistics, free ports, an in-memory
 * Temporal dev server on free ports (as `scripts/run-tests.ts` starts one), a private
 * redis-server, and a bounded PING probe that never hangs on a stopped Redis.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ensureTemporalCli } from '../../src/temporal/provision';
import { startDevServer, type RunningDevServer } from '../../src/temporal/dev-server';
import { freePort } from '../../src/util/net';

export { freePort };

export const ROOT = path.resolve(__dirname, '../../..');

/** `--name N` from argv, else `def`. */
export function numArg(name: string, def: number): number {
  const i = process.argv.indexOf(name);
  const v = i === -1 ? NaN : Number(process.argv[i + 1]);
  return Number.isFinite(v) ? v : def;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The q-quantile (0..1) of `xs` by linear interpolation; NaN when empty. */
export function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return (s[lo] as number) + ((s[hi] as number) - (s[lo] as number)) * (pos - lo);
}

export const median = (xs: number[]) => quantile(xs, 0.5);
export const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

/** A temp dir for one benchmark run. */
export function makeTempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `autofix-bench-${prefix}-`));
}

/** Starts an in-memory Temporal dev server on free ports. */
export async function startBenchServer(): Promise<RunningDevServer> {
  const cli = await ensureTemporalCli();
  const [port, uiPort] = [await freePort(), await freePort()];
  return startDevServer({ cli, port, uiPort, startTimeoutMs: 120_000 });
}

/**
 * Sends PING on a fresh TCP connection; true only on +PONG within `timeoutMs`. A SIGSTOPped
 * Redis accepts the connection (the kernel completes the handshake) but never answers.
 */
export function pingOnce(port: number, timeoutMs = 300): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    const done = (v: boolean) => {
      sock.destroy();
      resolve(v);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
    sock.once('error', () => done(false));
  });
}

/** The pid file of the bench redis on `port`. */
export const redisPidFile = (port: number, dir: string) => path.join(dir, `redis-${port}.pid`);

/**
 * Argv that starts a daemonized redis-server on `port` with a pid file and no persistence. The
 * settings live in a conf file (written here) so the argv needs no shell quoting (Monit has none).
 */
export function redisArgv(port: number, dir: string): string[] {
  const conf = path.join(dir, `redis-${port}.conf`);
  const lines = [
    `port ${port}`,
    'bind 127.0.0.1',
    'daemonize yes',
    `pidfile ${redisPidFile(port, dir)}`,
    `dir ${dir}`,
    'save ""',
    'appendonly no',
    `logfile ${path.join(dir, `redis-${port}.log`)}`,
  ];
  fs.writeFileSync(conf, lines.join('\n') + '\n');
  return ['/usr/bin/redis-server', conf];
}

/** Starts the bench redis and waits (≤ 10 s) until it answers PING; returns its pid. */
export async function startRedis(port: number, dir: string): Promise<number> {
  const [cmd, ...args] = redisArgv(port, dir);
  const r = spawnSync(cmd as string, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`redis-server failed: ${r.stderr || r.stdout}`);
  const deadline = Date.now() + 10_000;
  while (!(await pingOnce(port))) {
    if (Date.now() > deadline) throw new Error(`redis on ${port} did not answer within 10 s`);
    await sleep(50);
  }
  return redisPid(port, dir) ?? 0;
}

/** The pid recorded in the bench redis's pid file, if that process is alive. */
export function redisPid(port: number, dir: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(redisPidFile(port, dir), 'utf8').trim());
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

/**
 * Kills every redis-server listening on `port` (ours only: the port is one we chose), stopped
 * ones included (SIGKILL ends a stopped process too). Never touches other ports.
 */
export async function killRedisOnPort(port: number): Promise<void> {
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let cmd = '';
    try {
      cmd = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue;
    }
    if (
      new RegExp(`^\\S*redis-server \\S*:${port}\\b`).test(cmd) ||
      (cmd.includes('redis-server') && cmd.includes(`/redis-${port}.conf`))
    ) {
      try {
        process.kill(Number(name), 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && (await pingOnce(port, 100))) await sleep(50);
}

/** Formats seconds with 2 decimals. */
export const sec = (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : 'n/a');

/** A config for the daemon benchmarks: one alert-only http_5xx pattern on `appLog`, no probes. */
export function writeAlertConfig(dir: string, appLog: string): string {
  const cfg = {
    error_patterns: [
      {
        id: 'http_5xx',
        name: 'HTTP 5xx',
        pattern: '" 5\\d\\d ',
        severity: 'error',
        auto_fix: true,
        actions: [{ type: 'alert' }],
      },
    ],
    auto_fix_config: {
      max_retries: 2,
      retry_delay: 1,
      cooldown_period: 1,
      notification_channels: ['log'],
      flap_guard: { max_fixes: 1000 },
    },
    daemon: { data_dir: path.join(dir, 'data'), log_file: path.join(dir, 'data', 'logs', 'auto_fix.log') },
    watch: { logs: [appLog] },
    health_checks: {
      postgres: { enabled: false },
      redis: { enabled: false },
      disk: { enabled: false },
      memory: { enabled: false },
    },
    managed: { roots: [dir] },
  };
  const file = path.join(dir, 'error_patterns.json');
  fs.writeFileSync(file, JSON.stringify(cfg, null, 2));
  return file;
}
