/**
 * Python `re` patterns translated to JavaScript mean the same: each pattern is run by the real
 * python3 (`re.search`) and, translated, by V8 on the same strings, and the answers must agree;
 * constructs with no exact equivalent are refused, never accepted with another meaning.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { RegexRefusedError, translatePythonRegex } from '../../src/detection/python-regex';

/** [Python pattern, strings to search]. Strings are single log lines (no trailing newline). */
const SAME_MEANING: Array<[string, string[]]> = [
  ['(?i)connection refused', ['Connection Refused', 'CONNECTION REFUSED by peer', 'connection reset']],
  ['(?P<code>\\d{3}) (?P=code)', ['500 500', '500 501', 'x 404 404 y']],
  ['\\AERROR: (?P<what>\\w+)\\Z', ['ERROR: disk', ' ERROR: disk', 'ERROR: disk full', 'ERROR: disk\n']],
  ['(?s)begin.end', ['begin\nend', 'begin-end', 'beginend']],
  ['(?m)^error$', ['x\nerror\ny', 'error', 'errors']],
  ['(?ims)^fatal.\\Z', ['x\nFATAL!', 'fatal!\nmore', 'FATAL\n']],
  ['(?m)\\Afirst', ['first line', 'x\nfirst']],
  ['(?m)last\\Z', ['the last', 'last\nx']],
  ['disk(?#the device) full', ['disk full', 'disk(?#the device) full']],
  ['a{,2}b', ['b', 'aab', 'aaab', 'a{,2}b']],
  ['x{,}y', ['y', 'xxxy', 'x{,}y']],
  ['bell\\a', ['bell\x07', 'bella']],
  ['\\U0001F600 ok', ['😀 ok', 'ok']],
  ['[\\U000000e9\\u00e8]t', ['ét', 'èt', 'et']],
  ['(?u)caf\\w', ['cafe', 'caf!']],
  ['\\012?x\\0', ['x\0', '\nx\0', 'x']],
];

function pythonSearch(pattern: string, strings: string[]): boolean[] {
  const code = 'import json,re,sys\np,ss=json.load(sys.stdin)\nprint(json.dumps([re.search(p,s) is not None for s in ss]))';
  const r = spawnSync('python3', ['-c', code], { input: JSON.stringify([pattern, strings]), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as boolean[];
}

for (const [pattern, strings] of SAME_MEANING) {
  test(`python re ${JSON.stringify(pattern)} means the same in JavaScript once translated`, () => {
    const t = translatePythonRegex(pattern, '');
    const re = new RegExp(t.source, t.flags);
    assert.deepEqual(
      strings.map((s) => re.test(s)),
      pythonSearch(pattern, strings),
      `/${t.source}/${t.flags} (${t.changes.join(', ')})`,
    );
  });
}

test('plain JavaScript regexes come back unchanged', () => {
  for (const [src, flags] of [
    ['\\] "[^"]*" 5\\d\\d(?: |$)', ''],
    ['(?<code>\\d+) \\k<code>', ''],
    ['\\p{L}+\\u{1F600}', 'u'],
    ['a\\cIb\\x41\\u0042[\\b]\\012', ''],
    ['[^]*end', 's'],
    ['(?<=x)y(?!z)', ''],
  ] as const) {
    assert.deepEqual(translatePythonRegex(src, flags), { source: src, flags, changes: [] });
  }
});

test('constructs with another meaning or no equivalent are refused, with what to write instead', () => {
  const refused: Array<[string, string, RegExp]> = [
    ['(?x) a b', '', /verbose flag/],
    ['a++', '', /possessive/],
    ['(?>a+)b', '', /atomic groups/],
    ['(a)?(?(1)b|c)', '', /conditional groups/],
    ['error(?i)x', '', /at the very start/],
    ['(?i:a)b', '', /scoped inline flags/],
    ['(?a)\\w', '', /ASCII flag/],
    ['(?L)\\w', '', /locale flag/],
    ['end\\z', '', /\\z is not Python re/],
    ['[\\Z]', '', /\\Z inside a class/],
    ['\\N{EM DASH}', '', /named characters/],
    ['\\p{L}', '', /need the u flag/],
    ['disk\\u{a0}full', '', /\\u needs 4 hex digits/],
    ['\\e', '', /not an escape in JavaScript/],
    ['a\\c1', '', /\\c must be followed by a letter/],
    ['(a)\\2', '', /group 2, which does not exist/],
    ['[]a]', '', /class with "\]" in Python/],
    ['[^]a]', '', /class with "\]" in Python/],
    ['[\\U0001F600]', '', /inside a class needs the u flag/],
  ];
  for (const [src, flags, why] of refused) {
    assert.throws(() => translatePythonRegex(src, flags), (e: unknown) => e instanceof RegexRefusedError && why.test(e.message), src);
  }
  assert.throws(() => translatePythonRegex('(?i)x', '', { flagsAllowed: false }), /no flags/);
});
