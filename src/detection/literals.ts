/**
 * Derives, from a regex, the literals every match must contain: a list of clauses, each clause a
 * list of strings of which at least one occurs in any matching line ("AND of ORs"). A line that
 * fails one clause cannot match, so a fast substring search can skip it. The analysis is
 * conservative: whenever it is unsure it requires less, and an empty list means "no prefilter".
 */
import { parseRegex, type RegexNode } from './regex-ast';

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

const cross = (a: string[], b: string[]): string[] => [...new Set(a.flatMap((x) => b.map((y) => x + y)))];
const usable = (clause: string[]): boolean => clause.length > 0 && clause.every((s) => s.length >= MIN_LITERAL);
/** Static quality of a clause: its shortest literal, minus a little per alternative. */
const score = (clause: string[]): number => Math.min(...clause.map((s) => s.length)) - clause.length / 4;

function analyze(node: RegexNode, fold: (s: string) => string): Info {
  switch (node.type) {
    case 'char': {
      const set = [...new Set(node.chars.map(fold))];
      return { set, clauses: [] };
    }
    case 'class':
    case 'backref':
      return { set: null, clauses: [] };
    case 'assert':
    case 'look':
      return { set: [''], clauses: [] }; // zero-width: neither adds nor breaks a literal run
    case 'group':
      return analyze(node.body, fold);
    case 'quant':
      return analyzeQuant(node, fold);
    case 'seq':
      return analyzeSeq(node.items, fold);
    case 'alt':
      return analyzeAlt(node.branches.map((b) => analyze(b, fold)));
  }
}

function analyzeQuant(node: Extract<RegexNode, { type: 'quant' }>, fold: (s: string) => string): Info {
  const body = analyze(node.body, fold);
  if (node.min === 0) {
    if (node.max === 1 && body.set && body.set.length < MAX_SET) return { set: [...new Set([...body.set, ''])], clauses: [] };
    return { set: null, clauses: [] };
  }
  const clauses = [...body.clauses, ...(body.set ? [body.set] : [])];
  if (body.set && node.max === node.min && node.min <= 8) {
    let set = [''];
    for (let k = 0; k < node.min && set.length <= MAX_SET; k++) set = cross(set, body.set);
    if (set.length <= MAX_SET) return { set, clauses: [] };
  }
  return { set: null, clauses };
}

function analyzeSeq(items: RegexNode[], fold: (s: string) => string): Info {
  const clauses: string[][] = [];
  let run: string[] = [''];
  let exact = true;
  const flush = () => {
    if (!run.includes('')) clauses.push(run);
    run = [''];
  };
  for (const item of items) {
    const info = analyze(item, fold);
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
  if (branches.every((b) => b.set)) {
    const set = [...new Set(branches.flatMap((b) => b.set as string[]))];
    if (set.length <= MAX_SET) return { set, clauses: [] };
  }
  // Each branch's requirement: its clauses plus its own exact set.
  const perBranch = branches.map((b) => [...b.clauses, ...(b.set && !b.set.includes('') ? [b.set] : [])].filter(usable));
  if (perBranch.some((c) => c.length === 0)) return { set: null, clauses: [] };
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
 * The literal clauses a regex requires, usable ones only (every literal ≥ 3 chars). With the `i`
 * flag literals are lower-cased and must be searched in lower-cased text; with `i` + `u` Unicode
 * case folding (e.g. "K" ~ "k") is beyond this analysis, so no prefilter is derived.
 *
 * @example requiredLiterals('ECONNREFUSED [\\d.]+:6379', '') // { clauses: [['ECONNREFUSED '], [':6379']], caseless: false }
 */
export function requiredLiterals(source: string, flags: string): LiteralRequirement {
  const caseless = flags.includes('i');
  if (caseless && flags.includes('u')) return { clauses: [], caseless };
  let tree: RegexNode;
  try {
    tree = parseRegex(source);
  } catch {
    return { clauses: [], caseless };
  }
  const info = analyze(tree, caseless ? (s) => s.toLowerCase() : (s) => s);
  const all = [...info.clauses, ...(info.set ? [info.set] : [])].filter(usable);
  const seen = new Set<string>();
  const clauses = all.filter((c) => {
    const key = JSON.stringify([...c].sort());
    return seen.has(key) ? false : (seen.add(key), true);
  });
  return { clauses, caseless };
}
