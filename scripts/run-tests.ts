/**
 * `npm test`: provisions the Temporal CLI (building it once through the Go module proxy when it
 * is missing), starts one in-memory dev server on free ports for the whole run, then runs every
 * compiled test file with Node's built-in runner against it. Tests that need their own server
 * (restarts) get the CLI's path in AUTOFIX_TEST_TEMPORAL_CLI.
 *
 * Usage: node dist/scripts/run-tests.js [test files or dirs...]
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ensureTemporalCli } from '../src/temporal/provision';
import { startDevServer } from '../src/temporal/dev-server';
import { freePort } from '../src/util/net';


async function main(): Promise<number> {
  const root = path.resolve(__dirname, '..');
  const cli = await ensureTemporalCli();
  const [port, uiPort] = [await freePort(), await freePort()];
  process.stderr.write(`[test] starting the Temporal dev server on 127.0.0.1:${port} (UI ${uiPort})\n`);
  const server = await startDevServer({ cli, port, uiPort, startTimeoutMs: 120_000 });
  const targets = process.argv.slice(2);
  const args = ['--test', '--test-reporter=spec', ...(targets.length ? targets : [path.join(root, 'test')])];
  const code = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, args, {
      stdio: 'inherit',
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: server.address,
        AUTOFIX_UI_URL: server.uiUrl,
        AUTOFIX_TEST_TEMPORAL_CLI: cli,
        AUTOFIX_TEST_UI_PORT: String(uiPort),
        // Workers in tests log warnings and errors only; failures under test are expected.
        AUTOFIX_LOG_LEVEL: process.env.AUTOFIX_LOG_LEVEL ?? 'WARN',
      },
    });
    child.on('exit', (c, sig) => resolve(c ?? (sig ? 1 : 0)));
  });
  await server.stop();
  return code;
}

if (require.main === module) {
  void main().then(
    (code) => process.exit(code),
    (err: Error) => {
      process.stderr.write(`[test] ${err.message}\n`);
      process.exit(1);
    },
  );
}
