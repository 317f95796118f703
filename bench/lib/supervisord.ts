/**
 * supervisord (Debian `supervisor`) as a peer that hears its child die: it runs redis-server in
 * the foreground as its child (`autorestart=true`, the rest at supervisor's defaults), so a
 * killed redis-server is a SIGCHLD to it. Run in the foreground (`nodaemon=true`) as our child,
 * everything in a temp dir.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pingOnce, sleep } from './common';

export interface SupervisordChild {
  child: ChildProcess;
  logFile: string;
  /** The pid file redis-server writes (read it for the current child's pid). */
  redisPidFile: string;
  stop(): Promise<void>;
}

/** Writes a foreground redis-server conf (no persistence, pid file) and supervisord.conf for it. */
export function writeSupervisordConf(dir: string, port: number): { conf: string; redisPidFile: string } {
  const redisPidFile = path.join(dir, `redis-${port}-fg.pid`);
  const redisConf = path.join(dir, `redis-${port}-fg.conf`);
  fs.writeFileSync(
    redisConf,
    [`port ${port}`, 'bind 127.0.0.1', 'daemonize no', `pidfile ${redisPidFile}`, `dir ${dir}`, 'save ""', 'appendonly no', `logfile ${path.join(dir, `redis-${port}-fg.log`)}`, ''].join('\n'),
  );
  const conf = path.join(dir, 'supervisord.conf');
  fs.writeFileSync(
    conf,
    [
      '[supervisord]',
      'nodaemon=true',
      `logfile=${path.join(dir, 'supervisord.log')}`,
      `pidfile=${path.join(dir, 'supervisord.pid')}`,
      `childlogdir=${dir}`,
      'user=root',
      '',
      '[program:benchredis]',
      `command=/usr/bin/redis-server ${redisConf}`,
      'autorestart=true',
      '',
    ].join('\n'),
  );
  return { conf, redisPidFile };
}

/** Starts `supervisord -c CONF` and waits (≤ 15 s) until its redis-server answers PING. */
export async function startSupervisord(dir: string, port: number): Promise<SupervisordChild> {
  const { conf, redisPidFile } = writeSupervisordConf(dir, port);
  const logFile = path.join(dir, 'supervisord.log');
  const out = fs.openSync(path.join(dir, 'supervisord.out'), 'a');
  const child = spawn('/usr/bin/supervisord', ['-c', conf], { stdio: ['ignore', out, out] });
  fs.closeSync(out);
  let exited = false;
  child.once('exit', () => (exited = true));
  const deadline = Date.now() + 15_000;
  while (!(await pingOnce(port, 200))) {
    if (exited || Date.now() > deadline) {
      child.kill('SIGKILL');
      const why = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : fs.readFileSync(path.join(dir, 'supervisord.out'), 'utf8');
      throw new Error(`supervisord did not start redis: ${why.slice(-1500)}`);
    }
    await sleep(100);
  }
  return {
    child,
    logFile,
    redisPidFile,
    async stop() {
      if (exited) return;
      const done = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM'); // supervisord stops its children first
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await done;
      clearTimeout(t);
    },
  };
}
