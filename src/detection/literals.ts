/**
 * Derives, from a regex, the literals every match must contain: a list of clauses, each clause a
 * list of strings of which at least one occurs in any matching line ("AND of ORs"). A line that
 * fails one clause cannot match, so a fast substring search can skip it.
 *
 * The analysis walks regexpp's syntax tree (regex-syntax.ts), so every escape means what the
 * engine makes of it (`\cI` is a tab, `\u{a0}` with the `u` flag is U+00A0, `\012` is a newline,
 * `\k<n>` a backreference). It is conservative: whatever it does not enumerate (classes of more
 * than a few characters, `.`, `\d`, `\p{…}`, backreferences) matches "something unknown", and
 * zero-width assertions (`^`, `\b`, lookarounds) match "nothing", so the literals it derives are
 * always present in a match; whenever it is unsure it requires less, and an empty list means
 * "no prefilter".
 */
import type { AST } from '@eslint-community/regexpp';
import { parseRegex } from './regex-syntax';

/** Literal requirement of one regex: clauses of alternative literals; `caseless` = search lower-cased text. */
export interface LiteralRequirement {
  clauses: string[][];
  caseless: boolean;
}

/** Finite sets of exact strings stay small, or the cross products explode. */
const MAX_SET = 16;
/** Shorter literals hit too often to be worth a search pass. */
const MIN_LITERAL = 3;

interface Info {
  /** Every string the node can match, when that is a small finite set. */
  set: string[] | null;
  clauses: string[][];
}

/** How characters compare: `caseless` with the `i` flag, `unicode` with `u` or `v`. */
interface Mode {
  caseless: boolean;
  unicode: boolean;
}

const UNKNOWN: Info = { set: null, clauses: [] };
const EMPTY: Info = { set: [''], clauses: [] };

const cross = (a: string[], b: string[]): string[] => [...new Set(a.flatMap((x) => b.map((y) => x + y)))];
/** Static quality of a clause: its shortest literal, minus a little per alternative. */
const score = (clause: string[]): number => Math.min(...clause.map((s) => s.length)) - clause.length / 4;

/**
 * True when `s` can be searched as the UTF-8 bytes of a line: the scanner decodes lines as UTF-8,
 * so a lone surrogate never occurs in a line, and U+FFFD stands for invalid bytes in the file,
 * not for its own three bytes.
 */
const searchable = (s: string): boolean => !s.includes('\uFFFD') && Buffer.from(s, 'utf8').toString('utf8') === s;
const usable = (clause: string[]): boolean => clause.length > 0 && clause.every((s) => s.length >= MIN_LITERAL && searchable(s));

/**
 * The text one character contributes to a literal, or null when it cannot be searched exactly.
 * Caseless literals are searched in text lower-cased byte by byte (latin1), which is exact for
 * ASCII only: without `u`, an ASCII letter matches only its ASCII case pair (the spec's
 * Canonicalize never maps a non-ASCII character to ASCII); with `u`, simple case folding also
 * maps U+212A KELVIN SIGN to "k" and U+017F LONG S to "s".
 */
function charText(value: number, mode: Mode): string | null {
  const s = String.fromCodePoint(value);
  if (!mode.caseless) return s;
  if (value >= 0x80) return null;
  if (mode.unicode && /[ks]/i.test(s)) return null;
  return s.toLowerCase();
}

/** The characters a class can match, when they are few and all searchable. */
function classSet(node: AST.CharacterClass, mode: Mode): string[] | null {
  if (node.negate || node.unicodeSets) return null;
  const out = new Set<string>();
  for (const e of node.elements) {
    let values: number[];
    if (e.type === 'Character') values = [e.value];
    else if (e.type === 'CharacterClassRange' && e.max.value - e.min.value < MAX_SET) {
      values = Array.from({ length: e.max.value - e.min.value + 1 }, (_, k) => e.min.value + k);
    } else return null;
    for (const v of values) {
      const t = charText(v, mode);
      if (t === null) return null;
      out.add(t);
    }
    if (out.size > MAX_SET) return null;
  }
  return out.size > 0 ? [...out] : null;
}

function analyze(node: AST.Node, mode: Mode): Info {
  switch (node.type) {
    case 'Character': {
      const t = charText(node.value, mode);
      return t === null ? UNKNOWN : { set: [t], clauses: [] };
    }
    case 'CharacterClass': {
      const set = classSet(node, mode);
      return set ? { set, clauses: [] } : UNKNOWN;
    }
    case 'Assertion':
      return EMPTY; // zero-width (edges, \b, lookarounds): neither adds nor breaks a literal run
    case 'Group':
      // A group that turns the `i` flag on cannot be searched case-sensitively.
      if (node.modifiers?.add.ignoreCase && !mode.caseless) return UNKNOWN;
      return analyzeAlt(node.alternatives.map((a) => analyze(a, mode)));
    case 'CapturingGroup':
      return analyzeAlt(node.alternatives.map((a) => analyze(a, mode)));
    case 'Alternative':
      return analyzeSeq(node.elements, mode);
    case 'Quantifier':
      return analyzeQuant(node, mode);
    default:
      return UNKNOWN; // CharacterSet (., \d, \p{…}), Backreference, v-flag class expressions
  }
}

function analyzeQuant(node: AST.Quantifier, mode: Mode): Info {
  const body = analyze(node.element, mode);
  if (node.min === 0) {
    if (node.max === 1 && body.set && body.set.length < MAX_SET) return { set: [...new Set([...body.set, ''])], clauses: [] };
    return UNKNOWN;
  }
  const clauses = [...body.clauses, ...(body.set ? [body.set] : [])];
  if (body.set && node.max === node.min && node.min <= 8) {
    let set = [''];
    for (let k = 0; k < node.min && set.length <= MAX_SET; k++) set = cross(set, body.set);
    if (set.length <= MAX_SET) return { set, clauses: [] };
  }
  return { set: null, clauses };
}

function analyzeSeq(items: AST.Element[], mode: Mode): Info {
  const clauses: string[][] = [];
  let run: string[] = [''];
  let exact = true;
  const flush = () => {
    if (!run.includes('')) clauses.push(run);
    run = [''];
  };
  for (const item of items) {
    const info = analyze(item, mode);
    if (info.set && run.length * info.set.length <= MAX_SET) {
      run = cross(run, info.set);
      continue;
    }
    exact = false;
    flush();
    if (info.set) run = info.set;
    else clauses.push(...info.clauses);
  }
  const set = exact ? run : null;
  flush();
  return { set, clauses };
}

function analyzeAlt(branches: Info[]): Info {
  if (branches.length === 1) return branches[0] as Info;
  if (branches.every((b) => b.set)) {
    const set = [...new Set(branches.flatMap((b) => b.set as string[]))];
    if (set.length <= MAX_SET) return { set, clauses: [] };
  }
  // Each branch's requirement: its clauses plus its own exact set.
  const perBranch = branches.map((b) => [...b.clauses, ...(b.set && !b.set.includes('') ? [b.set] : [])].filter(usable));
  if (perBranch.some((c) => c.length === 0)) return UNKNOWN;
  const product = perBranch.reduce((n, c) => n * c.length, 1);
  if (product > 64) {
    // Too many combinations: one clause, the union of each branch's statically best clause.
    const best = perBranch.map((c) => [...c].sort((a, b) => score(b) - score(a))[0] as string[]);
    return { set: null, clauses: [[...new Set(best.flat())]] };
  }
  let combos: string[][] = [[]];
  for (const c of perBranch) combos = combos.flatMap((acc) => c.map((clause) => [...new Set([...acc, ...clause])]));
  return { set: null, clauses: combos };
}

/**
 * The literal clauses a regex requires, usable ones only (every literal ≥ 3 characters and
 * searchable as UTF-8). With the `i` flag literals are ASCII, lower-cased, and must be searched
 * in lower-cased text. A source the parser refuses yields no clause (no prefilter).
 *
 * @example requiredLiterals('ECONNREFUSED [\\d.]+:6379', '') // { clauses: [['ECONNREFUSED '], [':6379']], caseless: false }
 * @example requiredLiterals('a\\cIbcdef', '') // { clauses: [['a\tbcdef']], caseless: false }
 */
export function requiredLiterals(source: string, flags: string): LiteralRequirement {
  const mode: Mode = { caseless: flags.includes('i'), unicode: flags.includes('u') || flags.includes('v') };
  let tree: AST.Pattern;
  try {
    tree = parseRegex(source, flags);
  } catch {
    return { clauses: [], caseless: mode.caseless };
  }
  const info = analyzeAlt(tree.alternatives.map((a) => analyze(a, mode)));
  const all = [...info.clauses, ...(info.set ? [info.set] : [])].filter(usable);
  const seen = new Set<string>();
  const clauses = all.filter((c) => {
    const key = JSON.stringify([...c].sort());
    return seen.has(key) ? false : (seen.add(key), true);
  });
  return { clauses, caseless: mode.caseless };
}
