/**
 * `up`'s first start of the embedded dev server (the real Temporal CLI): a start that fails for
 * a reason not known to be permanent is tried again, as a restart is, and a Go panic is explained
 * by its message, not by the tail of its stack. The CLI cannot be made to panic on demand, so it
 * is started through a wrapper that panics the way Go does (a message, then a long stack, exit 2)
 * the first N times, then runs the real CLI with the same arguments.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DevServerSupervisor } from '../../src/temporal/supervisor';
import { DevServerError } from '../../src/temporal/dev-server';
import { canConnect, freePort } from '../../src/util/net';

const CLI = process.env.AUTOFIX_TEST_TEMPORAL_CLI as string;
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const PANIC = 'panic: failed assigning ephemeral port: failed to assign a free port: dial tcp 127.0.0.1:40123: connect: cannot assign requested address';

/** A CLI that panics on its first `panics` runs (counted in a file), then is the real CLI. */
function panickyCli(dir: string, panics: number): string {
  const count = path.join(dir, 'runs');
  const stack = Array.from({ length: 30 }, (_, i) => `github.com/temporalio/cli/temporalcli.frame${i}(...)\\n\\t/root/go/pkg/mod/x.go:${i} +0x${i}`).join('\\n');
  const script = path.join(dir, 'temporal');
  writeFileSync(
    script,
    `#!/bin/sh
n=$(cat ${count} 2>/dev/null || echo 0)
echo $((n + 1)) > ${count}
if [ "$n" -lt ${panics} ]; then
  printf '%s\\n\\ngoroutine 1 [running]:\\n${stack}\\n' '${PANIC}' >&2
  exit 2
fi
exec ${CLI} "$@"
`,
  );
  chmodSync(script, 0o755);
  return script;
}

async function supervisor(panics: number, maxFailedStarts?: number) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'autofix-first-start-'));
  dirs.push(dir);
  const said: string[] = [];
  const port = await freePort();
  const sup = new DevServerSupervisor({
    server: { cli: panickyCli(dir, panics), dbFile: path.join(dir, 'dev.db'), port, uiPort: await freePort(), startTimeoutMs: 60_000 },
    say: (l) => said.push(l),
    backoff: { initialMs: 100 },
    ...(maxFailedStarts ? { maxFailedStarts } : {}),
  });
  return { sup, said, port, runs: () => Number(readFileSync(path.join(dir, 'runs'), 'utf8')) };
}

void test('a first start that fails (a Go panic) is tried again, and the server then runs', async () => {
  const { sup, said, port, runs } = await supervisor(1);
  try {
    const server = await sup.start();
    assert.equal(server.address, `127.0.0.1:${port}`);
    assert.equal(await canConnect(port, '127.0.0.1'), true, 'the real server answers');
    assert.ok(runs() >= 2, 'the CLI ran again after its panic');
    assert.deepEqual(said, [`starting the Temporal dev server failed (the Temporal dev server exited with code 2 before it answered. Its output: ${PANIC}); trying again in 0.1 s`]);
  } finally {
    await sup.stop();
  }
});

void test('starts that keep failing give up after maxFailedStarts, explained by the panic message, not its stack', async () => {
  const { sup, said, runs } = await supervisor(10, 3);
  const err = await sup.start().then(
    () => assert.fail('started'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof DevServerError);
  const lines = err.message.split('\n');
  assert.equal(lines[1], PANIC, err.message);
  assert.match(lines.at(-1) ?? '', /^\t\/root\/go\/pkg\/mod\/x\.go:29 /, 'then the last lines');
  assert.equal(runs(), 3);
  assert.equal(said.at(-1), 'giving up on the Temporal dev server after 3 failed starts');
  assert.deepEqual(said.slice(0, 2).map((l) => l.replace(/in [\d.]+ s$/, 'in N s')), Array(2).fill(`starting the Temporal dev server failed (the Temporal dev server exited with code 2 before it answered. Its output: ${PANIC}); trying again in N s`));
});
