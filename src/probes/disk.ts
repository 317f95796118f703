/** `disk_space`: usage of each configured path's file system, against `threshold_percent`. */
import { statfs } from 'node:fs/promises';
import type { CheckResult, CheckStatus, Probe } from './types';
import { errorText, worstStatus } from './types';
import { withDeadline } from './deadline';
import { probeKind } from '../policy/checks';

const GIB = 1024 ** 3;
const round1 = (n: number) => Math.round(n * 10) / 10;

/** Usage of one path's file system. */
export interface DiskUsage {
  status: CheckStatus;
  usage_percent?: number;
  free_gb?: number;
  total_gb?: number;
  message: string;
}

/**
 * Measures the file system holding `path` as `df` does: used / (used + available to
 * unprivileged users), so the root-reserved blocks count as unavailable.
 *
 * @example
 *   await measureDisk('/', 90); // { status: 'healthy', usage_percent: 45.2, free_gb: 250.5, ... }
 */
export async function measureDisk(path: string, thresholdPercent: number): Promise<DiskUsage> {
  try {
    const s = await statfs(path);
    const used = (s.blocks - s.bfree) * s.bsize;
    const avail = s.bavail * s.bsize;
    const usage = used + avail > 0 ? (used / (used + avail)) * 100 : 0;
    const status: CheckStatus = usage >= thresholdPercent ? 'unhealthy' : 'healthy';
    return {
      status,
      usage_percent: round1(usage),
      free_gb: round1(avail / GIB),
      total_gb: round1((s.blocks * s.bsize) / GIB),
      message: `${round1(usage)}% used (threshold ${thresholdPercent}%)`,
    };
  } catch (err) {
    // A missing path is a config problem, not a full disk: report it without guessing.
    return { status: 'unknown', message: `cannot stat ${path}: ${errorText(err)}` };
  }
}

/**
 * Checks every path; the top-level `usage_percent`/`free_gb` are those of the fullest one (the
 * seed's shape), per-path details are under `paths`. Unhealthy when any path is over threshold.
 */
export async function probeDisk(
  paths: string[],
  thresholdPercent: number,
  timeoutMs: number,
): Promise<CheckResult> {
  // statfs on a dead network mount can block; the deadline keeps the cycle going.
  const results = await Promise.all(
    paths.map(async (p) => {
      try {
        return [p, await withDeadline(measureDisk(p, thresholdPercent), timeoutMs, `statfs ${p}`)] as const;
      } catch (err) {
        return [p, { status: 'unknown', message: errorText(err) } satisfies DiskUsage] as const;
      }
    }),
  );
  const measured = results.filter(([, r]) => r.usage_percent !== undefined);
  const fullest = measured.sort(([, a], [, b]) => (b.usage_percent ?? 0) - (a.usage_percent ?? 0))[0];
  const status = worstStatus(results.map(([, r]) => r.status));
  const over = results
    .filter(([, r]) => r.status === 'unhealthy')
    .map(([p, r]) => `${p} ${r.usage_percent}%`);
  const message =
    over.length > 0
      ? `over ${thresholdPercent}%: ${over.join(', ')}`
      : results.map(([p, r]) => `${p}: ${r.message}`).join('; ') || 'no paths configured';
  return {
    status,
    message,
    usage_percent: fullest?.[1].usage_percent,
    free_gb: fullest?.[1].free_gb,
    threshold_percent: thresholdPercent,
    paths: Object.fromEntries(results),
  };
}

/** The registered probe: `health_checks.disk`. */
export const diskProbe: Probe = {
  ...probeKind('disk'),
  applies: (c) => c.health_checks.disk.paths.length > 0,
  run: ({ config, timeoutMs }) =>
    probeDisk(config.health_checks.disk.paths, config.health_checks.disk.threshold_percent, timeoutMs),
};
