/**
 * service_restart with an injected command runner, where the real effect (systemctl) is
 * impossible here: the exact default argv, the config error and a failing command. These
 * services have no live probe, so they say `confirm: false` (see the integration tests).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { restartService, serviceRestart } from '../../src/actions/service-restart';
import type { CommandRunner } from '../../src/processes/run-command';
import { runCommand, truncate } from '../../src/processes/run-command';
import { makeConfig, makeCtx, tempDir } from '../integration/actions-proc-fixtures';

function recorder(code = 0, stderr = ''): { runner: CommandRunner; calls: string[][] } {
  const calls: string[][] = [];
  const runner: CommandRunner = async (argv) => {
    calls.push(argv);
    return { argv, code, signal: null, stdout: '', stderr, timedOut: false };
  };
  return { runner, calls };
}

void test('default argv is systemctl restart <unit>, else the service name', async () => {
  const config = makeConfig(tempDir(), { services: { web: { unit: 'gunicorn-app.service', confirm: false }, redis: { confirm: false } } });
  const ctx = makeCtx(config);
  const { runner, calls } = recorder();
  const r = await restartService(ctx, { type: 'service_restart', service: 'web' }, { runner });
  await restartService(ctx, { type: 'service_restart', service: 'redis' }, { runner });
  assert.deepEqual(calls, [
    ['systemctl', 'restart', 'gunicorn-app.service'],
    ['systemctl', 'restart', 'redis'],
  ]);
  assert.deepEqual(r.changed, ['service:web']);
  const plan = await serviceRestart.plan(ctx, { type: 'service_restart', service: 'web' });
  assert.deepEqual(plan.steps, ['run ["systemctl","restart","gunicorn-app.service"]']);
  assert.match(r.summary, /^not confirmed \(services\.web\.confirm is false; no health check\); restarted web$/);
});

void test('an unknown service is a non-retryable ConfigError naming the defined ones', async () => {
  const ctx = makeCtx(makeConfig(tempDir(), { services: { web: {} } }));
  await assert.rejects(serviceRestart.run(ctx, { type: 'service_restart', service: 'nginx' }), (e: Error & { type?: string; nonRetryable?: boolean }) => {
    assert.equal(e.type, 'ConfigError');
    assert.equal(e.nonRetryable, true);
    assert.match(e.message, /"nginx" is not defined under "services" \(defined: web\)/);
    return true;
  });
});

void test('a failing restart command is a plain (retryable) Error carrying its stderr', async () => {
  const ctx = makeCtx(makeConfig(tempDir(), { services: { web: { confirm: false } } }));
  const { runner } = recorder(1, 'Unit web.service not found.');
  await assert.rejects(restartService(ctx, { type: 'service_restart', service: 'web' }, { runner }), (e: Error) => {
    assert.equal(e.constructor, Error);
    assert.match(e.message, /\["systemctl","restart","web"\] exited with 1: Unit web.service not found\./);
    return true;
  });
});

void test('runCommand runs an argv without a shell, truncates output and reports exit codes', async () => {
  const r = await runCommand([process.execPath, '-e', 'process.stdout.write("x".repeat(10000)); process.exit(3)', '; echo injected'], { maxOutput: 100 });
  assert.equal(r.code, 3);
  assert.equal(r.stdout, truncate('x'.repeat(10000), 100));
  assert.doesNotMatch(r.stdout, /injected/);
  const slow = await runCommand([process.execPath, '-e', 'setTimeout(() => {}, 60000)'], { timeoutMs: 300 });
  assert.equal(slow.timedOut, true);
  await assert.rejects(runCommand(['/nonexistent/autofix-binary']), /ENOENT/);
});
