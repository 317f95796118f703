/** A `bin/autofix worker` child process (the way systemd runs it), stopped cleanly afterwards. */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, sleep } from './common';

export interface WorkerChild {
  pid: number;
  child: ChildProcess;
  /** SIGTERM, then SIGKILL after 15 s. */
  stop(): Promise<void>;
}

/**
 * Spawns `node bin/autofix worker --task-queue Q --config P` against `address`, output to
 * `logFile`, and waits (≤ 30 s) until it says it polls.
 */
export async function spawnWorker(
  address: string,
  taskQueue: string,
  configPath: string,
  logFile: string,
  /** More `autofix worker` options (`--host H`, `--no-watch`, …). */
  extraArgs: string[] = [],
): Promise<WorkerChild> {
  const env: NodeJS.ProcessEnv = { ...process.env, TEMPORAL_ADDRESS: address };
  // The config names the probe targets; environment overrides would silently change them.
  delete env.REDIS_URL;
  delete env.DATABASE_URL;
  const fd = fs.openSync(logFile, 'a');
  const child = spawn(
    process.execPath,
    [path.join(ROOT, 'bin/autofix'), 'worker', '--task-queue', taskQueue, '--config', configPath, ...extraArgs],
    {
      stdio: ['ignore', fd, fd],
      env,
    },
  );
  fs.closeSync(fd);
  let exited = false;
  child.once('exit', () => (exited = true));
  const deadline = Date.now() + 30_000;
  while (!fs.readFileSync(logFile, 'utf8').includes('worker polling')) {
    if (exited || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the worker did not start:\n${fs.readFileSync(logFile, 'utf8').slice(-2000)}`);
    }
    await sleep(200);
  }
  return {
    pid: child.pid as number,
    child,
    async stop() {
      if (exited) return;
      const done = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await done;
      clearTimeout(t);
    },
  };
}
