/** The sudoers renderer: visudo accepts what it writes; it refuses arguments sudoers would misread. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { renderSudoers, restartArgvOf, sudoersRules, UnsafeServiceCommandError } from '../../src/deploy';
import { requireTool } from '../helpers/tools';

const ROOT = path.resolve(__dirname, '../../..');
const EXAMPLE_SERVICES = {
  flask: { unit: 'flask.service' },
  postgresql: { unit: 'postgresql.service' },
  redis: { unit: 'redis-server.service' },
};
type Services = Parameters<typeof sudoersRules>[0];
const svc = (s: Record<string, { restart?: string[]; unit?: string }>) => s as unknown as Services;

/** Runs `visudo -cf` on text written to a temp file; returns its exit status and output. */
function visudoCheck(text: string): { status: number | null; output: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'autofix-sudoers-'));
  try {
    const file = path.join(dir, 'autofix');
    writeFileSync(file, text, { mode: 0o440 });
    const r = spawnSync(requireTool('visudo'), ['-cf', file], { encoding: 'utf8' });
    return { status: r.status, output: `${r.stdout}${r.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void test('the rendered sudoers file passes visudo -cf and lists exactly the configured restarts', () => {
  const text = renderSudoers({ services: svc(EXAMPLE_SERVICES) }, 'www-data');
  const check = visudoCheck(text);
  assert.equal(check.status, 0, check.output);
  const rules = text.split('\n').filter((l) => l && !l.startsWith('#'));
  assert.deepEqual(rules, [
    'www-data ALL=(root) NOPASSWD: /usr/bin/systemctl restart flask.service',
    'www-data ALL=(root) NOPASSWD: /usr/bin/systemctl restart postgresql.service',
    'www-data ALL=(root) NOPASSWD: /usr/bin/systemctl restart redis-server.service',
  ]);
  assert.doesNotMatch(text, /[*?[\]]|ALL$/m, 'no wildcards, no "ALL" command');
});

void test('the committed deploy/sudoers/autofix is what the renderer produces for the example services', () => {
  const committed = readFileSync(path.join(ROOT, 'deploy/sudoers/autofix'), 'utf8');
  assert.equal(committed, renderSudoers({ services: svc(EXAMPLE_SERVICES) }, 'www-data'));
  assert.equal(execFileSync(requireTool('visudo'), ['-cf', path.join(ROOT, 'deploy/sudoers/autofix')], { encoding: 'utf8' }).includes('parsed OK'), true);
});

void test('a restart argv defaults to systemctl restart <unit>, the unit to the service name', () => {
  assert.deepEqual(restartArgvOf('redis', {}), ['systemctl', 'restart', 'redis']);
  assert.deepEqual(restartArgvOf('flask', { unit: 'flask.service' }), ['systemctl', 'restart', 'flask.service']);
  assert.deepEqual(restartArgvOf('x', { restart: ['/usr/sbin/service', 'x', 'restart'], unit: 'ignored' }), ['/usr/sbin/service', 'x', 'restart']);
});

void test('a leading "sudo -n" is dropped, the command resolved, duplicates listed once', () => {
  const resolve = (name: string) => (name === 'systemctl' ? '/usr/bin/systemctl' : name.startsWith('/') ? name : undefined);
  const rules = sudoersRules(
    svc({ a: { restart: ['sudo', '-n', 'systemctl', 'restart', 'app@1.service'] }, b: { restart: ['/usr/sbin/service', 'nginx', 'restart'] } }),
    resolve,
  );
  assert.deepEqual(rules, [
    { service: 'a', argv: ['/usr/bin/systemctl', 'restart', 'app@1.service'] },
    { service: 'b', argv: ['/usr/sbin/service', 'nginx', 'restart'] },
  ]);
  const text = renderSudoers({ services: svc({ a: { unit: 'x.service' }, b: { unit: 'x.service' } }) }, 'www-data');
  assert.equal(text.match(/NOPASSWD/g)?.length, 1);
});

void test('arguments with characters sudoers treats specially are refused, naming the service', () => {
  for (const bad of ['a,b', 'a:b', '--x=y', 'a\\b', 'web*', 'web?', 'web[1]', '!web', 'two words', '', 'a\nALL', '"q"', '#c', '^re$']) {
    assert.throws(
      () => renderSudoers({ services: svc({ flask: { restart: ['systemctl', 'restart', bad] } }) }, 'www-data'),
      (e: unknown) => e instanceof UnsafeServiceCommandError && e.service === 'flask' && /services\.flask\.restart: argument 2/.test(e.message),
      `expected ${JSON.stringify(bad)} to be refused`,
    );
  }
});

void test('other sudo options, unknown commands and bad user names are refused', () => {
  assert.throws(() => sudoersRules(svc({ s: { restart: ['sudo', '-u', 'postgres', 'pg_ctl'] } })), /services\.s\.restart: sudo option "-u"/);
  assert.throws(() => sudoersRules(svc({ s: { restart: ['no-such-command-autofix', 'x'] } })), /"no-such-command-autofix" was not found/);
  assert.throws(() => sudoersRules(svc({ s: { restart: ['./relative', 'x'] } })), /was not found/);
  assert.throws(() => renderSudoers({ services: svc({}) }, 'www-data ALL=(ALL) ALL'), /user: .* not a valid account name/);
});

void test('with no services the file allows nothing and still passes visudo', () => {
  const text = renderSudoers({ services: svc({}) }, 'www-data');
  assert.doesNotMatch(text, /NOPASSWD/);
  assert.equal(visudoCheck(text).status, 0);
});
