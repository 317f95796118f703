/** Durations for people. */

/**
 * "42 s", "1 min 5 s", "1 h 2 min": a length of time for a log line or an alert.
 *
 * @example formatDuration(65_000) // '1 min 5 s'
 */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min${s % 60 ? ` ${s % 60} s` : ''}`;
  return `${Math.floor(m / 60)} h${m % 60 ? ` ${m % 60} min` : ''}`;
}
