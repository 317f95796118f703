/**
 * service_restart: restarts a service named in the config's `services` section.
 *
 * 1. Confirms the fault with a live probe first: a log line alone never restarts a healthy
 *    service. With a health check, it must fail (`down`): a healthy or answering service is not
 *    restarted (non-retryable `ServiceHealthy`; the saga ends the incident `skipped`). Without
 *    one, no process of the service may be running (pid_file/process_match); a running process
 *    with no health check cannot be confirmed and is refused, unless `confirm: false`.
 * 2. If the service's processes are alive while its health check fails, it is hung: each is
 *    stopped (SIGTERM, `stop_signal_timeout_seconds`, SIGKILL) with its identity re-checked
 *    before every signal and the deny-list applied (src/processes).
 * 3. Runs the restart argv (`services.<name>.restart`, default `systemctl restart <unit>`) with
 *    execFile: no shell, a timeout, output truncated.
 * 4. Waits up to `health_timeout_seconds` for the health check to pass.
 */
import type { ActionSpec, ServiceConfig } from '../config/schema';
import type { ProcessInfo } from '../proc';
import type { ActionContext, ActionDefinition, ActionResult } from './types';
import { configFailure, refused, serviceHealthy } from '../errors';
import { runCommand, type CommandRunner } from '../processes/run-command';
import { terminateProcess } from '../processes/signals';
import { probeService, waitForHealth } from '../processes/health-wait';
import { findServiceProcesses } from '../processes/service-processes';
import { processGuard } from '../processes/protected';

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
    throw configFailure(`service_restart: service "${name}" is not defined under "services" (defined: ${known})`);
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

/** The live evidence for a restart, and the processes to stop first when it is hung. */
interface Fault {
  evidence: string;
  hung: ProcessInfo[];
}

/**
 * Confirms the service is broken (see step 1 of the module comment); throws `ServiceHealthy`
 * or `RefusedError` when it cannot.
 */
async function confirmFault(ctx: ActionContext, name: string, svc: ServiceConfig): Promise<Fault> {
  const hasProcessInfo = Boolean(svc.pid_file || svc.process_match);
  if (svc.health) {
    const probe = await probeService(svc.health, Math.min(5000, svc.health_timeout_seconds * 1000));
    if (probe.state !== 'down') {
      if (svc.confirm) throw serviceHealthy(`service_restart ${name}: ${probe.message}: service healthy; not restarted`);
      return { evidence: `not confirmed (services.${name}.confirm is false): ${probe.message}`, hung: [] };
    }
    const procs = hasProcessInfo ? await findServiceProcesses(name, svc) : { found: [], notes: [] };
    for (const note of procs.notes) ctx.log('WARNING', `service_restart ${name}: ${note}`);
    if (procs.found.length > 0) ctx.log('WARNING', `service ${name} is hung (pids ${procs.found.map((p) => p.pid).join(', ')}; ${probe.message}); stopping it`);
    return { evidence: `${svc.health.type} health check fails: ${probe.message}`, hung: procs.found };
  }
  if (hasProcessInfo) {
    const procs = await findServiceProcesses(name, svc);
    for (const note of procs.notes) ctx.log('WARNING', `service_restart ${name}: ${note}`);
    if (procs.found.length === 0) return { evidence: `no process of ${name} is running (${svc.pid_file ? `pid_file ${svc.pid_file}` : ''}${svc.pid_file && svc.process_match ? ', ' : ''}${svc.process_match ? `process_match ${JSON.stringify(svc.process_match)}` : ''})`, hung: [] };
  }
  if (!svc.confirm) return { evidence: `not confirmed (services.${name}.confirm is false; no health check)`, hung: [] };
  throw refused(
    `service_restart ${name}: no live probe can confirm a fault (${hasProcessInfo ? 'its process is running and it has no health check' : 'no health check, pid_file or process_match'}); ` +
      `add services.${name}.health, or set services.${name}.confirm to false to restart it on a log line alone`,
  );
}

/** Stops the processes of a hung service; one line per pid. */
async function stopHung(ctx: ActionContext, name: string, svc: ServiceConfig, hung: ProcessInfo[]): Promise<string[]> {
  if (hung.length === 0) return [];
  const guard = await processGuard(ctx.config, name);
  const steps: string[] = [];
  for (const p of hung) {
    const r = await terminateProcess(p, { graceMs: svc.stop_signal_timeout_seconds * 1000, guard, signal: ctx.signal });
    steps.push(`pid ${p.pid}: ${r.outcome}${r.detail ? ` (${r.detail})` : ''}`);
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
  const fault = await confirmFault(ctx, spec.service, svc);
  ctx.log('INFO', `service_restart ${spec.service}: ${fault.evidence.startsWith('not confirmed') ? fault.evidence : `confirmed unhealthy: ${fault.evidence}`}`);
  const stopped = await stopHung(ctx, spec.service, svc, fault.hung);
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
    summary: `${fault.evidence.startsWith('not confirmed') ? fault.evidence : `confirmed unhealthy: ${fault.evidence}`}; restarted ${spec.service}${stopped.length ? ` (hung process stopped: ${stopped.join('; ')})` : ''}${svc.health ? `; ${svc.health.type} health check passes` : ''}`,
    changed: [`service:${spec.service}`],
    details: { argv, evidence: fault.evidence, stopped, stdout: r.stdout, stderr: r.stderr, healthAttempts },
  };
}

export const serviceRestart: ActionDefinition<Spec> = {
  type: 'service_restart',
  mutates: true,
  async plan(ctx, spec) {
    const svc = serviceConfigFor(ctx, spec.service);
    const steps: string[] = [];
    if (svc.health) steps.push(`confirm: ${spec.service} must fail its ${svc.health.type} health check${svc.confirm ? ' (a healthy service is not restarted)' : ''}`);
    else if (svc.pid_file || svc.process_match) steps.push(`confirm: no process of ${spec.service} may be running${svc.confirm ? '' : ' (not required: confirm is false)'}`);
    else if (svc.confirm) steps.push(`refuse: nothing can confirm a fault of ${spec.service} (no health check, pid_file or process_match; confirm is true)`);
    if (svc.health && (svc.pid_file || svc.process_match))
      steps.push(`if its processes are alive (hung): SIGTERM, wait ${svc.stop_signal_timeout_seconds} s, SIGKILL, each after re-checking the process's identity`);
    steps.push(`run ${JSON.stringify(restartArgv(spec.service, svc))}`);
    if (svc.health) steps.push(`wait up to ${svc.health_timeout_seconds} s for the ${svc.health.type} health check`);
    return { steps, targets: [] };
  },
  run: (ctx, spec) => restartService(ctx, spec),
};
