/**
 * scripts/test-prerequisites, the first step of `npm test`, run for real. As nobody (who cannot
 * install or start anything) it stops at once with exit 1 and the exact commands to run: for
 * programs missing from PATH and for services that are down (checked on free ports, so the shared
 * PostgreSQL and Redis are never touched). A service that answers wrongly is reported, never
 * restarted. As root on this provisioned machine it passes and changes nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findTool, packagesOf, shellLine, TEST_TOOLS } from '../../scripts/test-prerequisites';
import { freePort } from '../../src/util/net';

const SCRIPT = path.resolve(__dirname, '../../scripts/test-prerequisites.js');
/** The system directories only: root's PATH may lead to programs under /root that nobody cannot run. */
const SYSTEM_PATH = '/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin';
const PG_VERSION = readdirSync('/etc/postgresql').sort((a, b) => Number(b) - Number(a))[0] as string;

/** Runs the script (as `user` when given) with `env`; returns its exit status and all it printed. */
function runScript(env: Record<string, string>, user?: string): { status: number | null; output: string } {
  const vars = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  const argv = user ? ['runuser', '-u', user, '--', '/usr/bin/env', ...vars, process.execPath, SCRIPT] : ['/usr/bin/env', ...vars, process.execPath, SCRIPT];
  const r = spawnSync(argv[0] as string, argv.slice(1), { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** A directory, readable by nobody, holding a link to every listed program except `hidden`. */
function pathWithout(hidden: string[]): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'autofix-prereq-path-'));
  chmodSync(dir, 0o755);
  for (const { tool } of TEST_TOOLS) {
    const found = findTool(tool, { PATH: SYSTEM_PATH });
    if (found && !hidden.includes(tool)) symlinkSync(found, path.join(dir, tool));
  }
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

void test('as nobody, programs missing from PATH stop the run with exit 1 and one apt-get command', () => {
  const p = pathWithout(['docker-compose', 'chromium']);
  try {
    const r = runScript({ PATH: p.dir }, 'nobody');
    assert.equal(r.status, 1, r.output);
    const problems = r.output.split('\n').filter((l) => l.startsWith('  - '));
    assert.deepEqual(problems, [
      '  - docker-compose not found (Debian package docker-compose): deploy-compose validates docker-compose.yml, no Docker engine needed',
      '  - chromium not found (Debian package chromium): webui-incidents drives the Temporal Web UI in headless Chromium',
    ]);
    assert.ok(r.output.split('\n').includes('  sudo apt-get update && sudo apt-get install -y docker-compose chromium'), r.output);
    assert.doesNotMatch(r.output, /pg_ctlcluster|redis-server --daemonize/, 'the services answer: no start command');
  } finally {
    p.cleanup();
  }
});

void test('as nobody, a program in an sbin directory is found even when PATH lacks it', () => {
  const p = pathWithout(['visudo', 'runuser']);
  try {
    const r = runScript({ PATH: p.dir }, 'nobody');
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, new RegExp(`prerequisites: ${TEST_TOOLS.length} tools found`));
  } finally {
    p.cleanup();
  }
});

void test('a program only root can reach (a shim under a private home) does not count: the system one, or none', () => {
  const home = mkdtempSync(path.join(os.tmpdir(), 'autofix-prereq-private-'));
  try {
    chmodSync(home, 0o700);
    const bin = path.join(home, 'bin');
    mkdirSync(bin, { mode: 0o755 });
    for (const tool of ['visudo', 'autofix-no-such-tool']) {
      writeFileSync(path.join(bin, tool), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    }
    assert.equal(findTool('visudo', { PATH: bin }), '/usr/sbin/visudo');
    assert.equal(findTool('autofix-no-such-tool', { PATH: bin }), undefined);
    chmodSync(home, 0o711);
    assert.equal(findTool('autofix-no-such-tool', { PATH: bin }), path.join(bin, 'autofix-no-such-tool'), 'reachable by everyone: it counts');
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

void test('as nobody, PostgreSQL and Redis that do not answer stop the run with their exact start commands', async () => {
  const [pgPort, redisPort] = [await freePort(), await freePort()];
  const r = runScript(
    { PATH: SYSTEM_PATH, AUTOFIX_TEST_PG_URL: `postgresql://root@127.0.0.1:${pgPort}/test`, AUTOFIX_TEST_REDIS_URL: `redis://127.0.0.1:${redisPort}` },
    'nobody',
  );
  assert.equal(r.status, 1, r.output);
  const lines = r.output.split('\n');
  assert.ok(lines.includes(`  - PostgreSQL does not answer on 127.0.0.1:${pgPort}/test`), r.output);
  assert.ok(lines.includes(`  - Redis does not answer on 127.0.0.1:${redisPort}`), r.output);
  assert.ok(lines.includes(`  sudo pg_ctlcluster --skip-systemctl-redirect ${PG_VERSION} main start`), r.output);
  assert.ok(
    lines.includes('  sudo redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log'),
    r.output,
  );
  assert.doesNotMatch(r.output, /apt-get/, 'every program is there: nothing to install');
});

void test('a PostgreSQL that answers but lacks what the tests need is reported, never (re)started, even as root', () => {
  const r = runScript({ PATH: SYSTEM_PATH, AUTOFIX_TEST_PG_URL: 'postgresql://root@127.0.0.1:5432/no_such_db_autofix' });
  assert.equal(r.status, 1, r.output);
  assert.match(r.output, /PostgreSQL on 127\.0\.0\.1:5432\/no_such_db_autofix answers, but not as the tests need: .*database "no_such_db_autofix" does not exist\. They need trust auth/);
  assert.doesNotMatch(r.output, /pg_ctlcluster|starting|installing/);
});

void test('as root on this provisioned machine it passes, installing and starting nothing', () => {
  const r = runScript({ PATH: SYSTEM_PATH });
  assert.equal(r.status, 0, r.output);
  assert.equal(r.output, `[test] prerequisites: ${TEST_TOOLS.length} tools found; PostgreSQL on 127.0.0.1:5432/test and Redis on 127.0.0.1:6379 answer\n`);
});

void test('the table names each tool once; packages are listed once, in table order; commands are shell-quoted', () => {
  assert.equal(new Set(TEST_TOOLS.map((t) => t.tool)).size, TEST_TOOLS.length);
  assert.deepEqual(
    packagesOf([
      { tool: 'a', package: 'p1', why: '' },
      { tool: 'b', package: 'p2', why: '' },
      { tool: 'c', package: 'p1', why: '' },
    ]),
    ['p1', 'p2'],
  );
  assert.equal(shellLine(['redis-server', '--save', '', '--bind', '127.0.0.1', '-::1', 'two words', "it's", '$(ls /x)']), `redis-server --save "" --bind 127.0.0.1 -::1 'two words' 'it'\\''s' '$(ls /x)'`);
});
