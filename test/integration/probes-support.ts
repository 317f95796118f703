/** Helpers for the probe tests: free ports, a private redis-server, temp configs, test certificates. */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseConfig } from '../../src/config/load';
import type { Config } from '../../src/config/schema';
import { probeRedis } from '../../src/probes/redis';
import { freePort } from '../../src/util/net';
import { requireTool } from '../helpers/tools';

export { freePort };

const execFileP = promisify(execFile);

/** A fresh temp directory. */
export function tempDir(prefix = 'autofix-probes-'): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

/** Validates a config object as if read from `<dir>/config.json` (env overrides not applied). */
export function makeConfig(raw: Record<string, unknown>, dir = os.tmpdir()): Config {
  return parseConfig({ error_patterns: [], ...raw }, path.join(dir, 'config.json'), {});
}

/** Writes a config file and returns its path (for the CLI). */
export async function writeConfig(dir: string, raw: Record<string, unknown>): Promise<string> {
  const file = path.join(dir, 'config.json');
  await writeFile(file, JSON.stringify({ error_patterns: [], ...raw }));
  return file;
}

/** A private redis-server on a free port, with no persistence; resolves once it answers PING. */
export async function startRedis(
  extraArgs: string[] = [],
  password?: string,
): Promise<{ proc: ChildProcess; port: number; url: string }> {
  const port = await freePort();
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    ...extraArgs,
  ];
  if (password) args.push('--requirepass', password);
  const proc = spawn(requireTool('redis-server'), args, { stdio: 'ignore' });
  const url = password
    ? `redis://:${encodeURIComponent(password)}@127.0.0.1:${port}`
    : `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if ((await probeRedis(url, 500)).status === 'healthy') return { proc, port, url };
    await new Promise((r) => setTimeout(r, 100));
  }
  proc.kill('SIGKILL');
  throw new Error(`redis-server on ${port} did not start`);
}

/** Kills a child we started (SIGCONT first, in case it was stopped) and waits for it to exit. */
export async function stopProcess(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  proc.kill('SIGCONT');
  proc.kill('SIGKILL');
  await exited;
}

/** A self-signed certificate for CN=localhost valid for `days` days (openssl, argv only). */
export async function selfSignedCert(
  dir: string,
  days: number,
): Promise<{ key: string; cert: string; certFile: string }> {
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  await execFileP(
    requireTool('openssl'),
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      String(days),
      '-subj',
      '/CN=localhost',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { timeout: 30_000 },
  );
  return { key: await readFile(keyFile, 'utf8'), cert: await readFile(certFile, 'utf8'), certFile };
}

/** Runs `bin/autofix` with args and env; resolves with exit code and output (never rejects). */
export function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 60_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const bin = path.resolve(__dirname, '../../../bin/autofix');
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { env: { ...process.env, ...env }, timeout: timeoutMs },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: unknown }).code as number | null) : 0;
        resolve({ code: typeof code === 'number' ? code : null, stdout, stderr });
      },
    );
  });
}
