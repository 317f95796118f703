/**
 * Time to repair of the embedded Temporal server: `autofix server` (the supervisor `up` uses)
 * against a bare restart of the same server, side by side in one run.
 *
 *   node dist/bench/engine-restart.js [--trials 5]
 *
 * Each trial starts `bin/autofix server` on a persistent SQLite database and free ports, waits
 * until it serves, kills its dev server with SIGKILL and measures the time until the default
 * namespace answers (DescribeNamespace, polled every 50 ms on a fresh connection). autofix waits
 * 0.5 s before its first restart, so that a server dying at once is not restarted in a tight
 * loop. The peer, measured right after on the same database and ports: `temporal server
 * start-dev` started by hand at the moment of the kill (what a person or a unit running the bare
 * binary with RestartSec=0 does at best), timed the same way. Prints every sample, the medians and
 * autofix/peer.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { ensureTemporalCli } from '../src/temporal/provision';
import { freePort, makeTempDir, median, numArg, ROOT, sleep } from './lib/common';

/** Resolves with the ms until the namespace answers on `port` (polled every 50 ms). */
async function timeUntilServing(port: number, since: number, timeoutMs = 60_000): Promise<number> {
  for (;;) {
    try {
      const conn = await Connection.connect({ address: `127.0.0.1:${port}`, connectTimeout: 200 });
      try {
        await conn.withDeadline(Date.now() + 500, () => conn.workflowService.describeNamespace({ namespace: 'default' }));
        return Date.now() - since;
      } finally {
        await conn.close();
      }
    } catch {
      if (Date.now() - since > timeoutMs) throw new Error(`port ${port} did not serve within ${timeoutMs} ms`);
      await sleep(50);
    }
  }
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}

async function trial(cli: string, dataDir: string): Promise<{ autofix: number; peer: number }> {
  const [port, uiPort] = [await freePort(), await freePort()];
  const env = { ...process.env, AUTOFIX_DATA_DIR: dataDir, AUTOFIX_TEMPORAL_PORT: String(port), AUTOFIX_UI_PORT: String(uiPort), TEMPORAL_CLI_PATH: cli };
  let out = '';
  const sup = spawn(process.execPath, [path.join(ROOT, 'bin', 'autofix'), 'server'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  sup.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  while (!out.includes('serving')) {
    if (sup.exitCode !== null) throw new Error(`autofix server exited: ${out}`);
    await sleep(50);
  }
  await timeUntilServing(port, Date.now());
  const pid = Number(/\(pid (\d+)\)/.exec(out)?.[1]);
  const killedAt = Date.now();
  process.kill(pid, 'SIGKILL');
  await sleep(20); // the kernel closes the dead server's sockets
  const autofix = await timeUntilServing(port, killedAt);
  sup.kill('SIGTERM');
  await exited(sup);

  // The peer: the bare server on the same database and ports, started the moment it is killed.
  const db = path.join(dataDir, 'temporal', 'dev.db');
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--ui-port', String(uiPort), '--db-filename', db, '--log-level', 'error'];
  const warm = spawn(cli, args, { stdio: 'ignore' });
  await timeUntilServing(port, Date.now());
  const peerKilledAt = Date.now();
  warm.kill('SIGKILL');
  await exited(warm);
  const bare = spawn(cli, args, { stdio: 'ignore' });
  const peer = await timeUntilServing(port, peerKilledAt);
  bare.kill('SIGTERM');
  await exited(bare);
  return { autofix, peer };
}

async function main(): Promise<void> {
  const trials = numArg('--trials', 5);
  const cli = await ensureTemporalCli();
  const dataDir = makeTempDir('engine-restart');
  const samples: Array<{ autofix: number; peer: number }> = [];
  for (let i = 1; i <= trials; i++) {
    const s = await trial(cli, dataDir);
    samples.push(s);
    console.log(`trial ${i}: autofix server ${s.autofix} ms, bare restart ${s.peer} ms`);
  }
  const a = median(samples.map((s) => s.autofix));
  const p = median(samples.map((s) => s.peer));
  console.log(`median: autofix server ${a.toFixed(0)} ms (0.5 s of it is the first backoff), bare restart at the kill ${p.toFixed(0)} ms; ratio ${(a / p).toFixed(2)}`);
}

void main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(err.message);
    process.exit(1);
  },
);
