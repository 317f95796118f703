/**
 * Classifies the lines of one file, region by region, keeping the line count and the state of a
 * Python traceback that may span regions. Only candidate lines (those holding a prefilter
 * literal) are decoded and given to the regexes; the rest are only counted.
 */
import type { Matcher } from './matcher';
import { TRACEBACK_HEADER } from './matcher';
import { DetectionCollector } from './collector';

/** A traceback longer than this is closed as it stands (a writer that never finishes one). */
const MAX_TRACEBACK_LINES = 2000;
const HEADER = Buffer.from(TRACEBACK_HEADER, 'latin1');
const CHAIN = /^(During handling of the above exception|The above exception was the direct cause)/;

interface Traceback {
  startLine: number;
  startOffset: number;
  header: string;
  exceptions: string[];
  phase: 'body' | 'after';
  lines: number;
}

function countNewlines(buf: Buffer, from: number, to: number): number {
  let n = 0;
  let p = from;
  while ((p = buf.indexOf(10, p)) !== -1 && p < to) [n, p] = [n + 1, p + 1];
  return n;
}

/** The text a line is classified as: cut to maxLineBytes, a trailing CR dropped (CRLF logs), UTF-8. */
export function lineText(buf: Buffer, ls: number, le: number, maxLineBytes: number): string {
  let e = Math.min(le, ls + maxLineBytes);
  if (e > ls && buf[e - 1] === 13) e--;
  return buf.toString('utf8', ls, e);
}

/**
 * A "plain" line buf[ls, le) (le = its "\n"): not a traceback header (as bytes or as text), not
 * blank, not indented by space/tab, not a chained-traceback line. Whatever the traceback state
 * before a plain line, none is left in the 'body' phase after it: no open traceback is left as it
 * was; one in 'body' takes it as its exception line (→ 'after'), one in 'after' is closed by it,
 * and it never starts one. So after TWO consecutive plain lines P, L the state before L is "no
 * traceback" or "'after', closed by L" — the classifier state at L's start does not depend on
 * anything before P. parallel-scan.ts splits files there.
 */
export function isPlainLine(buf: Buffer, ls: number, le: number, maxLineBytes: number): boolean {
  if (le - ls >= HEADER.length && buf.compare(HEADER, 0, HEADER.length, ls, ls + HEADER.length) === 0) return false;
  const text = lineText(buf, ls, le, maxLineBytes);
  return text.trim() !== '' && !/^[ \t]/.test(text) && !text.startsWith(TRACEBACK_HEADER) && !CHAIN.test(text);
}

/** Stateful classifier of one file's lines (see the module comment). */
export class LineClassifier {
  /** Complete lines consumed so far. */
  lineNo: number;
  private tb: Traceback | null = null;

  constructor(
    private readonly matcher: Matcher,
    private readonly collector: DetectionCollector,
    private readonly file: string,
    private readonly maxLineBytes: number,
    startLine: number,
  ) {
    this.lineNo = startLine;
  }

  /** File offset where the traceback still open (its exception lines not yet classified) starts. */
  openTracebackOffset(): number | undefined {
    return this.tb?.startOffset;
  }

  /** Processes buf[start, end): complete lines, the last ending in "\n"; buf[start] is at file offset `base`. */
  processRegion(buf: Buffer, start: number, end: number, base: number): void {
    const m = this.matcher;
    const hits: number[] = [];
    if (!m.everyLine) {
      m.search.forEachHit(buf, start, end, (p) => hits.push(p));
      if (m.caselessLiterals.length > 0) {
        const lower = buf.toString('latin1', start, end).toLowerCase();
        for (const lit of m.caselessLiterals) {
          for (let p = lower.indexOf(lit); p !== -1; p = lower.indexOf(lit, p + 1)) hits.push(start + p);
        }
      }
      hits.sort((a, b) => a - b);
    }
    let pos = start;
    let counted = start;
    let hi = 0;
    while (pos < end) {
      if (this.tb) {
        pos = this.feedTraceback(buf, pos, end);
        counted = pos;
        continue;
      }
      let ls = pos;
      if (!m.everyLine) {
        while (hi < hits.length && (hits[hi] as number) < pos) hi++;
        const h = hits[hi];
        if (h === undefined) break;
        ls = Math.max(pos, h > start ? buf.lastIndexOf(10, h - 1) + 1 : start);
      }
      this.lineNo += countNewlines(buf, counted, ls);
      const le = buf.indexOf(10, ls);
      if (le - ls >= HEADER.length && buf.compare(HEADER, 0, HEADER.length, ls, ls + HEADER.length) === 0) {
        this.tb = { startLine: this.lineNo + 1, startOffset: base + (ls - start), header: TRACEBACK_HEADER, exceptions: [], phase: 'body', lines: 0 };
        pos = counted = ls;
        continue;
      }
      const text = this.decode(buf, ls, le);
      const p = m.classifyLine(text);
      if (p) this.collector.add(p, 'log', this.file, this.lineNo + 1, text);
      this.lineNo++;
      pos = counted = le + 1;
    }
    this.lineNo += countNewlines(buf, counted, end);
  }

  /** Processes one over-long line already cut to maxLineBytes (its rest was skipped unread). */
  processCutLine(prefix: Buffer, base: number): void {
    const withNl = Buffer.concat([prefix, Buffer.from('\n')]);
    this.processRegion(withNl, 0, withNl.length, base);
  }

  /**
   * Ends the scan. A traceback still waiting for its exception line is closed when `final`;
   * otherwise it is dropped and its start returned so the next scan re-reads it whole.
   */
  finish(final: boolean): { offset: number; line: number } | undefined {
    const tb = this.tb;
    if (!tb) return undefined;
    this.tb = null;
    if (tb.phase === 'after' || final || tb.lines > MAX_TRACEBACK_LINES) {
      this.closeTraceback(tb);
      return undefined;
    }
    return { offset: tb.startOffset, line: tb.startLine - 1 };
  }

  private decode(buf: Buffer, ls: number, le: number): string {
    return lineText(buf, ls, le, this.maxLineBytes);
  }

  /** Consumes traceback lines from pos; returns where ordinary processing resumes. */
  private feedTraceback(buf: Buffer, pos: number, end: number): number {
    const tb = this.tb as Traceback;
    while (pos < end) {
      const le = buf.indexOf(10, pos);
      const text = this.decode(buf, pos, le);
      if (tb.phase === 'after') {
        if (CHAIN.test(text)) tb.phase = 'body';
        else if (text.trim() !== '') {
          this.closeTraceback(tb);
          this.tb = null;
          return pos; // this line is not part of the traceback: classify it normally
        }
      } else if (text.startsWith(TRACEBACK_HEADER) || text === '' || /^[ \t]/.test(text)) {
        // header of a chained traceback, frame lines, source lines, ^^^^ markers
      } else {
        tb.exceptions.push(text);
        tb.phase = 'after';
      }
      tb.lines++;
      this.lineNo++;
      pos = le + 1;
      if (tb.lines > MAX_TRACEBACK_LINES) {
        this.closeTraceback(tb);
        this.tb = null;
        return pos;
      }
    }
    return pos;
  }

  private closeTraceback(tb: Traceback): void {
    const p = this.matcher.classifyTraceback(tb.exceptions);
    if (p) this.collector.add(p, 'log', this.file, tb.startLine, tb.exceptions[tb.exceptions.length - 1] ?? tb.header);
  }
}
