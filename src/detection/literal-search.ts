/**
 * Finds every occurrence of many literals in a buffer with few native passes.
 *
 * One `Buffer.indexOf(literal)` pass per literal costs ~70 passes for the default config. Instead
 * each literal is anchored on one of its bytes; anchors are chosen (greedy set cover over the
 * byte frequencies of a sample of the actual log) so that a few RARE bytes cover all literals.
 * Each anchor byte is found with `indexOf(byte)` (memchr speed when the byte is rare) and the
 * literals anchored on it are verified in place.
 */

interface Anchored {
  bytes: Buffer;
  /** Offset of the anchor byte inside the literal. */
  at: number;
}

/** Searches one fixed set of literals; built by `createLiteralSearch`. */
export interface LiteralSearch {
  /** Calls onHit(position of the literal's first byte) for every occurrence in buf[start, end). */
  forEachHit(buf: Buffer, start: number, end: number, onHit: (pos: number) => void): void;
}

function byteFrequencies(sample: Buffer): Float64Array {
  const freq = new Float64Array(256);
  const step = sample.length > 1 << 20 ? 4 : 1; // a strided histogram is plenty for ranking bytes
  for (let i = 0; i < sample.length; i += step) freq[sample[i] as number]! += step;
  for (let b = 0; b < 256; b++) freq[b] = ((freq[b] as number) + 1) / (sample.length + 256);
  return freq;
}

/** Greedy set cover: pick anchor bytes with the best (literals covered) / (scan + verify cost). */
function chooseAnchors(literals: Buffer[], freq: Float64Array): Map<number, Anchored[]> {
  const PASS = 0.0005; // cost of one pass, in "hits per byte" units
  const groups = new Map<number, Anchored[]>();
  let left = literals.map((_, i) => i);
  while (left.length > 0) {
    let best = -1;
    let bestRatio = -1;
    for (let b = 0; b < 256; b++) {
      const covered = left.filter((i) => (literals[i] as Buffer).includes(b)).length;
      if (covered === 0) continue;
      // Each anchor hit costs a native call (~150 ns) plus a cheap first/last byte check per literal.
      const ratio = covered / (PASS + (freq[b] as number) * (1 + covered / 16));
      if (ratio > bestRatio) [best, bestRatio] = [b, ratio];
    }
    const group: Anchored[] = groups.get(best) ?? [];
    left = left.filter((i) => {
      const lit = literals[i] as Buffer;
      if (!lit.includes(best)) return true;
      group.push({ bytes: lit, at: lit.indexOf(best) });
      return false;
    });
    groups.set(best, group);
  }
  return groups;
}

/**
 * Builds a searcher for literals (latin1 strings = raw bytes). `sample` (some real log bytes)
 * guides the choice of anchor bytes; without it English-text-like defaults are assumed.
 *
 * @example createLiteralSearch(['ECONNREFUSED', 'ENOSPC'], sample).forEachHit(buf, 0, buf.length, (p) => hits.push(p))
 */
export function createLiteralSearch(literals: string[], sample?: Buffer): LiteralSearch {
  const bufs = [...new Set(literals)].filter((l) => l.length > 0).map((l) => Buffer.from(l, 'latin1'));
  const freq = byteFrequencies(sample && sample.length > 0 ? sample : Buffer.from(DEFAULT_SAMPLE, 'latin1'));
  const groups = [...chooseAnchors(bufs, freq)];
  return {
    forEachHit(buf, start, end, onHit) {
      for (const [byte, group] of groups) {
        let p = start;
        while ((p = buf.indexOf(byte, p)) !== -1 && p < end) {
          for (const g of group) {
            const s = p - g.at;
            const e = s + g.bytes.length;
            // First and last byte in JS before the native compare: most anchor hits fail here.
            if (s < start || e > end || buf[s] !== g.bytes[0] || buf[e - 1] !== g.bytes[g.bytes.length - 1]) continue;
            if (buf.compare(g.bytes, 0, g.bytes.length, s, e) === 0) onHit(s);
          }
          p++;
        }
      }
    },
  };
}

const DEFAULT_SAMPLE =
  '2025-01-18 10:00:00,123 INFO app.module: processed request id=42 error_count=0 duration_ms=12\n' +
  '127.0.0.1 - - [18/Jan/2025:10:00:00 +0000] "GET /api/items/42 HTTP/1.1" 200 512 "-" "Mozilla/5.0 (X11; Linux x86_64)"\n';
