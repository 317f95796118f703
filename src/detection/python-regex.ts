/**
 * Makes a config regex mean in JavaScript what its author meant, for users coming from the seed's
 * Python daemon (Python `re`): constructs with the same meaning are translated, the others are
 * refused with a message naming them — never accepted with another meaning.
 *
 * Two kinds of difference, both found with regexpp (regex-syntax.ts), never by string search
 * (which cannot tell `\(?P<` or `[(?i)]` from the real thing):
 * 1. Python syntax JavaScript refuses (`(?P<n>…)`, `(?P=n)`, `(?i)`, `(?#…)`, possessive `a*+`,
 *    atomic `(?>…)`, conditionals `(?(1)…)`): regexpp stops at it, and the construct at that
 *    offset is translated or refused; then parsing resumes.
 * 2. Syntax JavaScript (without the `u` flag, Annex B) accepts with another meaning — escapes
 *    that silently become the bare letter (`\A`, `\Z` → "A", "Z"; `\z`, `\p{L}`, `\e`), `\12`
 *    read as an octal character when there is no group 12, `{,3}` read as text, `[]` that never
 *    matches: found in the syntax tree and translated (`\A` → `^`, `\Z` → `$`, `\a` → `\x07`,
 *    `\U0001F600`, `{,3}` → `{0,3}`) or refused. This also catches a JavaScript author's
 *    `\p{L}` without `u`, which matches "p{L}".
 *
 * Not translated (same syntax, different details; irrelevant to ASCII log lines): Python's
 * `\d`, `\w`, `\s`, `\b` are Unicode-aware, JavaScript's (without `u`) ASCII; Python's `.` also
 * matches `\r`; Python's `$` also matches before a final `\n` (log lines never end in one).
 */
import { RegExpSyntaxError, type AST } from '@eslint-community/regexpp';
import { findNodes, parseRegex } from './regex-syntax';

/** A Python or ambiguous construct with no exact JavaScript equivalent. */
export class RegexRefusedError extends Error {
  override readonly name = 'RegexRefusedError';
}

/** A regex made JavaScript: its source and flags, and what was changed (empty: nothing). */
export interface TranslatedRegex {
  source: string;
  flags: string;
  changes: string[];
}

/** Options of `translatePythonRegex`. */
export interface TranslateOptions {
  /** The field has flags (error_patterns[].flags), so `(?i)` etc. can become flags. @default true */
  flagsAllowed?: boolean;
}

/** One rewrite of the source: replace [start, end) by `text`, described as `change`. */
interface Edit {
  start: number;
  end: number;
  text: string;
  change: string;
}

const refuse = (what: string): never => {
  throw new RegexRefusedError(what);
};

/** Python's global inline flags and what each becomes here. */
function inlineFlags(letters: string, at: number, opts: Required<TranslateOptions>): string {
  if (at !== 0) refuse(`inline flags (?${letters}) must be at the very start of the pattern (Python 3.11 refuses them elsewhere; JavaScript has no mid-pattern flags)`);
  let flags = '';
  for (const f of letters) {
    if (f === 'x') refuse('the verbose flag (?x) has no JavaScript equivalent; remove the whitespace and # comments and the flag');
    if (f === 'a') refuse('the ASCII flag (?a) has no exact JavaScript equivalent (\\s and case-insensitive matching stay Unicode-aware); remove it');
    if (f === 'L') refuse('the locale flag (?L) has no JavaScript equivalent; remove it');
    if (f === 'u') continue; // Python 3's default for text patterns: a no-op
    if (!opts.flagsAllowed) refuse(`inline flag (?${f}) is not supported in this field (it has no flags); only error_patterns[].pattern takes flags`);
    flags += f;
  }
  return flags;
}

/**
 * The edit for a Python construct where regexpp stopped, or undefined when the error is a plain
 * syntax error. `index` is regexpp's error offset.
 */
function syntaxEdit(src: string, err: RegExpSyntaxError, opts: Required<TranslateOptions>, addFlags: (f: string) => void): Edit | undefined {
  const i = err.index;
  if (/Nothing to repeat/.test(err.message) && src[i - 1] === '+' && '*+?}'.includes(src[i - 2] ?? '')) {
    refuse('possessive quantifiers (*+, ++, ?+, {m,n}+) have no JavaScript equivalent; use a plain quantifier');
  }
  if (/Incomplete quantifier/.test(err.message)) {
    const m = /^\{,(\d*)\}/.exec(src.slice(i - 1));
    if (m) return { start: i - 1, end: i - 1 + m[0].length, text: `{0,${m[1]}}`, change: '{,n} → {0,n}' };
  }
  if (!/Invalid group/.test(err.message) || src[i - 1] !== '(') return undefined;
  const at = src.slice(i - 1);
  let m: RegExpExecArray | null;
  if ((m = /^\(\?P<(?=[^>]*>)/.exec(at))) return { start: i - 1, end: i - 1 + m[0].length, text: '(?<', change: '(?P<name>…) → (?<name>…)' };
  if ((m = /^\(\?P=([^)]*)\)/.exec(at))) return { start: i - 1, end: i - 1 + m[0].length, text: `\\k<${m[1]}>`, change: '(?P=name) → \\k<name>' };
  if ((m = /^\(\?#[^)]*\)/.exec(at))) return { start: i - 1, end: i - 1 + m[0].length, text: '', change: '(?#…) comment removed' };
  if ((m = /^\(\?([aiLmsux]+)\)/.exec(at))) {
    const flags = inlineFlags(m[1] as string, i - 1, opts);
    addFlags(flags);
    return { start: i - 1, end: i - 1 + m[0].length, text: '', change: `(?${m[1]}) → ${flags ? `flags "${flags}"` : 'removed (no-op)'}` };
  }
  if (/^\(\?[aiLmsux]*(?:-[imsx]+)?:/.test(at)) refuse('scoped inline flags (?i:…) are not supported by this Node.js; use the flags field for the whole pattern');
  if (/^\(\?-/.test(at)) refuse('turning a flag off, (?-i), has no JavaScript equivalent here');
  if (at.startsWith('(?>')) refuse('atomic groups (?>…) have no JavaScript equivalent; use a plain group');
  if (at.startsWith('(?(')) refuse('conditional groups (?(1)…|…) have no JavaScript equivalent');
  if (at.startsWith('(?P')) refuse('this (?P…) form is not a Python re group; use (?P<name>…) or (?P=name)');
  return undefined;
}

const inClass = (n: AST.Node): boolean => n.parent?.type === 'CharacterClass' || n.parent?.type === 'CharacterClassRange';
const isChar = (n: AST.Node): n is AST.Character => n.type === 'Character';

/** `\U0001F600`: Python's 8-digit escape as JavaScript escapes (a surrogate pair above U+FFFF: no `u` flag here). */
function longUnicodeEscape(src: string, c: AST.Character): Edit {
  const m = /^[0-9a-fA-F]{8}/.exec(src.slice(c.end));
  const cp = m ? parseInt(m[0], 16) : NaN;
  if (!m || !(cp <= 0x10ffff)) return refuse('\\U needs 8 hex digits of a code point (Python) and is no JavaScript escape');
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');
  let text: string;
  if (cp <= 0xffff) text = `\\u${hex(cp)}`;
  else if (inClass(c)) return refuse('\\U with a code point above U+FFFF inside a class needs the u flag');
  else text = `\\u${hex(0xd800 + ((cp - 0x10000) >> 10))}\\u${hex(0xdc00 + ((cp - 0x10000) & 0x3ff))}`;
  return { start: c.start, end: c.end + 8, text, change: '\\UXXXXXXXX → \\u escape' };
}

/** The edit (or refusal) for a Character node that JavaScript reads differently than Python would. */
function escapeEdit(src: string, c: AST.Character, multiline: boolean): Edit | undefined {
  const edit = (text: string, change: string): Edit => ({ start: c.start, end: c.end, text, change });
  if (c.raw === '\\') refuse('\\c must be followed by a letter (JavaScript reads a lone "\\c" as the two characters)');
  const digits = /^\\([1-9]\d*)$/.exec(c.raw);
  if (digits && !inClass(c) && !/^[0-3][0-7]{2}$/.test(digits[1] as string)) {
    refuse(`\\${digits[1]} refers to group ${digits[1]}, which does not exist (JavaScript would read it as a character)`);
  }
  const letter = /^\\([A-Za-z])$/.exec(c.raw)?.[1];
  if (letter === undefined || c.value !== letter.charCodeAt(0)) return undefined; // a real escape
  const where = inClass(c) ? ' inside a class' : '';
  switch (letter) {
    case 'A':
      if (where) break;
      return multiline ? edit('(?<![\\s\\S])', '\\A → (?<![\\s\\S]) (start of input with the m flag)') : edit('^', '\\A → ^');
    case 'Z':
      if (where) break;
      return multiline ? edit('(?![\\s\\S])', '\\Z → (?![\\s\\S]) (end of input with the m flag)') : edit('$', '\\Z → $');
    case 'z':
      return refuse('\\z is not Python re (its end of input is \\Z) and JavaScript reads it as "z"; write \\Z or $');
    case 'a':
      return edit('\\x07', '\\a → \\x07');
    case 'U':
      return longUnicodeEscape(src, c);
    case 'u':
    case 'x':
      return refuse(`\\${letter} needs ${letter === 'x' ? '2' : '4'} hex digits${letter === 'u' ? ' (\\u{…} needs the u flag)' : ''}; without them JavaScript reads the letter "${letter}"`);
    case 'N':
      return refuse('named characters \\N{…} have no JavaScript equivalent; write the character or \\uXXXX');
    case 'p':
    case 'P':
      return refuse(`\\${letter}{…} Unicode properties need the u flag (without it JavaScript reads "${letter}{…}" as text)`);
  }
  return refuse(`\\${letter}${where} is not an escape in JavaScript (it would match the letter "${letter}"); remove the backslash or use a real escape`);
}

/** `{,n}` (Python: 0 to n times) that JavaScript without `u` reads as the text "{,n}". */
function braceEdit(src: string, c: AST.Character): Edit | undefined {
  if (c.raw !== '{' || inClass(c)) return undefined;
  const m = /^,(\d*)\}/.exec(src.slice(c.end));
  return m ? { start: c.start, end: c.end + m[0].length, text: `{0,${m[1]}}`, change: '{,n} → {0,n}' } : undefined;
}

/** Refuses `[]` (never matches in JavaScript; Python reads `[]…]` as a class starting with "]"). */
function emptyClassCheck(tree: AST.Pattern): void {
  const classes = findNodes(tree, (n): n is AST.CharacterClass => n.type === 'CharacterClass');
  const literalBracket = findNodes(tree, isChar).some((c) => c.raw === ']');
  for (const k of classes) {
    if (k.elements.length === 0 && (!k.negate || literalBracket)) {
      refuse(`${k.negate ? '[^]' : '[]'} followed by "]" means a class with "]" in Python but ${k.negate ? 'any character' : 'nothing'} in JavaScript; escape it: ${k.negate ? '[^\\]…]' : '[\\]…]'}`);
    }
  }
}

/** The first AST-level edit needed, if any (refusals throw). */
function treeEdit(src: string, flags: string): Edit | undefined {
  const tree = parseRegex(src, flags);
  if (flags.includes('u') || flags.includes('v')) return undefined; // no Annex B: nothing is read silently
  emptyClassCheck(tree);
  for (const c of findNodes(tree, isChar)) {
    const e = escapeEdit(src, c, flags.includes('m')) ?? braceEdit(src, c);
    if (e) return e;
  }
  return undefined;
}

/**
 * Translates a regex written for Python `re` (or plain JavaScript, returned unchanged) into
 * JavaScript with the same meaning. Throws `RegexRefusedError` for a construct with no exact
 * equivalent and regexpp's `RegExpSyntaxError` for invalid syntax.
 *
 * @example translatePythonRegex('(?i)(?P<code>\\d+) refused\\Z', '') // { source: '(?<code>\\d+) refused$', flags: 'i', changes: ['(?i) → flags "i"', '(?P<name>…) → (?<name>…)', '\\Z → $'] }
 */
export function translatePythonRegex(source: string, flags: string, options: TranslateOptions = {}): TranslatedRegex {
  const opts: Required<TranslateOptions> = { flagsAllowed: options.flagsAllowed ?? true };
  let src = source;
  let fl = flags;
  const changes: string[] = [];
  const addFlags = (f: string) => {
    fl = [...new Set([...fl, ...f])].sort().join('');
  };
  // Each round fixes one construct, and each fix removes the text that caused it: at most one
  // round per character of the source.
  for (let round = 0; round <= source.length + 1; round++) {
    let edit: Edit | undefined;
    try {
      edit = treeEdit(src, fl);
    } catch (e) {
      if (!(e instanceof RegExpSyntaxError)) throw e;
      edit = syntaxEdit(src, e, opts, addFlags);
      if (!edit) throw e;
    }
    if (!edit) return { source: src, flags: fl, changes: [...new Set(changes)] };
    src = src.slice(0, edit.start) + edit.text + src.slice(edit.end);
    changes.push(edit.change);
  }
  throw new RegexRefusedError('the pattern could not be translated');
}
