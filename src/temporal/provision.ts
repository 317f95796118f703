/**
 * Finds or builds the Temporal CLI (which embeds the dev server and Web UI). Order:
 * TEMPORAL_CLI_PATH → `temporal` on PATH → the machine-wide cache → `go install` into the cache
 * (v1.5.1: later versions carry a `replace` directive that `go install pkg@version` refuses).
 * The cache lives outside the checkout (~/.cache/autofix/bin) so every clone reuses one build.
 */
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const TEMPORAL_CLI_VERSION = 'v1.5.1';
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';

/** Thrown when no Temporal CLI can be found or built; the message says why and what to do. */
export class ProvisionError extends Error {
  override readonly name: string = 'ProvisionError';
}

/** Thrown when no Temporal CLI exists and there is no Go to build one. */
export class NoGoError extends ProvisionError {
  override readonly name = 'NoGoError';
}

/** Directory of the machine-wide binary cache. */
export function cacheBinDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.AUTOFIX_CACHE_DIR ?? path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'autofix');
  return path.join(base, 'bin');
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, name))) return path.join(dir, name);
  }
  return undefined;
}

/** Returns the path of an existing Temporal CLI, or undefined. Never builds. */
export function findTemporalCli(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.TEMPORAL_CLI_PATH) {
    if (!isExecutable(env.TEMPORAL_CLI_PATH)) {
      throw new ProvisionError(`TEMPORAL_CLI_PATH=${env.TEMPORAL_CLI_PATH} is not an executable file. Point it at a Temporal CLI binary, or unset it to let autofix find or build one.`);
    }
    return env.TEMPORAL_CLI_PATH;
  }
  const cached = path.join(cacheBinDir(env), 'temporal');
  if (isExecutable(cached)) return cached;
  return onPath('temporal', env);
}

/** Prints a progress line (stderr, so stdout stays machine-readable). */
type Progress = (line: string) => void;
const stderrProgress: Progress = (line) => process.stderr.write(`[autofix] ${line}\n`);

/**
 * Builds the Temporal CLI with `go install` into the cache, printing progress every few seconds
 * (the first build downloads several hundred MB of modules and compiles for minutes).
 */
export async function buildTemporalCli(env: NodeJS.ProcessEnv = process.env, progress: Progress = stderrProgress): Promise<string> {
  const go = onPath('go', env);
  if (!go) {
    throw new NoGoError(
      'No Temporal CLI found and Go is not installed, so it cannot be built. Either install Go (then run `npm run temporal:install`), ' +
        'or download the Temporal CLI yourself and set TEMPORAL_CLI_PATH=/path/to/temporal, or set TEMPORAL_ADDRESS to use an existing Temporal server.',
    );
  }
  const bin = cacheBinDir(env);
  mkdirSync(bin, { recursive: true });
  const attempt = (extra: NodeJS.ProcessEnv) =>
    new Promise<{ code: number; tail: string }>((resolve) => {
      progress(`building the Temporal CLI ${TEMPORAL_CLI_VERSION} with ${go} into ${bin} (first time: several minutes)…`);
      const child = spawn(go, ['install', '-v', `${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}`], {
        env: { ...env, GOTOOLCHAIN: 'local', GOBIN: bin, GOFLAGS: env.GOFLAGS ?? '', ...extra },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let packages = 0;
      let downloads = 0;
      let tail = '';
      const started = Date.now();
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (chunk: string) => {
        tail = (tail + chunk).slice(-4000);
        for (const line of chunk.split('\n')) {
          if (line.startsWith('go: downloading')) downloads++;
          else if (line.trim() && !line.startsWith('go: ')) packages++;
        }
      });
      const timer = setInterval(() => {
        progress(`  …${Math.round((Date.now() - started) / 1000)}s: ${downloads} modules downloaded, ${packages} packages compiled`);
      }, 15_000);
      child.on('close', (code) => {
        clearInterval(timer);
        resolve({ code: code ?? 1, tail });
      });
    });
  let r = await attempt({});
  if (r.code !== 0 && /sum\.golang\.org|checksum database|verifying .*: .*(dial|lookup|timeout|refused)/i.test(r.tail)) {
    progress('the Go checksum database could not be reached; retrying this one build with GOSUMDB=off (modules still come from GOPROXY)');
    r = await attempt({ GOSUMDB: 'off' });
  }
  const out = path.join(bin, 'temporal');
  if (r.code !== 0 || !isExecutable(out)) {
    throw new ProvisionError(
      `building the Temporal CLI failed (go install exited ${r.code}). Last output:\n${r.tail.trim().split('\n').slice(-8).join('\n')}\n` +
        'Fix the Go/module-proxy problem above and run `npm run temporal:install` again, or supply a binary with TEMPORAL_CLI_PATH=/path/to/temporal, ' +
        'or use an existing server with TEMPORAL_ADDRESS=host:7233.',
    );
  }
  progress(`built ${out}`);
  return out;
}

/** Finds the Temporal CLI, building it when needed. */
export async function ensureTemporalCli(env: NodeJS.ProcessEnv = process.env, progress: Progress = stderrProgress): Promise<string> {
  return findTemporalCli(env) ?? (await buildTemporalCli(env, progress));
}

/** The CLI's version line, for diagnostics. */
export function temporalCliVersion(bin: string): string {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  return (r.stdout || r.stderr || '').trim();
}
