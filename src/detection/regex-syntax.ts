/**
 * One parser for regex source everywhere (literal prefilter, pattern safety, Python translation):
 * `@eslint-community/regexpp`, the ECMAScript regex parser ESLint maintains, including Annex B
 * (the legacy syntax a regex without the `u` flag accepts: `\c` fallbacks, octal escapes,
 * identity escapes such as `\A`, a lone `{`).
 */
import { RegExpParser, type AST } from '@eslint-community/regexpp';

/**
 * Regex modifiers (`(?i:…)`, ES2025) are only parsed when this Node.js compiles them (Node 20
 * does not), so regexpp never accepts a pattern the engine refuses.
 */
function engineSupportsModifiers(): boolean {
  try {
    new RegExp('(?i:a)');
    return true;
  } catch {
    return false;
  }
}

const parser = new RegExpParser({ ecmaVersion: engineSupportsModifiers() ? 2025 : 2024 });

/**
 * Trees already parsed (the config load translates, checks and compiles each regex: one parse
 * instead of four). Callers only read trees. Oldest dropped beyond MAX_PARSED.
 */
const parsed = new Map<string, AST.Pattern>();
const MAX_PARSED = 512;

/**
 * Parses the source of a regex (without slashes) under `flags`. Throws regexpp's
 * `RegExpSyntaxError` (with `index`, the offset where parsing failed) on invalid syntax. The tree
 * may be shared with other callers: never modify it.
 *
 * @example parseRegex('a\\cIb', '').alternatives[0]?.elements[1] // { type: 'Character', value: 9, raw: '\\cI', ... }
 */
export function parseRegex(source: string, flags: string): AST.Pattern {
  const unicode = flags.includes('u');
  const unicodeSets = flags.includes('v');
  const key = `${Number(unicode)}${Number(unicodeSets)}${source}`;
  const hit = parsed.get(key);
  if (hit) return hit;
  const tree = parser.parsePattern(source, 0, source.length, { unicode, unicodeSets });
  if (parsed.size >= MAX_PARSED) parsed.delete(parsed.keys().next().value as string);
  parsed.set(key, tree);
  return tree;
}

/** The child nodes that hold sub-expressions (alternatives of groups and lookarounds, quantified elements). */
export function subExpressions(node: AST.Node): AST.Node[] {
  switch (node.type) {
    case 'Pattern':
    case 'Group':
    case 'CapturingGroup':
      return node.alternatives;
    case 'Assertion':
      return node.kind === 'lookahead' || node.kind === 'lookbehind' ? node.alternatives : [];
    case 'Alternative':
      return node.elements;
    case 'Quantifier':
      return [node.element];
    default:
      return [];
  }
}

/** Every node of the tree below `node` (itself included) that satisfies `pred`, in source order. */
export function findNodes<T extends AST.Node>(node: AST.Node, pred: (n: AST.Node) => n is T): T[] {
  const out: T[] = [];
  const visit = (n: AST.Node) => {
    if (pred(n)) out.push(n);
    if (n.type === 'CharacterClass') n.elements.forEach(visit);
    else if (n.type === 'CharacterClassRange') [n.min, n.max].forEach(visit);
    else subExpressions(n).forEach(visit);
  };
  visit(node);
  return out;
}
