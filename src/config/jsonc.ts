/**
 * Reads a config file as JSON with comments (`//` and block comments) and trailing commas, the way
 * the seed's README writes its snippets, with `jsonc-parser` (VS Code's parser). Syntax errors name
 * the line, the column and the JSON path where they are.
 */
import { createScanner, getLocation, parseTree, printParseErrorCode, SyntaxKind, type Node, type ParseError } from 'jsonc-parser';

/** The parsed value and what the file used beyond plain JSON. */
export interface JsoncResult {
  value: unknown;
  comments: boolean;
  trailingCommas: boolean;
}

/** A syntax error: 1-based line and column, JSON path (segments) of the place, and what was expected. */
export class JsoncSyntaxError extends Error {
  override readonly name = 'JsoncSyntaxError';
  constructor(
    readonly line: number,
    readonly column: number,
    readonly path: Array<string | number>,
    message: string,
  ) {
    super(message);
  }
}

const MESSAGES: Record<string, string> = {
  InvalidSymbol: 'unexpected character',
  InvalidNumberFormat: 'invalid number',
  PropertyNameExpected: 'a property name in double quotes expected',
  ValueExpected: 'a value expected',
  ColonExpected: '":" expected',
  CommaExpected: '"," expected',
  CloseBraceExpected: '"}" expected',
  CloseBracketExpected: '"]" expected',
  EndOfFileExpected: 'end of file expected after the value',
  InvalidCommentToken: 'invalid comment',
  UnexpectedEndOfComment: 'unterminated comment',
  UnexpectedEndOfString: 'unterminated string',
  UnexpectedEndOfNumber: 'unterminated number',
  InvalidUnicode: 'invalid \\u escape',
  InvalidEscapeCharacter: 'invalid escape in a string',
  InvalidCharacter: 'control character in a string',
};

/**
 * The value of a parse tree. Objects are built with own data properties (`Object.fromEntries`),
 * so a `"__proto__"` key stays a key and never becomes the object's prototype.
 */
function valueOf(node: Node): unknown {
  if (node.type === 'object') {
    return Object.fromEntries((node.children ?? []).map((p) => [p.children?.[0]?.value as string, p.children?.[1] ? valueOf(p.children[1]) : undefined]));
  }
  if (node.type === 'array') return (node.children ?? []).map(valueOf);
  return node.value as unknown;
}

function hasComments(text: string): boolean {
  const scanner = createScanner(text, false);
  for (let k = scanner.scan(); k !== SyntaxKind.EOF; k = scanner.scan()) {
    if (k === SyntaxKind.LineCommentTrivia || k === SyntaxKind.BlockCommentTrivia) return true;
  }
  return false;
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

/**
 * Parses JSON with comments and trailing commas. Throws `JsoncSyntaxError` at the first error.
 *
 * @example parseJsonc('{ "a": 1, // one\n }') // { value: { a: 1 }, comments: true, trailingCommas: true }
 */
export function parseJsonc(text: string): JsoncResult {
  const errors: ParseError[] = [];
  const tree = parseTree(text, errors, { allowTrailingComma: true, disallowComments: false });
  const first = errors[0];
  if (first || !tree) {
    const offset = first?.offset ?? 0;
    const { line, column } = lineColumn(text, offset);
    const what = first ? (MESSAGES[printParseErrorCode(first.error)] ?? printParseErrorCode(first.error)) : 'the file is empty';
    throw new JsoncSyntaxError(line, column, getLocation(text, offset).path, what);
  }
  const strict: ParseError[] = [];
  parseTree(text, strict, { allowTrailingComma: false, disallowComments: false });
  return { value: valueOf(tree), comments: hasComments(text), trailingCommas: strict.length > 0 };
}
