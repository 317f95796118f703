/**
 * service_restart: restarts a service named in the config's `services` section.
 *
 * 1. If the service has a health check and it fails while its process (pid_file/process_match)
 *    is alive, the service is hung: SIGTERM, wait `stop_signal_timeout_seconds`, SIGKILL.
 * 2. Runs the restart argv (`services.<name>.restart`, default `systemctl restart <unit>`) with
 *    execFile: no shell, a timeout, output truncated.
 * 3. Waits up to `health_timeout_seconds` for the health check to pass.
 * A live, healthy process is not signalled: the restart argv is trusted to restart it.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { ActionSpec, ServiceConfig } from '../../config/schema';
import type { ActionContext, ActionDefinition, ActionResult } from './types';
import { runCommand, type CommandRunner } from '../processes/run-command';
import { findPidsByCmdline, isAlive, protectedPidReason, readCmdline, readPidFile, terminateProcess } from '../processes/signals';
import { checkServiceHealth, waitForHealth } from '../processes/health-wait';

type Spec = Extract<ActionSpec, { type: 'service_restart' }>;

/** Dependencies that tests replace where the real effect is impossible (systemctl). */
export interface ServiceRestartDeps {
  runner: CommandRunner;
}

/** The service's config, or a non-retryable ConfigError naming the known services. */
export function serviceConfigFor(ctx: ActionContext, name: string): ServiceConfig {
  const svc = ctx.config.services[name];
  if (!svc) {
    const known = Object.keys(ctx.config.services).join(', ') || 'none';
    throw ApplicationFailure.nonRetryable(`service_restart: service "${name}" is not defined under "services" (defined: ${known})`, 'ConfigError');
  }
  return svc;
}

/** The restart argv: configured, else `["systemctl", "restart", <unit or name>]`. */
export function restartArgv(name: string, svc: ServiceConfig, uid: number | undefined = process.getuid?.()): string[] {
  if (svc.restart) return svc.restart;
  const argv = ['systemctl', 'restart', svc.unit ?? name];
  // A non-root worker (www-data under systemd) restarts through the exact sudoers rules that
  // `autofix install-service` writes; -n makes a missing rule fail instead of prompting.
  return uid === 0 ? argv : ['sudo', '-n', ...argv];
}

/** Pids of the service's process from its pid file and/or command-line regex (alive ones only). */
async function servicePids(svc: ServiceConfig): Promise<number[]> {
  const pids = new Set<number>();
  const match = svc.process_match ? new RegExp(svc.process_match) : null;
  if (svc.pid_file) {
    const pid = await readPidFile(svc.pid_file);
    // A stale pid file may name a reused pid: with process_match, the command line must agree.
    if (pid && !protectedPidReason(pid) && (await isAlive(pid)) && (!match || match.test((await readCmdline(pid)) ?? ''))) pids.add(pid);
  }
  if (match) for (const pid of await findPidsByCmdline(match)) pids.add(pid);
  return [...pids];
}

/** Stops the service's processes when they are alive but fail their health check. */
async function stopIfHung(ctx: ActionContext, name: string, svc: ServiceConfig): Promise<string[]> {
  if (!svc.health || (!svc.pid_file && !svc.process_match)) return [];
  const pids = await servicePids(svc);
  if (pids.length === 0) return [];
  try {
    await checkServiceHealth(svc.health, Math.min(5000, svc.health_timeout_seconds * 1000));
    return [];
  } catch (e) {
    ctx.log('WARNING', `service ${name} is hung (pids ${pids.join(', ')}; ${(e as Error).message}); stopping it`);
  }
  const steps: string[] = [];
  for (const pid of pids) {
    const how = await terminateProcess(pid, svc.stop_signal_timeout_seconds * 1000, ctx.signal);
    steps.push(`pid ${pid}: ${how}`);
  }
  return steps;
}

/**
 * Runs service_restart with injectable dependencies (the action itself uses the real runner).
 *
 * @example
 *   await restartService(ctx, { type: 'service_restart', service: 'redis' }, { runner: fakeRunner });
 */
export async function restartService(ctx: ActionContext, spec: Spec, deps: ServiceRestartDeps = { runner: runCommand }): Promise<ActionResult> {
  const svc = serviceConfigFor(ctx, spec.service);
  const argv = restartArgv(spec.service, svc);
  const stopped = await stopIfHung(ctx, spec.service, svc);
  ctx.log('INFO', `restarting ${spec.service}: ${JSON.stringify(argv)}`);
  const r = await deps.runner(argv, { timeoutMs: ctx.config.auto_fix_config.action_timeout_seconds * 1000, signal: ctx.signal });
  if (r.code !== 0) {
    const why = r.timedOut ? 'timed out' : r.code === null ? `was killed by ${r.signal}` : `exited with ${r.code}`;
    throw new Error(`service_restart ${spec.service}: ${JSON.stringify(argv)} ${why}: ${(r.stderr || r.stdout).trim()}`);
  }
  let healthAttempts: number | undefined;
  if (svc.health) healthAttempts = await waitForHealth(svc.health, svc.health_timeout_seconds * 1000, ctx.signal);
  return {
    type: 'service_restart',
    summary: `restarted ${spec.service}${stopped.length ? ` (hung process stopped: ${stopped.join('; ')})` : ''}${svc.health ? `; ${svc.health.type} health check passes` : ''}`,
    changed: [`service:${spec.service}`],
    details: { argv, stopped, stdout: r.stdout, stderr: r.stderr, healthAttempts },
  };
}

export const serviceRestart: ActionDefinition<Spec> = {
  type: 'service_restart',
  mutates: true,
  async plan(ctx, spec) {
    const svc = serviceConfigFor(ctx, spec.service);
    const steps: string[] = [];
    if (svc.health && (svc.pid_file || svc.process_match))
      steps.push(`if ${spec.service} fails its ${svc.health.type} check: SIGTERM, wait ${svc.stop_signal_timeout_seconds} s, SIGKILL`);
    steps.push(`run ${JSON.stringify(restartArgv(spec.service, svc))}`);
    if (svc.health) steps.push(`wait up to ${svc.health_timeout_seconds} s for the ${svc.health.type} health check`);
    return { steps, targets: [] };
  },
  run: (ctx, spec) => restartService(ctx, spec),
};
