/**
 * log_analysis: counts each error pattern's matching lines over the last `window_minutes` of the
 * watched logs (only the last TAIL_BYTES of each file are read). Lines without their own
 * timestamp (tracebacks) take the previous line's; lines before any timestamp are "undated" and
 * counted, since their age is unknown. Each line counts once, under the first pattern (config
 * order) that matches it, as in detection. Informational: changes nothing.
 */
import { stat } from 'node:fs/promises';
import { openForReading } from '../fs-safe/read';
import type { ActionSpec, Config } from '../config/schema';
import type { ActionDefinition } from './types';
import { compileMatcher } from '../detection/matcher';
import { OwnFiles } from '../detection/own-files';
import { filesOf } from '../detection/glob';

type Spec = Extract<ActionSpec, { type: 'log_analysis' }>;

/** Bytes read from the end of each log file. */
export const TAIL_BYTES = 4 * 1024 * 1024;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * The time at the start of a log line, or null. Knows `2025-12-28 10:30:15` / ISO 8601 (local
 * time unless a zone is given) and the access-log form `[28/Dec/2025:10:30:15 +0000]`.
 */
export function parseLineTime(line: string): Date | null {
  const iso = /^\[?(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:[.,]\d+)?(Z|[+-]\d{2}:?\d{2})?/.exec(line);
  if (iso) {
    const zone = iso[3] ? (iso[3] === 'Z' ? 'Z' : iso[3].replace(/^([+-]\d{2})(\d{2})$/, '$1:$2')) : '';
    const d = new Date(`${iso[1]}T${iso[2]}${zone}`);
    return Number.isNaN(d.getTime()) ? null : d;
  }
  const clf = /\[(\d{2})\/([A-Z][a-z]{2})\/(\d{4}):(\d{2}:\d{2}:\d{2}) ([+-]\d{2})(\d{2})\]/.exec(line);
  if (clf) {
    const month = MONTHS.indexOf(clf[2] ?? '') + 1;
    if (month === 0) return null;
    const d = new Date(`${clf[3]}-${String(month).padStart(2, '0')}-${clf[1]}T${clf[4]}${clf[5]}:${clf[6]}`);
    return Number.isNaN(d.getTime()) ? null : d;
  }
  return null;
}

/** The complete lines among the last `max` bytes of `file` ([] when it is missing). */
async function tailLines(file: string, max: number): Promise<string[]> {
  const opened = await openForReading(file).catch(() => undefined);
  if (!opened) return [];
  const { fh, stat: st } = opened;
  const start = Math.max(0, st.size - max);
  try {
    const buf = Buffer.alloc(st.size - start);
    const { bytesRead } = await fh.read(buf, 0, buf.length, start);
    const lines = buf.subarray(0, bytesRead).toString('utf8').split(/\r?\n/);
    if (start > 0) lines.shift(); // a partial first line
    return lines;
  } finally {
    await fh.close();
  }
}

/** Per-pattern counts of the lines of `files` newer than `since` (or undated). */
export async function countPatterns(
  config: Pick<Config, 'error_patterns'>,
  files: string[],
  since: Date,
  tailBytes = TAIL_BYTES,
): Promise<{ counts: Record<string, number>; lines: number; undated: number; files: string[] }> {
  // The detector's matcher, so a line is counted under the same (first, config-order) class.
  const matcher = compileMatcher(config.error_patterns, { source: 'log' });
  const counts: Record<string, number> = Object.fromEntries(matcher.patterns.map((c) => [c.pattern.id, 0]));
  let lines = 0;
  let undated = 0;
  const read: string[] = [];
  for (const file of files) {
    const text = await tailLines(file, tailBytes);
    if (text.length) read.push(file);
    let last: Date | null = null;
    for (const line of text) {
      if (!line) continue;
      last = parseLineTime(line) ?? last;
      if (last && last < since) continue;
      if (!last) undated++;
      lines++;
      const hit = matcher.classifyLine(line);
      if (hit) counts[hit.id] = (counts[hit.id] ?? 0) + 1;
    }
  }
  return { counts, lines, undated, files: read };
}

export const logAnalysis: ActionDefinition<Spec> = {
  type: 'log_analysis',
  mutates: false,
  async plan(ctx, spec) {
    return { steps: [`count error patterns in the last ${spec.window_minutes} min of ${ctx.config.watch.logs.join(', ') || '(no watched logs)'}`], targets: [] };
  },
  async run(ctx, spec) {
    // autofix's own logs are never input: counting its own lines would report its own reports.
    const own = OwnFiles.of(ctx.config);
    const files: string[] = [];
    for (const f of ctx.config.watch.logs.flatMap(filesOf)) if (!own.reason(f, await stat(f).catch(() => undefined))) files.push(f);
    const since = new Date(Date.now() - spec.window_minutes * 60_000);
    const r = await countPatterns(ctx.config, files, since);
    const hits = Object.entries(r.counts).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
    const summary = `log analysis (${spec.window_minutes} min, ${r.lines} lines in ${r.files.length} file(s)): ${hits.map(([id, n]) => `${id}=${n}`).join(', ') || 'no errors'}`;
    ctx.log('INFO', summary);
    return { type: 'log_analysis', summary, changed: [], details: { window_minutes: spec.window_minutes, ...r } };
  },
};
