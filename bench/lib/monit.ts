/**
 * Monit (Debian `monit`) as the MTTR peer: a control file in a temp dir watching the bench redis
 * by pid file and by a Redis protocol test, run in the foreground (`monit -I`) as our child.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { redisArgv, redisPidFile, sleep } from './common';

export interface MonitChild {
  child: ChildProcess;
  logFile: string;
  stop(): Promise<void>;
}

/** Options of the control file; the defaults are bench/mttr's (1 s cycle, 1 s PING timeout). */
export interface MonitrcOptions {
  /** `set daemon N`: seconds between Monit's cycles. @default 1 */
  cycleSeconds?: number;
  /** Timeout of the Redis protocol test; undefined = Monit's default (5 s). @default 1 */
  pingTimeoutSeconds?: number | undefined;
  /** Also `check file applog with path FILE` / `if content = REGEX then alert`. */
  content?: { file: string; regex: string };
}

/**
 * Writes the control file (mode 0600, which monit requires): restart on a dead pid or on a
 * failed PING. The stop program sends SIGTERM through the pid file, as init scripts do.
 */
export function writeMonitrc(dir: string, port: number, o: MonitrcOptions = {}): string {
  const pidFile = redisPidFile(port, dir);
  const timeout = 'pingTimeoutSeconds' in o ? o.pingTimeoutSeconds : 1;
  const rc = [
    `set daemon ${o.cycleSeconds ?? 1}`,
    `set logfile ${path.join(dir, 'monit.log')}`,
    `set pidfile ${path.join(dir, 'monit.pid')}`,
    `set idfile ${path.join(dir, 'monit.id')}`,
    `set statefile ${path.join(dir, 'monit.state')}`,
    `check process benchredis with pidfile ${pidFile}`,
    `  start program = "${redisArgv(port, dir).join(' ')}" with timeout 10 seconds`,
    `  stop program = "/bin/sh -c '/bin/kill $(/bin/cat ${pidFile})'" with timeout 10 seconds`,
    `  if failed host 127.0.0.1 port ${port} protocol redis${timeout === undefined ? '' : ` with timeout ${timeout} seconds`} then restart`,
    ...(o.content ? [`check file applog with path ${o.content.file}`, `  if content = "${o.content.regex}" then alert`] : []),
    '',
  ].join('\n');
  const file = path.join(dir, 'monitrc');
  fs.writeFileSync(file, rc, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
  return file;
}

/** Starts `monit -I -c FILE` and waits until its log shows the first cycle (≤ 10 s). */
export async function startMonit(dir: string, rcFile: string): Promise<MonitChild> {
  const logFile = path.join(dir, 'monit.log');
  fs.rmSync(logFile, { force: true });
  fs.rmSync(path.join(dir, 'monit.state'), { force: true });
  const out = fs.openSync(path.join(dir, 'monit.out'), 'a');
  const child = spawn('/usr/bin/monit', ['-I', '-c', rcFile], { stdio: ['ignore', out, out] });
  fs.closeSync(out);
  let exited = false;
  child.once('exit', () => (exited = true));
  const deadline = Date.now() + 10_000;
  while (!(
    fs.existsSync(logFile) &&
    /Starting Monit|Monit daemon .* (started|awakened)/i.test(fs.readFileSync(logFile, 'utf8'))
  )) {
    if (exited || Date.now() > deadline) {
      child.kill('SIGKILL');
      const why = fs.existsSync(logFile)
        ? fs.readFileSync(logFile, 'utf8')
        : fs.readFileSync(path.join(dir, 'monit.out'), 'utf8');
      throw new Error(`monit did not start: ${why.slice(-1500)}`);
    }
    await sleep(100);
  }
  return {
    child,
    logFile,
    async stop() {
      if (exited) return;
      const done = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await done;
      clearTimeout(t);
    },
  };
}
