/** Aggregates matched events into one `Detection` per (pattern, file). */
import type { ErrorPattern } from '../config/schema';
import type { Detection, DetectionSource } from './types';

/** Samples are cut to this many characters. */
export const SAMPLE_CHARS = 300;

/**
 * Makes hostile log text safe to print and store: control characters (ANSI escapes included)
 * become visible `\xHH` escapes, and the text is cut to `SAMPLE_CHARS`.
 *
 * @example sanitizeSample('\x1b[35m500\x1b[0m') // '\\x1b[35m500\\x1b[0m'
 */
export function sanitizeSample(text: string): string {
  // eslint-disable-next-line no-control-regex
  const safe = text.replace(/[\x00-\x08\x0a-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return safe.length > SAMPLE_CHARS ? safe.slice(0, SAMPLE_CHARS - 1) + '…' : safe;
}

/** Collects events; `list()` gives the detections in first-seen order. */
export class DetectionCollector {
  private readonly byKey = new Map<string, Detection>();

  /** Records one event of `pattern` at 1-based `line` of `file`. */
  add(pattern: Pick<ErrorPattern, 'id' | 'name' | 'severity'>, source: DetectionSource, file: string | undefined, line: number | undefined, text: string): void {
    const key = `${pattern.id}\0${file ?? ''}`;
    const sample = sanitizeSample(text);
    const d = this.byKey.get(key);
    if (!d) {
      this.byKey.set(key, {
        id: pattern.id,
        name: pattern.name,
        severity: pattern.severity,
        count: 1,
        source,
        ...(file !== undefined ? { file } : {}),
        ...(line !== undefined ? { first_line: line, last_line: line } : {}),
        samples: [sample],
      });
      return;
    }
    d.count++;
    if (line !== undefined) d.last_line = line;
    d.samples = [d.samples[0] as string, sample];
  }

  /** Merges detections gathered elsewhere (e.g. a rotated file's tail). */
  addAll(list: Detection[]): void {
    for (const d of list) this.byKey.set(`${d.id}\0${d.file ?? ''}`, d);
  }

  /**
   * Adds the events of `d`, collected by a scan of a later part of the same file whose line 1 is
   * line `lineOffset + 1` here, exactly as if they had been `add`ed one by one after those
   * collected so far: counts add, the first line and sample stay, the last ones are `d`'s.
   */
  merge(d: Detection, lineOffset: number): void {
    const key = `${d.id}\0${d.file ?? ''}`;
    const cur = this.byKey.get(key);
    const last = d.samples[d.samples.length - 1] as string;
    if (!cur) {
      this.byKey.set(key, {
        ...d,
        ...(d.first_line !== undefined ? { first_line: d.first_line + lineOffset } : {}),
        ...(d.last_line !== undefined ? { last_line: d.last_line + lineOffset } : {}),
        samples: [...d.samples],
      });
      return;
    }
    cur.count += d.count;
    if (d.last_line !== undefined) cur.last_line = d.last_line + lineOffset;
    cur.samples = [cur.samples[0] as string, last];
  }

  /** The detections collected so far. */
  list(): Detection[] {
    return [...this.byKey.values()];
  }
}
