/**
 * Property: whenever a pattern's regex matches a line, the literal prefilter lets that line
 * through. Patterns are generated over every syntax class the analysis must understand (control
 * escapes, \x, \u, \u{…}, octal, classes and ranges, dot, \d\w\s, \p{…}, named and plain groups,
 * lookarounds, backreferences, anchors, quantifiers, alternation) under random i/m/s/u flags;
 * each generated piece also yields a string it should match, so lines that match are common.
 * Lines get random prefixes and suffixes (case variants, U+212A KELVIN SIGN, U+017F LONG S,
 * astral characters, invalid UTF-8). The scan with the prefilter must report exactly what the
 * scan without it reports (it can only ever drop lines, so equal counts mean none was lost).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { ErrorPattern } from '../../src/config/schema';
import { compileMatcher } from '../../src/detection/matcher';
import { DetectionCollector } from '../../src/detection/collector';
import { LineClassifier } from '../../src/detection/line-classifier';

/** A piece of regex source and a string it should match (lookarounds and backreferences may not). */
interface Piece {
  src: string;
  sample: string;
  /** Only valid with the u flag / only valid without it. */
  u?: boolean;
}

const piece = (src: string, sample: string, u?: boolean): Piece => ({ src, sample, ...(u === undefined ? {} : { u }) });

const CHARS = ['a', 'b', 'c', 'k', 'K', 's', 'S', 'x', 'é', 'É', ' ', ':', '-', '1', '0', '\u00a0', '😀', '\u212a', '\u017f'];
const charPiece = fc.constantFrom(...CHARS).map((c) => piece(c, c));
const escapePiece = fc.constantFrom(
  piece('\\cI', '\t'),
  piece('\\cj', '\n'),
  piece('\\ca', '\x01'),
  piece('\\x41', 'A'),
  piece('\\x6b', 'k'),
  piece('\\u0062', 'b'),
  piece('\\u00e9', 'é'),
  piece('\\uD83D\\uDE00', '😀'),
  piece('\\u{a0}', '\u00a0', true),
  piece('\\u{1F600}', '😀', true),
  piece('\\u{6B}', 'k', true),
  piece('\\101', 'A', false),
  piece('\\0', '\0'),
  piece('\\t', '\t'),
  piece('\\.', '.'),
  piece('\\d', '7'),
  piece('\\w', 'q'),
  piece('\\s', ' '),
  piece('\\S', 'z'),
  piece('.', 'y'),
  piece('\\p{L}', 'é', true),
  piece('\\P{L}', '1', true),
  piece('\\b', ''),
  piece('\\B', ''),
  piece('^', ''),
  piece('$', ''),
);
const classPiece = fc.constantFrom(
  piece('[abc]', 'b'),
  piece('[a-c]', 'c'),
  piece('[^a]', 'b'),
  piece('[\\d.]', '.'),
  piece('[kK]', 'K'),
  piece('[sS]', 's'),
  piece('[é😀]', 'é', true),
  piece('[\\x41-\\x43]', 'B'),
  piece('[\\cI ]', '\t'),
  piece('[\\u{1F600}x]', '😀', true),
  piece('[^]', 'q'),
  piece('[\\b]', '\b'),
);

const join = (ps: Piece[]): Piece => {
  const u = ps.find((p) => p.u !== undefined)?.u;
  if (ps.some((p) => p.u !== undefined && p.u !== u)) return piece(ps.map((p) => p.src).join(''), '', true); // mixed: filtered out later
  return piece(ps.map((p) => p.src).join(''), ps.map((p) => p.sample).join(''), u);
};

const quantify = (p: Piece, q: string, times: number): Piece => piece(`(?:${p.src})${q}`, p.sample.repeat(times), p.u);
const quantifier = fc.constantFrom<[string, number]>(['?', 1], ['?', 0], ['*', 0], ['*', 2], ['+', 1], ['+', 3], ['{2}', 2], ['{1,3}', 2], ['{0,2}?', 1], ['+?', 1]);

const { pieceArb } = fc.letrec<{ pieceArb: Piece; atom: Piece; seq: Piece; alt: Piece; group: Piece }>((tie) => ({
  atom: fc.oneof({ weight: 4, arbitrary: charPiece }, { weight: 3, arbitrary: escapePiece }, { weight: 2, arbitrary: classPiece }, { weight: 2, arbitrary: tie('group') }),
  group: fc.oneof(
    tie('alt').map((p) => piece(`(${p.src})`, p.sample, p.u)),
    tie('alt').map((p) => piece(`(?:${p.src})`, p.sample, p.u)),
    tie('alt').map((p) => piece(`(?<g${p.src.length}>${p.src})`, p.sample, p.u)),
    tie('alt').map((p) => piece(`(?=${p.src})`, '', p.u)),
    tie('alt').map((p) => piece(`(?!${p.src})`, '', p.u)),
    tie('alt').map((p) => piece(`(?<=${p.src})`, '', p.u)),
    tie('alt').map((p) => piece(`(?<!${p.src})`, '', p.u)),
    tie('alt').map((p) => piece(`(${p.src})\\1`, p.sample + p.sample, p.u)),
    fc.tuple(tie('atom'), quantifier).map(([p, [q, n]]) => quantify(p, q, n)),
  ),
  seq: fc.array(tie('atom'), { minLength: 1, maxLength: 6 }).map(join),
  alt: fc.array(tie('seq'), { minLength: 1, maxLength: 3 }).chain((bs) =>
    fc.nat(bs.length - 1).map((k) => {
      const u = bs.find((b) => b.u !== undefined)?.u;
      const mixed = bs.some((b) => b.u !== undefined && b.u !== u);
      return piece(bs.map((b) => b.src).join('|'), mixed ? '' : (bs[k] as Piece).sample, mixed ? true : u);
    }),
  ),
  pieceArb: fc.oneof({ weight: 3, arbitrary: tie('seq') }, { weight: 1, arbitrary: tie('alt') }),
}));

/** Text around the sample: case variants and characters that fold onto ASCII letters. */
const noise = fc.array(fc.constantFrom('a', 'B', 'K', 'k', '\u212a', 's', 'S', '\u017f', 'É', '😀', ' ', '1', 'ERROR '), { maxLength: 4 }).map((a) => a.join(''));
const caseVariant = (s: string, flips: number[]): string =>
  [...s].map((ch, i) => (flips.includes(i % 8) ? (ch === ch.toLowerCase() ? ch.toUpperCase() : ch.toLowerCase()) : ch)).join('');

const flagsArb = fc.subarray(['i', 'm', 's', 'u']).map((f) => f.join(''));

/** Detections of `pattern` over `buf` (complete lines), with or without the prefilter. */
function scan(pattern: ErrorPattern, buf: Buffer, prefilter: boolean): string {
  const matcher = compileMatcher([pattern], { prefilter });
  matcher.calibrate(buf);
  const collector = new DetectionCollector();
  const classifier = new LineClassifier(matcher, collector, 'prop.log', 64 * 1024, 0);
  classifier.processRegion(buf, 0, buf.length, 0);
  classifier.finish(true);
  return JSON.stringify(collector.list().map((d) => [d.count, d.first_line, d.last_line]));
}

test('property: a line the regex matches always passes the literal prefilter', () => {
  fc.assert(
    fc.property(
      pieceArb,
      flagsArb,
      fc.array(fc.tuple(noise, noise, fc.array(fc.nat(7), { maxLength: 3 }), fc.boolean()), { minLength: 1, maxLength: 6 }),
      (p, flags, lines) => {
        if (p.u !== undefined && p.u !== flags.includes('u')) return; // piece needs (or forbids) the u flag
        try {
          new RegExp(p.src, flags);
        } catch {
          return;
        }
        const pattern: ErrorPattern = { id: 'p', name: 'p', pattern: p.src, flags, severity: 'error', auto_fix: false, actions: [], sources: ['log'], health_checks: [] };
        const text = lines.map(([pre, post, flips]) => pre + caseVariant(p.sample, flips) + post);
        // Some lines carry invalid UTF-8 after the text (decoded as U+FFFD).
        const buf = Buffer.concat(text.map((t, k) => Buffer.concat([Buffer.from(t.replace(/\n/g, ' ')), lines[k]?.[3] ? Buffer.from([0xff, 0xc3]) : Buffer.alloc(0), Buffer.from('\n')])));
        assert.equal(scan(pattern, buf, true), scan(pattern, buf, false), `/${p.src}/${flags}`);
      },
    ),
    { numRuns: 3000, seed: 20251201 },
  );
});

test('the issue-15 examples: \\cI and \\u{a0} give their real characters as literals', () => {
  const mk = (pattern: string, flags: string): ErrorPattern => ({ id: 'p', name: 'p', pattern, flags, severity: 'error', auto_fix: false, actions: [], sources: ['log'], health_checks: [] });
  for (const [pattern, flags, line] of [
    ['a\\cIbcdef', '', 'x a\tbcdef y'],
    ['disk\\u{a0}full', 'u', 'ERROR disk\u00a0full on /'],
  ] as const) {
    const buf = Buffer.from(`${line}\n`);
    assert.equal(scan(mk(pattern, flags), buf, true), JSON.stringify([[1, 1, 1]]), pattern);
  }
});
