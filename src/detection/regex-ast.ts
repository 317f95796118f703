/**
 * A small parser for JavaScript regex source, just enough for two conservative analyses: which
 * literals a match must contain (the prefilter) and which shapes can backtrack catastrophically
 * (pattern safety). Anything it does not understand becomes a `class` node (matches "some char"),
 * which only ever makes the analyses more conservative, never wrong.
 */

/** A parsed regex node. `class` = one character from a set we do not enumerate. */
export type RegexNode =
  | { type: 'alt'; branches: RegexNode[] }
  | { type: 'seq'; items: RegexNode[] }
  | { type: 'char'; chars: string[] }
  | { type: 'class' }
  | { type: 'assert' }
  | { type: 'look'; body: RegexNode }
  | { type: 'group'; body: RegexNode }
  | { type: 'quant'; body: RegexNode; min: number; max: number }
  | { type: 'backref' };

const SIMPLE_ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', f: '\f', v: '\v', '0': '\0' };

/**
 * Parses regex source into a `RegexNode` tree. Throws on unbalanced parentheses (callers compile
 * with `new RegExp` first, so this only happens on syntax this parser does not know).
 *
 * @example parseRegex('a(b|c)+') // { type: 'seq', items: [char a, quant(group(alt))] }
 */
export function parseRegex(source: string): RegexNode {
  let i = 0;

  function parseAlt(): RegexNode {
    const branches: RegexNode[] = [parseSeq()];
    while (source[i] === '|') {
      i++;
      branches.push(parseSeq());
    }
    return branches.length === 1 ? (branches[0] as RegexNode) : { type: 'alt', branches };
  }

  function parseSeq(): RegexNode {
    const items: RegexNode[] = [];
    while (i < source.length && source[i] !== '|' && source[i] !== ')') {
      const atom = parseAtom();
      items.push(parseQuantifier(atom));
    }
    return { type: 'seq', items };
  }

  function parseQuantifier(atom: RegexNode): RegexNode {
    const c = source[i];
    let min: number;
    let max: number;
    if (c === '*') [min, max] = [0, Infinity];
    else if (c === '+') [min, max] = [1, Infinity];
    else if (c === '?') [min, max] = [0, 1];
    else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(i));
      if (!m) return atom; // a literal "{" (legal without the u flag)
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
      i += m[0].length - 1;
    } else return atom;
    i++;
    if (source[i] === '?') i++; // lazy: same language, same analysis
    return parseQuantifier({ type: 'quant', body: atom, min, max });
  }

  function parseAtom(): RegexNode {
    const c = source[i++] as string;
    if (c === '(') return parseGroup();
    if (c === '[') return parseClass();
    if (c === '.') return { type: 'class' };
    if (c === '^' || c === '$') return { type: 'assert' };
    if (c === '\\') return parseEscape();
    return { type: 'char', chars: [c] };
  }

  function parseGroup(): RegexNode {
    let look = false;
    if (source.startsWith('?:', i)) i += 2;
    else if (source.startsWith('?=', i) || source.startsWith('?!', i)) [i, look] = [i + 2, true];
    else if (source.startsWith('?<=', i) || source.startsWith('?<!', i)) [i, look] = [i + 3, true];
    else if (source.startsWith('?<', i)) i = source.indexOf('>', i) + 1;
    const body = parseAlt();
    if (source[i] !== ')') throw new Error(`unbalanced parenthesis at ${i}`);
    i++;
    return look ? { type: 'look', body } : { type: 'group', body };
  }

  function parseEscape(): RegexNode {
    const c = source[i++] as string;
    if ('dDwWsSpP'.includes(c)) {
      if ((c === 'p' || c === 'P') && source[i] === '{') i = source.indexOf('}', i) + 1;
      return { type: 'class' };
    }
    if (c === 'b' || c === 'B') return { type: 'assert' };
    if (/[1-9]/.test(c) || (c === 'k' && source[i] === '<')) {
      while (/[0-9]/.test(source[i] ?? '')) i++;
      if (c === 'k') i = source.indexOf('>', i) + 1;
      return { type: 'backref' };
    }
    if (c === 'x' && /^[0-9a-fA-F]{2}/.test(source.slice(i, i + 2))) {
      i += 2;
      return { type: 'char', chars: [String.fromCharCode(parseInt(source.slice(i - 2, i), 16))] };
    }
    if (c === 'u' && /^[0-9a-fA-F]{4}/.test(source.slice(i, i + 4))) {
      i += 4;
      return { type: 'char', chars: [String.fromCharCode(parseInt(source.slice(i - 4, i), 16))] };
    }
    if (c === 'u' || c === 'c' || c === 'x') return { type: 'class' }; // \u{...}, \cX: not worth enumerating
    return { type: 'char', chars: [SIMPLE_ESCAPES[c] ?? c] };
  }

  function parseClass(): RegexNode {
    // Only a short list of plain characters ([Cc], [.]) is enumerated; ranges and negations are not.
    const chars: string[] = [];
    let simple = source[i] !== '^';
    if (source[i] === '^') i++;
    if (source[i] === ']') [chars[0], i] = [']', i + 1];
    while (i < source.length && source[i] !== ']') {
      let ch = source[i++] as string;
      if (ch === '\\') {
        const e = source[i++] as string;
        if (/[a-zA-Z0-9]/.test(e) && !SIMPLE_ESCAPES[e]) simple = false;
        ch = SIMPLE_ESCAPES[e] ?? e;
      } else if (ch === '-' && chars.length > 0 && source[i] !== ']') simple = false;
      chars.push(ch);
    }
    i++;
    const unique = [...new Set(chars)];
    return simple && unique.length > 0 && unique.length <= 4 ? { type: 'char', chars: unique } : { type: 'class' };
  }

  const tree = parseAlt();
  if (i < source.length) throw new Error(`unbalanced parenthesis at ${i}`);
  return tree;
}
