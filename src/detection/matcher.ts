/**
 * The compiled form of the config's error patterns: regexes compiled once, a literal prefilter
 * derived from each regex, and the classification rules.
 *
 * Classification order (documented in docs/benchmarks.md too): the FIRST pattern in config order
 * whose regex matches wins. The default config therefore lists specific classes (disk_full,
 * memory_error, port_in_use, ssl_certificate, redis_connection, db_connection, json_parse,
 * fs_permission, fs_not_found, http_5xx, http_4xx) before the generic python_exception.
 * A Python traceback (header to exception line, chained tracebacks included) is ONE event: the
 * first pattern in config order matching any of its exception lines wins; a traceback nothing
 * matches is still a `python_exception` when the config defines that id.
 *
 * Two rules keep request text from posing as an error: a pattern matches an access-log line only
 * if it also matches its canonical form, without URL, user, referer or user agent
 * (access-line.ts), and a pattern with `files` only takes part in the scan of matching files
 * (`Matcher.forFile`, pattern-files.ts).
 */
import type { ErrorPattern } from '../config/schema';
import { requiredLiterals, type LiteralRequirement } from './literals';
import { accessLineView } from './access-line';
import { fileScope } from './pattern-files';
import { byteCounts, createLiteralSearch, literalSearchCost, type LiteralSearch } from './literal-search';

/** The header Python prints before every traceback. */
export const TRACEBACK_HEADER = 'Traceback (most recent call last):';

/** Cost of decoding and classifying one candidate line (ns, measured on the benchmark VM). */
const LINE_NS = 600;

const NODE_ERROR_PROPERTY = /^\s+code: '[A-Z0-9_]+',?$/;

/** One compiled pattern. */
export interface CompiledPattern {
  pattern: ErrorPattern;
  regex: RegExp;
  /** The regex's literal requirement as derived (before the byte encoding of `clauses`). */
  requirement: LiteralRequirement;
  /** Candidate clauses (each: any of these literals); one is chosen by `Matcher.calibrate`. */
  clauses: string[][];
  caseless: boolean;
  /** The clause in use, or null = no prefilter (every line is a candidate for this pattern). */
  chosen: string[] | null;
}

/** Options of `compileMatcher`. */
export interface MatcherOptions {
  /**
   * Only patterns whose `sources` include this source take part.
   * @default 'log'
   */
  source?: 'log' | 'json' | 'health';
  /**
   * Derive and use a literal prefilter. Off = every line goes to every regex (for comparison).
   * @default true
   */
  prefilter?: boolean;
  /**
   * The literal requirement of each of `patterns` (same order), already derived elsewhere — the
   * parallel scan's worker threads reuse the main thread's instead of parsing every regex again.
   */
  requirements?: ReadonlyArray<LiteralRequirement>;
}

/** A compiled, reusable matcher (immutable but for the one-time prefilter calibration). */
export interface Matcher {
  readonly patterns: readonly CompiledPattern[];
  /** True when some pattern has no usable prefilter: every line must be examined. */
  readonly everyLine: boolean;
  /** Distinct case-sensitive literals to search for (Traceback header included). */
  literals: string[];
  /** Distinct literals to search for in lower-cased text. */
  caselessLiterals: string[];
  /** Multi-literal search over `literals` (anchored on bytes rare in the calibration sample). */
  search: LiteralSearch;
  /** Picks, once, the clause of each pattern with the fewest hits in a sample of real data. */
  calibrate(sample: Buffer): void;
  /** The first pattern (config order) matching the line, if any. */
  classifyLine(line: string): ErrorPattern | undefined;
  /** The pattern of a traceback, given its exception lines (see the module comment). */
  classifyTraceback(exceptionLines: string[]): ErrorPattern | undefined;
  /**
   * The matcher for one watched file: only the patterns whose `files` include it (this matcher
   * itself when all do). Compiled once per distinct set of patterns.
   */
  forFile(file: string): Matcher;
}

function countHits(sample: Buffer, lower: string | undefined, lit: string, cap: number): number {
  let n = 0;
  let p = 0;
  if (lower !== undefined) {
    while (n < cap && (p = lower.indexOf(lit, p)) !== -1) [n, p] = [n + 1, p + lit.length];
  } else {
    while (n < cap && (p = sample.indexOf(lit, p, 'latin1')) !== -1) [n, p] = [n + 1, p + lit.length];
  }
  return n;
}

/** Literals are searched as bytes; a non-ASCII literal is searched as its UTF-8 bytes. */
const toLatin1 = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');

/**
 * Compiles the config's patterns once. Invalid regexes throw (loadConfig has already refused
 * them, so this only happens for hand-built pattern lists).
 *
 * @example
 *   const m = compileMatcher(cfg.error_patterns);
 *   m.classifyLine('redis.exceptions.ConnectionError: Error 111 connecting to localhost:6379.')?.id // 'redis_connection'
 */
export function compileMatcher(patterns: ErrorPattern[], opts: MatcherOptions = {}): Matcher {
  const source = opts.source ?? 'log';
  const compiled: CompiledPattern[] = patterns
    .map((p, i) => ({ p, given: opts.requirements?.[i] }))
    .filter(({ p }) => (p.sources ?? ['log']).includes(source))
    .map(({ p, given }) => {
      const flags = (p.flags ?? '').replace(/[gy]/g, '');
      const req = opts.prefilter === false ? { clauses: [], caseless: false } : (given ?? requiredLiterals(p.pattern, flags));
      const clauses = req.clauses.map((c) => (req.caseless ? c : c.map(toLatin1)));
      // Static first choice (longest shortest literal); calibrate() may replace it.
      const chosen = [...clauses].sort((a, b) => Math.min(...b.map((s) => s.length)) - Math.min(...a.map((s) => s.length)))[0] ?? null;
      return { pattern: p, regex: new RegExp(p.pattern, flags), requirement: req, clauses, caseless: req.caseless, chosen };
    });
  const generic = compiled.find((c) => c.pattern.id === 'python_exception')?.pattern;
  let calibrated = false;
  const scopes = compiled.map((c) => fileScope(c.pattern.files));
  const byScope = new Map<string, Matcher>();
  /**
   * True when `c` matches `line`: the line as written and, for an access-log line, also its
   * canonical form (access-line.ts). The canonical form is only built for a line that matches
   * as written (rare), so ordinary access lines cost nothing more; requiring both also keeps the
   * prefilter, which looks at the line as written, exact.
   */
  const matches = (c: CompiledPattern, line: string, view: { text?: string | null }): boolean => {
    if (!c.regex.test(line)) return false;
    if (view.text === undefined) view.text = accessLineView(line) ?? null;
    return view.text === null || c.regex.test(view.text);
  };

  const matcher: Matcher = {
    patterns: compiled,
    everyLine: compiled.some((c) => c.chosen === null),
    literals: [],
    caselessLiterals: [],
    search: createLiteralSearch([]),
    calibrate(sample: Buffer): void {
      if (calibrated || sample.length === 0) return;
      calibrated = true;
      const lower = compiled.some((c) => c.caseless) ? sample.toString('latin1').toLowerCase() : undefined;
      // Cost of a clause (ns over the sample) ≈ finding each literal (see literal-search.ts) + decoding
      // and classifying each candidate line it yields.
      const counts = byteCounts(sample);
      const cache = new Map<string, number>();
      for (const c of compiled) {
        if (c.clauses.length < 2) continue;
        const cost = (clause: string[]) =>
          clause.reduce((sum, lit) => {
            const key = (c.caseless ? 'i:' : 's:') + lit;
            if (!cache.has(key)) {
              const search = c.caseless ? sample.length * 0.5 : literalSearchCost(Buffer.from(lit, 'latin1'), counts, sample.length);
              cache.set(key, search + LINE_NS * countHits(sample, c.caseless ? lower : undefined, lit, 100_000));
            }
            return sum + (cache.get(key) as number);
          }, 0);
        c.chosen = [...c.clauses].sort((a, b) => cost(a) - cost(b))[0] ?? c.chosen;
      }
      refreshLiterals(sample);
    },
    classifyLine(line: string): ErrorPattern | undefined {
      // Node prints an error as its message line then its properties ("  code: 'ENOENT',");
      // the property line repeats the event already counted from the message line.
      if (NODE_ERROR_PROPERTY.test(line)) return undefined;
      const view: { text?: string | null } = {};
      for (const c of compiled) if (matches(c, line, view)) return c.pattern;
      return undefined;
    },
    classifyTraceback(exceptionLines: string[]): ErrorPattern | undefined {
      const views: Array<{ text?: string | null }> = exceptionLines.map(() => ({}));
      for (const c of compiled) if (exceptionLines.some((l, i) => matches(c, l, views[i] ?? {}))) return c.pattern;
      return generic;
    },
    forFile(file: string): Matcher {
      const keep = compiled.map((_, i) => (scopes[i] as (f: string) => boolean)(file));
      if (keep.every(Boolean)) return matcher;
      const key = keep.map((k) => (k ? '1' : '0')).join('');
      let sub = byScope.get(key);
      if (!sub) {
        sub = compileMatcher(
          compiled.filter((_, i) => keep[i]).map((c) => c.pattern),
          opts,
        );
        byScope.set(key, sub);
      }
      return sub;
    },
  };

  function refreshLiterals(sample?: Buffer): void {
    const cs = new Set<string>([TRACEBACK_HEADER]);
    const ci = new Set<string>();
    for (const c of compiled) for (const lit of c.chosen ?? []) (c.caseless ? ci : cs).add(lit);
    // A literal containing another is redundant: the shorter one already finds its lines.
    const prune = (set: Set<string>) => [...set].filter((a) => ![...set].some((b) => b !== a && a.includes(b)));
    matcher.literals = prune(cs);
    matcher.caselessLiterals = prune(ci);
    matcher.search = createLiteralSearch(matcher.literals, sample);
  }
  refreshLiterals();
  return matcher;
}
