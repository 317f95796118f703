/** Durations on the command line: `30m`, `24h`, `7d` (used by `incidents --since` and `replay --since`). */
import { CliError } from './output';

const DURATION = /^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$/;
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * Parses a duration into milliseconds (exit 2 on anything else).
 *
 * @example parseDuration('24h') // 86_400_000
 */
export function parseDuration(v: string): number {
  const m = DURATION.exec(v.trim());
  if (!m) throw new CliError(`not a duration: "${v}" (expected e.g. 30m, 24h, 7d)`, 2);
  return Number(m[1]) * (UNIT_MS[m[2] as string] as number);
}
