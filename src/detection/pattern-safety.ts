/**
 * Refuses regexes whose backtracking can blow up on a hostile line, so a config can never freeze
 * the daemon. JavaScript's engine backtracks; a line is at most `watch.max_line_bytes` (64 KiB by
 * default).
 *
 * The checker is `recheck` (makenowjust-labs/recheck), chosen over `redos-detector` after
 * trying both on the two patterns of issue 11 and on the shipped config (2 vCPU VM):
 * - recheck refuses `x*x*x*x*x*x*y` (7th degree, 0.1 s) and `.{0,9999}a.{0,9999}b.{0,9999}c`
 *   (4th degree, found by fuzzing, 1.3 s), each with an attack string, and reports the degree of
 *   polynomial blow-ups; it accepts the shipped patterns except two quadratic ones. It is
 *   maintained, CommonJS, deterministic (fixed PRNG seed), and runs its analysis in a native
 *   helper (an optional dependency; a pure-JS build otherwise).
 * - redos-detector also refuses both, but it scores backtracks rather than complexity: it
 *   refused 7 of the 12 shipped patterns (e.g. `[Aa]ddress already in use|…|Port \d+ is in use`)
 *   as "infinite backtracks", and took ~1 s per pattern.
 * The price is time at config load: 0.1–2 s per regex that repeats something, so verdicts are
 * cached on disk (redos-cache.ts) and only new or edited regexes are analysed.
 *
 * What is refused: exponential blow-ups and polynomial ones of degree ≥ 3 (`x*x*x*y`,
 * `.*a.*b.*c`: a 64 KiB line needs 10¹³+ steps). Quadratic ones are accepted: `a.*b` — the
 * commonest shape in real configs, and two of the shipped patterns — is quadratic when a line
 * repeats "a", measured 1.6 s on a 64 KiB line; that is bounded by the line cap, and a line
 * that still stalls a scan is contained by the scan's time budget (budgeted-scan.ts), which
 * disables the pattern for that file.
 */
import { createRequire } from 'node:module';
import type { AST } from '@eslint-community/regexpp';
import { findNodes, parseRegex } from './regex-syntax';
import { VerdictCache, type Verdict } from './redos-cache';

/** The worst polynomial degree accepted (see the module comment). */
export const MAX_ACCEPTED_DEGREE = 2;
/** How long recheck may analyse one branch before its verdict is "unknown" (accepted, reported). */
const CHECK_TIMEOUT_MS = 10_000;
/** Longest attack string shown in a refusal (recheck's compact form, e.g. `'a'.repeat(31) + '\x00'`). */
const MAX_ATTACK_CHARS = 200;

/** Outcome of `checkPatternSafety`. */
export type SafetyResult =
  | { safe: true; note?: string }
  | { safe: false; reason: string; attack?: string };

type Recheck = typeof import('recheck');
const req = createRequire(__filename);
let recheck: Recheck | undefined;
let cache: VerdictCache | undefined;

/** The verdict store, keyed by recheck's version and our parameters. */
function verdicts(): VerdictCache {
  cache ??= new VerdictCache(JSON.stringify(['recheck', (req('recheck/package.json') as { version: string }).version, CHECK_TIMEOUT_MS]));
  return cache;
}

/** recheck itself is loaded on the first regex without a stored verdict (its 6 MB cost ~0.1 s to load). */
function loadRecheck(): Recheck {
  recheck ??= req('recheck') as Recheck;
  return recheck;
}

const repeats = (n: AST.Node): n is AST.Quantifier => n.type === 'Quantifier' && n.max > 1;
const isBackreference = (n: AST.Node): n is AST.Backreference => n.type === 'Backreference';

/** A backreference inside a repetition: matching it is NP-hard in general, and fuzzers rarely find the attack. */
function backreferenceInRepetition(tree: AST.Pattern): boolean {
  return findNodes(tree, repeats).some((q) => findNodes(q, isBackreference).length > 0);
}

/** Runs recheck on one branch (or takes its cached verdict); a string says why there is no verdict. */
function verdictOf(source: string, flags: string): Verdict | string {
  const store = verdicts();
  const cached = store.get(source, flags);
  if (cached) return cached;
  const d = loadRecheck().checkSync(source, flags, { timeout: CHECK_TIMEOUT_MS });
  if (d.status === 'unknown') {
    return d.error.kind === 'timeout' ? `did not finish in ${CHECK_TIMEOUT_MS / 1000} s` : `failed (${d.error.kind}${'message' in d.error ? `: ${d.error.message}` : ''})`;
  }
  const verdict: Verdict =
    d.status === 'safe'
      ? { status: 'safe', complexity: d.complexity.summary }
      : {
          status: 'vulnerable',
          complexity: d.complexity.summary,
          degree: d.complexity.type === 'polynomial' ? d.complexity.degree : null,
          attack: d.attack.pattern,
        };
  store.set(source, flags, verdict);
  return verdict;
}

/**
 * The parts checked separately. A top-level alternation `A|B` costs at most A's search plus B's
 * (nothing repeats around it), so each branch is checked alone — small automata analyse in
 * milliseconds where the whole times out. Branches that repeat nothing are linear and skipped.
 * A backreference may point into another branch, so such patterns stay whole.
 */
function partsToCheck(tree: AST.Pattern, source: string): Array<{ label: string; source: string }> {
  const whole = findNodes(tree, isBackreference).length > 0 || tree.alternatives.length === 1;
  const parts = whole ? [{ node: tree as AST.Node, label: 'the pattern', source }] : tree.alternatives.map((a, i) => ({ node: a as AST.Node, label: `alternative ${i + 1}`, source: a.raw }));
  return parts.filter((p) => findNodes(p.node, repeats).length > 0);
}

/**
 * Decides whether a (valid) regex may run on hostile lines: refuses exponential and
 * super-quadratic backtracking (with recheck's attack string) and backreferences inside a
 * repetition; accepts the rest. A regex the checker could not settle in time is accepted with a
 * note (the scan budget still contains it).
 *
 * @example checkPatternSafety('x*x*x*x*x*x*y', '') // { safe: false, reason: '7th degree polynomial …', attack: "'x'.repeat(54) + …" }
 */
export function checkPatternSafety(source: string, flags: string): SafetyResult {
  const tree = parseRegex(source, flags);
  if (backreferenceInRepetition(tree)) {
    return { safe: false, reason: 'a backreference (\\1, \\k<name>) inside a repetition can backtrack exponentially; match the text without referring back to a group' };
  }
  const unsettled: string[] = [];
  for (const part of partsToCheck(tree, source)) {
    const v = verdictOf(part.source, flags);
    if (typeof v === 'string') unsettled.push(`${part.label}: ${v}`);
    else if (v.status === 'vulnerable' && (v.degree === null || v.degree > MAX_ACCEPTED_DEGREE)) {
      const attack = v.attack.length > MAX_ATTACK_CHARS ? `${v.attack.slice(0, MAX_ATTACK_CHARS - 1)}…` : v.attack;
      return { safe: false, reason: `${v.complexity} backtracking on a hostile line`, attack };
    }
  }
  if (unsettled.length > 0) return { safe: true, note: `ReDoS analysis unsettled, accepted (the scan budget still applies): ${unsettled.join('; ')}` };
  return { safe: true };
}
