/** `memory`: memory in use against `threshold_percent`, from *available* memory (not free). */
import si from 'systeminformation';
import type { CheckResult, Probe } from './types';
import { withDeadline } from './deadline';
import { probeKind } from '../policy/checks';

const GIB = 1024 ** 3;
const round1 = (n: number) => Math.round(n * 10) / 10;

/**
 * Usage = (total − available) / total. "Free" leaves out page cache the kernel gives back on
 * demand, so a healthy box with a warm cache would look full; MemAvailable does not.
 *
 * @example
 *   await probeMemory(85, 5000); // { status: 'healthy', usage_percent: 60.5, available_gb: 6.1, ... }
 */
export async function probeMemory(thresholdPercent: number, timeoutMs: number): Promise<CheckResult> {
  const m = await withDeadline(si.mem(), timeoutMs, 'memory');
  const usage = m.total > 0 ? ((m.total - m.available) / m.total) * 100 : 0;
  return {
    status: usage >= thresholdPercent ? 'unhealthy' : 'healthy',
    message: `${round1(usage)}% used (threshold ${thresholdPercent}%)`,
    usage_percent: round1(usage),
    available_gb: round1(m.available / GIB),
    total_gb: round1(m.total / GIB),
    threshold_percent: thresholdPercent,
  };
}

/** The registered probe: `health_checks.memory`. */
export const memoryProbe: Probe = {
  ...probeKind('memory'),
  applies: () => true,
  run: ({ config, timeoutMs }) => probeMemory(config.health_checks.memory.threshold_percent, timeoutMs),
};
