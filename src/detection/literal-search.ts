/**
 * Finds every occurrence of many literals in a buffer with few native passes, chunk-wide (never
 * per line).
 *
 * Two kinds of pass, chosen per literal by a cost model over the byte counts of a sample of the
 * actual log (see `plan`):
 *
 * - native: `buf.indexOf(window)` where `window` is ≤ 7 bytes of the literal starting at its
 *   rarest byte. Node memchr()s the window's first byte and compares the rest in C++, so only
 *   real window occurrences come back to JavaScript. Windows stay under 8 bytes on purpose:
 *   Node switches longer needles to Boyer-Moore-Horspool, measured 2× slower here than memchr on
 *   a rare byte.
 * - shared anchor: `buf.indexOf(byte)` on one byte that is rare in the sample and contained in
 *   several literals; at each occurrence the bytes around it select the literals to compare in
 *   place (usually none). One pass then covers many literals.
 *
 * Cost constants were measured on the benchmark VM (Node 20): a pass ≈ 0.07 ns/byte, a
 * native restart on a window's first byte ≈ 6 ns, a hit returned to JavaScript ≈ 90 ns (the bytes
 * around the anchor then select the literals to compare), a compare in JavaScript ≈ 10 ns.
 */

/** Cost of one pass, per byte searched (ns). */
const PASS_NS_PER_BYTE = 0.07;
/** Cost of one native restart (memchr found the window's first byte, the rest did not match). */
const RESTART_NS = 6;
/** Cost of one occurrence handed back to JavaScript, plus per literal verified there. */
const HIT_NS = 90;
const COMPARE_NS = 10;
/** Node uses Boyer-Moore-Horspool from 8 bytes on; stay below. */
const MAX_WINDOW = 7;

interface Anchored {
  bytes: Buffer;
  /** Offset of the anchor byte (or window) inside the literal. */
  at: number;
}

interface NativePass {
  window: Buffer;
  lit: Anchored;
  /** The window is the whole literal: no verification needed. */
  whole: boolean;
}

/** Searches one fixed set of literals; built by `createLiteralSearch`. */
export interface LiteralSearch {
  /** Calls onHit(position of the literal's first byte) for every occurrence in buf[start, end). */
  forEachHit(buf: Buffer, start: number, end: number, onHit: (pos: number) => void): void;
  /** The chosen passes, for tests and the benchmark notes: `byte:0x4b[3]` or `native:"\" 5"`. */
  describe(): string[];
}

/** Byte counts of a sample (strided on big samples), normalised to `per` bytes of input. */
export function byteCounts(sample: Buffer, per = sample.length): Float64Array {
  const freq = new Float64Array(256);
  const step = sample.length > 1 << 20 ? 4 : 1; // a strided histogram is plenty for ranking bytes
  for (let i = 0; i < sample.length; i += step) freq[sample[i] as number]! += step;
  const scale = per / Math.max(1, sample.length);
  for (let b = 0; b < 256; b++) freq[b] = ((freq[b] as number) + 0.5) * scale;
  return freq;
}

/** Counts of byte pairs (first << 8 | second) in the sample, normalised like `byteCounts`. */
function pairCounts(sample: Buffer): Float64Array {
  const pairs = new Float64Array(65536);
  const n = Math.min(sample.length, 1 << 20);
  for (let i = 0; i + 1 < n; i++) pairs[((sample[i] as number) << 8) | (sample[i + 1] as number)]! += 1;
  const scale = sample.length / Math.max(1, n);
  for (let k = 0; k < 65536; k++) if (pairs[k]! > 0) pairs[k] = (pairs[k] as number) * scale;
  return pairs;
}

/** Where a native window for `lit` should start: its rarest byte that leaves ≥ 2 bytes. */
function windowStart(lit: Buffer, counts: Float64Array): number {
  let best = 0;
  const last = Math.max(0, lit.length - 2);
  for (let i = 1; i <= last; i++) if ((counts[lit[i] as number] as number) < (counts[lit[best] as number] as number)) best = i;
  return best;
}

/**
 * Estimated cost (ns per `counts`' unit of input) of finding `lit` on its own with the cheaper of
 * a native window pass and a single-byte anchor pass. Used to choose between a pattern's
 * alternative literal clauses.
 */
export function literalSearchCost(lit: Buffer, counts: Float64Array, inputBytes: number): number {
  const s = windowStart(lit, counts);
  const native = inputBytes * PASS_NS_PER_BYTE + (counts[lit[s] as number] as number) * RESTART_NS;
  let rarest = Infinity;
  for (const b of lit) rarest = Math.min(rarest, counts[b] as number);
  const anchor = inputBytes * PASS_NS_PER_BYTE + rarest * (HIT_NS + COMPARE_NS);
  return Math.min(lit.length >= 2 ? native : Infinity, anchor);
}

/**
 * Where in `lit` to anchor on byte b: preferably an inside occurrence (bytes on both sides) whose
 * estimated surrounding trigram is rarest, since hits are filtered on the bytes around them.
 * Returns the offset and the estimated number of hits that reach a compare.
 */
function anchorAt(lit: Buffer, b: number, counts: Float64Array, pairs: Float64Array): { at: number; compares: number } {
  let best = { at: lit.indexOf(b), compares: Infinity };
  for (let i = lit.indexOf(b); i !== -1; i = lit.indexOf(b, i + 1)) {
    const before = i > 0 ? (pairs[((lit[i - 1] as number) << 8) | b] as number) : (counts[b] as number);
    const after = i + 1 < lit.length ? (pairs[(b << 8) | (lit[i + 1] as number)] as number) : (counts[b] as number);
    const compares = (before * after) / Math.max(1, counts[b] as number);
    if (compares < best.compares) best = { at: i, compares };
  }
  return best;
}

/**
 * Plans the passes: every literal starts with its own native window pass; then, while it saves
 * estimated time, the literals still searched natively that share one byte are moved to a shared
 * anchor pass on that byte (the move with the largest saving first).
 */
function plan(literals: Buffer[], counts: Float64Array, pairs: Float64Array, inputBytes: number): { groups: Array<[number, Anchored[]]>; natives: NativePass[] } {
  const pass = inputBytes * PASS_NS_PER_BYTE;
  const nativeCost = literals.map((lit) => {
    if (lit.length < 2) return Infinity;
    const s = windowStart(lit, counts);
    // Restarts on the window's first byte, plus (roughly) window hits returned to JavaScript.
    return pass + (counts[lit[s] as number] as number) * RESTART_NS + (pairs[((lit[s] as number) << 8) | (lit[s + 1] as number)] as number) * 0.1 * HIT_NS;
  });
  const native = new Set(literals.map((_, i) => i));
  const groups = new Map<number, Anchored[]>();
  for (;;) {
    let best = -1;
    let bestSaving = 0;
    for (let b = 0; b < 256; b++) {
      let saved = 0;
      let moved = 0;
      let compares = 0;
      for (const i of native) {
        const lit = literals[i] as Buffer;
        if (!lit.includes(b)) continue;
        [saved, moved] = [saved + (nativeCost[i] as number), moved + 1];
        compares += anchorAt(lit, b, counts, pairs).compares;
      }
      if (moved === 0) continue;
      const size = groups.get(b)?.length ?? 0;
      const added = (groups.has(b) ? 0 : pass + (counts[b] as number) * HIT_NS) + compares * COMPARE_NS;
      const saving = saved - added;
      if (saving > bestSaving || (size === 0 && saved === Infinity && bestSaving !== Infinity)) [best, bestSaving] = [b, saving];
    }
    if (best === -1) break;
    const group = groups.get(best) ?? [];
    for (const i of [...native]) {
      const lit = literals[i] as Buffer;
      if (!lit.includes(best)) continue;
      group.push({ bytes: lit, at: anchorAt(lit, best, counts, pairs).at });
      native.delete(i);
    }
    groups.set(best, group);
  }
  const natives = [...native].map((i): NativePass => {
    const lit = literals[i] as Buffer;
    const s = windowStart(lit, counts);
    const window = lit.subarray(s, s + MAX_WINDOW);
    return { window, lit: { bytes: lit, at: s }, whole: window.length === lit.length };
  });
  return { groups: [...groups], natives };
}

/**
 * True when `lit` occurs at buf[s]. A JavaScript loop, not `buf.compare`: that costs ~400 ns a
 * call in argument checks, and most calls here fail within a byte or two.
 */
function occursAt(buf: Buffer, s: number, lit: Buffer): boolean {
  for (let i = 0; i < lit.length; i++) if (buf[s + i] !== lit[i]) return false;
  return true;
}

/** Reports `a` if it occurs with its anchor at p, inside [start, end). */
function verify(buf: Buffer, start: number, end: number, p: number, a: Anchored, onHit: (pos: number) => void): void {
  const s = p - a.at;
  if (s >= start && s + a.bytes.length <= end && occursAt(buf, s, a.bytes)) onHit(s);
}

/**
 * Builds a searcher for literals (latin1 strings = raw bytes). `sample` (some real log bytes)
 * guides the plan; without it English-text-like defaults are assumed.
 *
 * @example createLiteralSearch(['ECONNREFUSED', 'ENOSPC'], sample).forEachHit(buf, 0, buf.length, (p) => hits.push(p))
 */
export function createLiteralSearch(literals: string[], sample?: Buffer): LiteralSearch {
  const bufs = [...new Set(literals)].filter((l) => l.length > 0).map((l) => Buffer.from(l, 'latin1'));
  const src = sample && sample.length > 0 ? sample : Buffer.from(DEFAULT_SAMPLE, 'latin1');
  const { groups, natives } = plan(bufs, byteCounts(src), pairCounts(src), src.length);
  const shared = groups.map(([byte, group]) => {
    // Literals keyed by the bytes around their anchor: (before << 8 | after), or one side at an edge.
    const around: Array<Anchored[] | undefined> = new Array<Anchored[] | undefined>(65536).fill(undefined);
    const byNext: Array<Anchored[] | undefined> = new Array<Anchored[] | undefined>(256).fill(undefined);
    const byPrev: Array<Anchored[] | undefined> = new Array<Anchored[] | undefined>(256).fill(undefined);
    const always: Anchored[] = [];
    for (const a of group) {
      const { bytes, at } = a;
      const inside = at > 0 && at + 1 < bytes.length;
      if (inside) (around[((bytes[at - 1] as number) << 8) | (bytes[at + 1] as number)] ??= []).push(a);
      else if (at + 1 < bytes.length) (byNext[bytes[at + 1] as number] ??= []).push(a);
      else if (at > 0) (byPrev[bytes[at - 1] as number] ??= []).push(a);
      else always.push(a);
    }
    const hasNext = byNext.some((l) => l !== undefined);
    const hasPrev = byPrev.some((l) => l !== undefined);
    return { byte, around, byNext: hasNext ? byNext : null, byPrev: hasPrev ? byPrev : null, always };
  });
  return {
    forEachHit(buf, start, end, onHit) {
      for (const n of natives) {
        const { bytes, at } = n.lit;
        const wl = n.window.length;
        let p = start + at;
        while ((p = buf.indexOf(n.window, p)) !== -1) {
          const s = p - at;
          const e = s + bytes.length;
          if (p + wl > end) break;
          if (n.whole) onHit(s);
          else if (e <= end && s >= start && occursAt(buf, s, bytes)) onHit(s);
          p++;
        }
      }
      for (const g of shared) {
        const { byte, around, byNext, byPrev, always } = g;
        let p = start;
        while ((p = buf.indexOf(byte, p)) !== -1 && p < end) {
          // The bytes around the anchor select the few literals worth comparing (most hits: none).
          const prev = p > 0 ? (buf[p - 1] as number) : 256;
          const next = buf[p + 1] as number;
          const list = around[(prev << 8) | next];
          if (list !== undefined) for (const a of list) verify(buf, start, end, p, a, onHit);
          if (byNext !== null) {
            const l = byNext[next];
            if (l !== undefined) for (const a of l) verify(buf, start, end, p, a, onHit);
          }
          if (byPrev !== null) {
            const l = byPrev[prev];
            if (l !== undefined) for (const a of l) verify(buf, start, end, p, a, onHit);
          }
          for (const a of always) verify(buf, start, end, p, a, onHit);
          p++;
        }
      }
    },
    describe() {
      return [
        ...natives.map((n) => `native:${JSON.stringify(n.window.toString('latin1'))}`),
        ...groups.map(([b, g]) => `byte:0x${b.toString(16).padStart(2, '0')}[${g.length}]`),
      ];
    },
  };
}

const DEFAULT_SAMPLE =
  '2025-01-18 10:00:00,123 INFO app.module: processed request id=42 error_count=0 duration_ms=12\n' +
  '127.0.0.1 - - [18/Jan/2025:10:00:00 +0000] "GET /api/items/42 HTTP/1.1" 200 512 "-" "Mozilla/5.0 (X11; Linux x86_64)"\n';
