/**
 * kill_process_on_port: frees a port held by a stale process.
 *
 * Refused (non-retryable RefusedError) unless the port is in `managed.ports`, EVERY holder's whole
 * command line matches a regex of `managed.kill_allow_list` (full match, cmdline-match.ts) and no
 * holder is on the deny-list (protected.ts). Then the fault is confirmed live: the configured
 * service whose health check uses this port must fail it; a healthy or answering one is not
 * interrupted (non-retryable ServiceHealthy: the incident ends `skipped`). With no such service
 * nothing can confirm a fault and the action is refused, unless the action says `confirm: false`.
 * Holders get SIGTERM, `grace_seconds`, then SIGKILL, each signal only after re-checking that the
 * pid is still the planned process (start time, uid, command line).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ActionSpec, Config, ServiceConfig } from '../config/schema';
import { configFailure, refused, serviceHealthy } from '../errors';
import { listeningInodes, whoHoldsPort, type PortHolder } from '../proc';
import type { ActionContext, ActionDefinition } from './types';
import { cmdlineRegex } from '../processes/cmdline-match';
import { probeService } from '../processes/health-wait';
import { healthPort, processGuard, type ProcessGuard } from '../processes/protected';
import { terminateProcess } from '../processes/signals';

type Spec = Extract<ActionSpec, { type: 'kill_process_on_port' }>;

function refuse(message: string): never {
  throw refused(`kill_process_on_port: ${message}`);
}

/** The port to free: the action's `port`, else the only entry of `managed.ports`. */
export function portToFree(ctx: ActionContext, spec: Spec): number {
  const managed = ctx.config.managed.ports;
  const port = spec.port ?? (managed.length === 1 ? managed[0] : undefined);
  if (port === undefined) {
    throw configFailure(`kill_process_on_port: no port given (expected "port" on the action, or exactly one entry in managed.ports; found ${managed.length})`);
  }
  if (!managed.includes(port)) refuse(`port ${port} is not in managed.ports [${managed.join(', ')}]`);
  return port;
}

/** The configured service whose health check connects to `port` on this host, if any. */
export function serviceOnPort(config: Config, port: number): [string, ServiceConfig] | undefined {
  return Object.entries(config.services).find(([, svc]) => healthPort(svc) === port);
}

/**
 * The holders of `port`, after checking each may be killed; refuses the whole action if one
 * may not (a partial kill would leave the port held anyway).
 */
export async function killableHolders(ctx: ActionContext, port: number, guard: ProcessGuard): Promise<PortHolder[]> {
  const allow = ctx.config.managed.kill_allow_list.map(cmdlineRegex);
  const holders = await whoHoldsPort(port);
  for (const h of holders) {
    const why = await guard.reason(h.pid);
    if (why) refuse(`port ${port} is held by ${why}`);
    if (!allow.some((re) => re.test(h.cmdline))) {
      refuse(`pid ${h.pid} on port ${port} (${JSON.stringify(h.cmdline.slice(0, 200))}) matches no regex of managed.kill_allow_list (each must match the whole command line)`);
    }
  }
  return holders;
}

/** Confirms the port's service is broken (see the module comment); the evidence, or a refusal. */
async function confirmPortFault(ctx: ActionContext, spec: Spec, port: number): Promise<string> {
  const [name, svc] = serviceOnPort(ctx.config, port) ?? [];
  if (!name || !svc?.health) {
    if (!spec.confirm) return `not confirmed (confirm is false; no service's health check uses port ${port})`;
    refuse(`no live probe can confirm a fault on port ${port}: no service under "services" has a health check on it; add one, or set "confirm": false on the action`);
  }
  const probe = await probeService(svc.health, Math.min(5000, svc.health_timeout_seconds * 1000));
  if (probe.state === 'down') return `${name} ${svc.health.type} health check fails: ${probe.message}`;
  if (!spec.confirm) return `not confirmed (confirm is false): ${name}: ${probe.message}`;
  throw serviceHealthy(`kill_process_on_port ${port}: ${name}: ${probe.message}: service healthy; not killed`);
}

async function waitPortFree(port: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while ((await listeningInodes(port)).size > 0) {
    if (Date.now() >= deadline) return false;
    await sleep(100);
  }
  return true;
}

/** The deny-list of an action on `port`: the service that owns the port is the one acted on. */
function guardFor(ctx: ActionContext, port: number): Promise<ProcessGuard> {
  return processGuard(ctx.config, serviceOnPort(ctx.config, port)?.[0] ?? null);
}

export const killProcessOnPort: ActionDefinition<Spec> = {
  type: 'kill_process_on_port',
  mutates: true,
  async plan(ctx, spec) {
    const port = portToFree(ctx, spec);
    const holders = await killableHolders(ctx, port, await guardFor(ctx, port));
    const owner = serviceOnPort(ctx.config, port)?.[0];
    const confirm = owner ? `confirm: ${owner} must fail its health check (a healthy service is not interrupted)` : spec.confirm ? `refuse: no service's health check uses port ${port}` : 'no confirmation (confirm is false)';
    const steps = holders.length
      ? [confirm, ...holders.map((h) => `SIGTERM pid ${h.pid} (${h.cmdline.slice(0, 80)}), wait ${spec.grace_seconds} s, SIGKILL, each after re-checking its identity`)]
      : [`port ${port} is free: nothing to do`];
    return { steps, targets: [] };
  },
  async run(ctx, spec) {
    const port = portToFree(ctx, spec);
    const guard = await guardFor(ctx, port);
    const holders = await killableHolders(ctx, port, guard);
    if (holders.length === 0) return { type: 'kill_process_on_port', summary: `port ${port} is already free`, changed: [] };
    const evidence = await confirmPortFault(ctx, spec, port);
    const summary = evidence.startsWith('not confirmed') ? evidence : `confirmed unhealthy: ${evidence}`;
    ctx.log('INFO', `kill_process_on_port ${port}: ${summary}`);
    const outcomes: Record<string, string> = {};
    for (const h of holders) {
      const r = await terminateProcess(h, { graceMs: spec.grace_seconds * 1000, guard, signal: ctx.signal });
      outcomes[String(h.pid)] = r.outcome;
      ctx.log('INFO', `kill_process_on_port ${port}: pid ${h.pid} ${r.outcome}${r.detail ? ` (${r.detail})` : ''} (${h.cmdline.slice(0, 120)})`);
    }
    // A new process may have grabbed the port meanwhile: a plain error, so a retry looks again.
    if (!(await waitPortFree(port, 5000))) throw new Error(`kill_process_on_port: port ${port} is still held after stopping ${holders.map((h) => h.pid).join(', ')}`);
    return {
      type: 'kill_process_on_port',
      summary: `${summary}; freed port ${port}: ${holders.map((h) => `pid ${h.pid} ${outcomes[String(h.pid)]}`).join(', ')}`,
      changed: holders.map((h) => `pid:${h.pid}`),
      details: { port, evidence, holders, outcomes },
    };
  },
};
