/**
 * check_port: reports who listens on a port (pid, user, command line). Informational: changes
 * nothing. The port is the action's `port`, else every port in `managed.ports`.
 */
import { configFailure } from '../errors';
import type { ActionSpec } from '../config/schema';
import type { ActionContext, ActionDefinition } from './types';
import { whoHoldsPort, type PortHolder } from '../proc';

type Spec = Extract<ActionSpec, { type: 'check_port' }>;

/** The ports to inspect: the action's port, else `managed.ports`; a ConfigError when neither. */
export function portsToCheck(ctx: ActionContext, spec: Spec): number[] {
  if (spec.port) return [spec.port];
  if (ctx.config.managed.ports.length > 0) return ctx.config.managed.ports;
  throw configFailure('check_port: no port given (expected "port" on the action or a list in managed.ports)');
}

export const checkPort: ActionDefinition<Spec> = {
  type: 'check_port',
  mutates: false,
  async plan(ctx, spec) {
    return { steps: portsToCheck(ctx, spec).map((p) => `list the processes listening on TCP port ${p}`), targets: [] };
  },
  async run(ctx, spec) {
    const ports: Record<string, PortHolder[]> = {};
    const parts: string[] = [];
    for (const port of portsToCheck(ctx, spec)) {
      const holders = await whoHoldsPort(port);
      ports[String(port)] = holders;
      parts.push(holders.length ? `${port}: ${holders.map((h) => `pid ${h.pid} (${h.user}) ${h.cmdline.slice(0, 80)}`).join(', ')}` : `${port}: free`);
    }
    ctx.log('INFO', `check_port ${parts.join('; ')}`);
    return { type: 'check_port', summary: parts.join('; '), changed: [], details: { ports } };
  },
};
