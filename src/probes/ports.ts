/**
 * `ports`: each port in `expect_listening` has a listener (from /proc/net/tcp{,6}, so listeners
 * on any address count; a TCP connect to 127.0.0.1 where /proc is unavailable).
 * Any expected port without a listener → unhealthy.
 */
import type { CheckResult, CheckStatus, Probe } from './types';
import { worstStatus } from './types';
import { withDeadline } from './deadline';
import { listeningPorts, whoHoldsPort, type PortHolder } from '../proc';
import { canConnect } from '../util/net';
import { probeKind } from '../policy/checks';

export { whoHoldsPort, type PortHolder } from '../proc';

/** Result of one expected port. */
export interface PortResult {
  status: CheckStatus;
  port: number;
  listening: boolean;
  message: string;
  held_by?: PortHolder[];
}

/**
 * Checks that something listens on each expected port; listeners are named with their process.
 *
 * @example
 *   await probePorts([{ port: 5432, name: 'postgres' }], 5000);
 *   // { status: 'healthy', ports: { postgres: { listening: true, held_by: [...] } } }
 */
export async function probePorts(
  expect: Array<{ port: number; name: string }>,
  timeoutMs: number,
): Promise<CheckResult> {
  const work = async () => {
    const listening = await listeningPorts().catch(() => undefined);
    return Promise.all(
      expect.map(async ({ port, name }): Promise<readonly [string, PortResult]> => {
        const up = listening ? listening.has(port) : await canConnect(port, '127.0.0.1', timeoutMs);
        const held_by = up && listening ? await whoHoldsPort(port).catch(() => []) : undefined;
        const r: PortResult = up
          ? {
              status: 'healthy',
              port,
              listening: true,
              message: `${name}: listening on ${port}`,
              ...(held_by ? { held_by } : {}),
            }
          : { status: 'unhealthy', port, listening: false, message: `${name}: nothing listening on ${port}` };
        return [name, r] as const;
      }),
    );
  };
  const results = await withDeadline(work(), timeoutMs, 'ports');
  const bad = results.filter(([, r]) => r.status !== 'healthy').map(([, r]) => r.message);
  return {
    status: worstStatus(results.map(([, r]) => r.status)),
    message: bad.length > 0 ? bad.join('; ') : `${results.length} port(s) listening`,
    ports: Object.fromEntries(results),
  };
}

/** The registered probe: `health_checks.ports`. */
export const portsProbe: Probe = {
  ...probeKind('ports'),
  applies: (c) => c.health_checks.ports.expect_listening.length > 0,
  run: ({ config, timeoutMs }) => probePorts(config.health_checks.ports.expect_listening, timeoutMs),
};
