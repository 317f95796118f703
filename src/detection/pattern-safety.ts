/**
 * Refuses regexes whose backtracking can blow up, so a config can never freeze the daemon.
 * JavaScript's engine backtracks; a line is at most `watch.max_line_bytes` (64 KiB by default),
 * so exponential shapes are fatal and even cubic ones (n³ ≈ 3·10¹⁴ steps) are. The checks are
 * syntactic and conservative: a few safe regexes are refused too, and the message says how to
 * rewrite them.
 */
import { parseRegex, type RegexNode } from './regex-ast';

/** At most this many broad unbounded repetitions (`.*`, `\S+`, `[^"]*`) in one sequence: n² is fine, n³ is not. */
const MAX_BROAD_REPEATS = 2;

/** Characters a node can start with: a set, or null for "unknown/any". Empty set = zero-width. */
function firstChars(node: RegexNode): Set<string> | null {
  switch (node.type) {
    case 'char':
      return new Set(node.chars.map((c) => c.toLowerCase()));
    case 'class':
    case 'backref':
      return null;
    case 'assert':
    case 'look':
      return new Set();
    case 'group':
    case 'quant':
      return firstChars(node.body);
    case 'alt': {
      const out = new Set<string>();
      for (const b of node.branches) {
        const f = firstChars(b);
        if (!f) return null;
        f.forEach((c) => out.add(c));
      }
      return out;
    }
    case 'seq':
      for (const item of node.items) {
        const f = firstChars(item);
        if (!f || f.size > 0) return f;
      }
      return new Set();
  }
}

function children(node: RegexNode): RegexNode[] {
  if (node.type === 'alt') return node.branches;
  if (node.type === 'seq') return node.items;
  if (node.type === 'group' || node.type === 'look' || node.type === 'quant') return [node.body];
  return [];
}

/** Largest repetition count of any quantifier inside node (1 when there is none). */
function innerRepeat(node: RegexNode): number {
  let max = 1;
  for (const c of children(node)) {
    max = Math.max(max, innerRepeat(c));
    if (c.type === 'quant') max = Math.max(max, c.max);
  }
  return max;
}

/** Number of broad unbounded repetitions along the worst path of the node. */
function broadRepeats(node: RegexNode): number {
  if (node.type === 'quant') {
    const broad = node.max === Infinity && firstChars(node.body) === null ? 1 : 0;
    return broad + broadRepeats(node.body);
  }
  if (node.type === 'seq') return node.items.reduce((n, c) => n + broadRepeats(c), 0);
  if (node.type === 'alt') return Math.max(0, ...node.branches.map(broadRepeats));
  return children(node).reduce((n, c) => Math.max(n, broadRepeats(c)), 0);
}

/** Alternation whose branches can start with the same character. */
function overlappingAlternation(node: RegexNode): boolean {
  if (node.type === 'alt') {
    const seen = new Set<string>();
    for (const b of node.branches) {
      const f = firstChars(b);
      if (!f || f.size === 0) return true;
      for (const c of f) {
        if (seen.has(c)) return true;
        seen.add(c);
      }
    }
  }
  return children(node).some((c) => (c.type === 'group' || c.type === 'alt' || c.type === 'seq') && overlappingAlternation(c));
}

function findProblem(node: RegexNode): string | undefined {
  if (node.type === 'backref') {
    return 'backreferences (\\1, \\k<name>) can backtrack exponentially; match the text without referring back to a group';
  }
  if (node.type === 'quant' && node.max > 1) {
    const inner = innerRepeat(node.body);
    const bounded = node.max !== Infinity && inner !== Infinity && Math.pow(inner, node.max) <= 10_000;
    if (inner > 1 && !bounded) {
      return 'nested quantifiers (e.g. (a+)+ or (\\w+\\s?)*) can backtrack catastrophically; use a single quantifier or a bounded one such as (?:x{1,8}){0,3}';
    }
    if (overlappingAlternation(node.body)) {
      return 'a repeated alternation whose branches can start with the same character (e.g. (a|ab)* or (\\w|\\d)+) can backtrack catastrophically; make the branches start differently';
    }
  }
  for (const c of children(node)) {
    const p = findProblem(c);
    if (p) return p;
  }
  return undefined;
}

/**
 * Refuses regexes prone to catastrophic backtracking: backreferences, nested quantifiers
 * (unless both are small and bounded), repeated alternations with overlapping branches, and more
 * than two broad unbounded repetitions in a row (`.*a.*b.*c` is cubic on a long line).
 * Returns a message saying what is wrong, or undefined when the pattern is acceptable.
 *
 * @example checkPatternSafety('(a+)+$', /(a+)+$/) // 'nested quantifiers (...) can backtrack catastrophically; ...'
 */
export function checkPatternSafety(source: string, _compiled: RegExp): string | undefined {
  let tree: RegexNode;
  try {
    tree = parseRegex(source);
  } catch (e) {
    return `cannot analyse the pattern for safety (${(e as Error).message}); simplify it`;
  }
  const problem = findProblem(tree);
  if (problem) return problem;
  if (broadRepeats(tree) > MAX_BROAD_REPEATS) {
    return `more than ${MAX_BROAD_REPEATS} broad unbounded repetitions (.*, \\S+, [^x]*) in one sequence can take cubic time on a long line; anchor the pattern on literals instead`;
  }
  return undefined;
}
