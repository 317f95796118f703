/**
 * A new database survives kill -9 of the server that creates it. The dev server writes its
 * schema in many statements on first start; killed in that window it used to leave a file no
 * later start accepts ("no such table"). Here the first server of a fresh database is killed at
 * several moments of its start, and each time the next start must come up with a working
 * namespace on the same file.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startDevServer } from '../../src/temporal/dev-server';
import { serversOnDatabase } from '../../src/temporal/server-processes';
import { freePort } from '../helpers/net';

const run = promisify(execFile);
const DELAYS_MS = [40, 70, 100, 130, 170, 250];

/** The first server process working on `db` (or on a temporary file next to it), polled every 5 ms. */
async function firstServerOn(db: string, timeoutMs = 20_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = [...(await serversOnDatabase(db)), ...(await serversOnDatabase(`${db}.init`))];
    if (found[0]) return found[0].pid;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`no server on ${db} within ${timeoutMs} ms`);
}

describe('creating the embedded database', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'autofix-dbcreate-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  test('kill -9 of the server at any moment of the first start leaves a database the next start accepts', async () => {
    const cli = process.env.AUTOFIX_TEST_TEMPORAL_CLI;
    assert.ok(cli, 'run with the test runner (AUTOFIX_TEST_TEMPORAL_CLI)');
    for (const delay of DELAYS_MS) {
      const dbFile = path.join(tmp, `kill-${delay}`, 'dev.db');
      const [port, uiPort] = [await freePort(), await freePort()];
      const starting = startDevServer({ cli, dbFile, port, uiPort }).then(
        (s) => s,
        (e: Error) => e,
      );
      const pid = await firstServerOn(dbFile);
      await new Promise((r) => setTimeout(r, delay));
      process.kill(pid, 'SIGKILL');
      const first = await starting;
      if (!(first instanceof Error)) await first.stop(); // it had finished before the kill

      const server = await startDevServer({ cli, dbFile, port, uiPort }).catch(async (e: Error) => {
        // Tests run in parallel: a port picked free may be taken by another test's server meanwhile.
        if (!/address already in use/.test(e.message)) throw e;
        return await startDevServer({ cli, dbFile, port: await freePort(), uiPort: await freePort() });
      });
      try {
        const r = await run(cli, ['operator', 'namespace', 'describe', '--namespace', 'default', '--address', server.address, '-o', 'json']);
        assert.match(r.stdout, /"name": "default"/, `killed after ${delay} ms: the namespace exists`);
      } finally {
        await server.stop();
      }
    }
  });
});
