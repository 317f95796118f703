/**
 * System metrics for the report (the seed's `metrics`: CPU, memory, disk, network, processes),
 * via systeminformation. Each part runs concurrently under its own deadline; a part that fails
 * or is slow is `null` rather than holding up the health report.
 */
import si from 'systeminformation';
import { withDeadline } from './deadline';

const GIB = 1024 ** 3;
const round1 = (n: number) => Math.round(n * 10) / 10;

/** The `metrics` object of a health report. Plain JSON. */
export interface SystemMetrics {
  cpu: { usage_percent: number; load_average: number } | null;
  memory: { usage_percent: number; total_gb: number; available_gb: number; swap_used_gb: number } | null;
  disk: Array<{
    mount: string;
    fs: string;
    type: string;
    usage_percent: number;
    size_gb: number;
    free_gb: number;
  }> | null;
  network: {
    interfaces: Array<{
      iface: string;
      rx_bytes: number;
      tx_bytes: number;
      rx_errors: number;
      tx_errors: number;
    }>;
  } | null;
  processes: { count: number; running: number; blocked: number; sleeping: number } | null;
}

/** Runs one part under a deadline; null on failure (metrics are informative, never fatal). */
async function part<T>(work: () => Promise<T>, timeoutMs: number, what: string): Promise<T | null> {
  try {
    return await withDeadline(work(), timeoutMs, what);
  } catch {
    return null;
  }
}

/**
 * Collects CPU, memory, disk, network and process metrics. About half a second: CPU usage is
 * sampled over an interval by systeminformation on its first call.
 *
 * @example
 *   const m = await collectMetrics(); // { cpu: { usage_percent: 25.3, ... }, memory: { usage_percent: 60.5, ... }, ... }
 */
export async function collectMetrics(timeoutMs = 3000): Promise<SystemMetrics> {
  const [cpu, memory, disk, network, processes] = await Promise.all([
    part(
      async () => {
        const l = await si.currentLoad();
        return { usage_percent: round1(l.currentLoad), load_average: l.avgLoad };
      },
      timeoutMs,
      'cpu',
    ),
    part(
      async () => {
        const m = await si.mem();
        return {
          usage_percent: m.total > 0 ? round1(((m.total - m.available) / m.total) * 100) : 0,
          total_gb: round1(m.total / GIB),
          available_gb: round1(m.available / GIB),
          swap_used_gb: round1(m.swapused / GIB),
        };
      },
      timeoutMs,
      'memory',
    ),
    part(
      async () =>
        (await si.fsSize()).map((f) => ({
          mount: f.mount,
          fs: f.fs,
          type: f.type,
          usage_percent: round1(f.use),
          size_gb: round1(f.size / GIB),
          free_gb: round1(f.available / GIB),
        })),
      timeoutMs,
      'disk',
    ),
    part(
      async () => ({
        interfaces: (await si.networkStats('*')).map((n) => ({
          iface: n.iface,
          rx_bytes: n.rx_bytes,
          tx_bytes: n.tx_bytes,
          rx_errors: n.rx_errors,
          tx_errors: n.tx_errors,
        })),
      }),
      timeoutMs,
      'network',
    ),
    part(
      async () => {
        const p = await si.processes();
        return { count: p.all, running: p.running, blocked: p.blocked, sleeping: p.sleeping };
      },
      timeoutMs,
      'processes',
    ),
  ]);
  return { cpu, memory, disk, network, processes };
}
