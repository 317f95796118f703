/**
 * kill_process_on_port: frees a port held by a stale process. Refused (non-retryable
 * RefusedError) unless the port is in `managed.ports` and EVERY holder's command line matches
 * one regex of `managed.kill_allow_list`; PID 1, this worker and its parent are never signalled.
 * Holders get SIGTERM, `grace_seconds`, then SIGKILL.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure } from '@temporalio/common';
import type { ActionSpec } from '../../config/schema';
import type { ActionContext, ActionDefinition } from './types';
import { findPortHolders, listeningInodes, type PortHolder } from '../processes/port-holders';
import { protectedPidReason, terminateProcess } from '../processes/signals';

type Spec = Extract<ActionSpec, { type: 'kill_process_on_port' }>;

function refuse(message: string): never {
  throw ApplicationFailure.nonRetryable(`kill_process_on_port: ${message}`, 'RefusedError');
}

/** The port to free: the action's `port`, else the only entry of `managed.ports`. */
export function portToFree(ctx: ActionContext, spec: Spec): number {
  const managed = ctx.config.managed.ports;
  const port = spec.port ?? (managed.length === 1 ? managed[0] : undefined);
  if (port === undefined) {
    throw ApplicationFailure.nonRetryable(
      `kill_process_on_port: no port given (expected "port" on the action, or exactly one entry in managed.ports; found ${managed.length})`,
      'ConfigError',
    );
  }
  if (!managed.includes(port)) refuse(`port ${port} is not in managed.ports [${managed.join(', ')}]`);
  return port;
}

/**
 * The holders of `port`, after checking each may be killed; refuses the whole action if one
 * may not (a partial kill would leave the port held anyway).
 */
export async function killableHolders(ctx: ActionContext, port: number): Promise<PortHolder[]> {
  const allow = ctx.config.managed.kill_allow_list.map((rx) => new RegExp(rx));
  const holders = await findPortHolders(port);
  for (const h of holders) {
    const why = protectedPidReason(h.pid);
    if (why) refuse(`port ${port} is held by ${why}`);
    if (!allow.some((re) => re.test(h.cmdline))) {
      refuse(`pid ${h.pid} on port ${port} (${JSON.stringify(h.cmdline.slice(0, 200))}) matches no regex of managed.kill_allow_list`);
    }
  }
  return holders;
}

async function waitPortFree(port: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while ((await listeningInodes(port)).size > 0) {
    if (Date.now() >= deadline) return false;
    await sleep(100);
  }
  return true;
}

export const killProcessOnPort: ActionDefinition<Spec> = {
  type: 'kill_process_on_port',
  mutates: true,
  async plan(ctx, spec) {
    const port = portToFree(ctx, spec);
    const holders = await killableHolders(ctx, port);
    const steps = holders.length
      ? holders.map((h) => `SIGTERM pid ${h.pid} (${h.cmdline.slice(0, 80)}), wait ${spec.grace_seconds} s, SIGKILL`)
      : [`port ${port} is free: nothing to do`];
    return { steps, targets: [] };
  },
  async run(ctx, spec) {
    const port = portToFree(ctx, spec);
    const holders = await killableHolders(ctx, port);
    if (holders.length === 0) return { type: 'kill_process_on_port', summary: `port ${port} is already free`, changed: [] };
    const outcomes: Record<string, string> = {};
    for (const h of holders) {
      outcomes[String(h.pid)] = await terminateProcess(h.pid, spec.grace_seconds * 1000, ctx.signal);
      ctx.log('INFO', `kill_process_on_port ${port}: pid ${h.pid} ${outcomes[String(h.pid)]} (${h.cmdline.slice(0, 120)})`);
    }
    // A new process may have grabbed the port meanwhile: a plain error, so a retry looks again.
    if (!(await waitPortFree(port, 5000))) throw new Error(`kill_process_on_port: port ${port} is still held after stopping ${holders.map((h) => h.pid).join(', ')}`);
    return {
      type: 'kill_process_on_port',
      summary: `freed port ${port}: ${holders.map((h) => `pid ${h.pid} ${outcomes[String(h.pid)]}`).join(', ')}`,
      changed: holders.map((h) => `pid:${h.pid}`),
      details: { port, holders, outcomes },
    };
  },
};
