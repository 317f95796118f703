/**
 * The config's regexes through the real CLI on real files: patterns the old hand-written parser
 * derived wrong literals for are detected by `autofix scan`; a Python `re` config and the seed's
 * commented snippet pass `autofix config check` (which lists the translations and the comments);
 * a construct with no JavaScript equivalent and the ReDoS patterns of issue 11 — in every regex
 * field — are refused with exit 2, the file and the JSON path. The ReDoS checks run with an empty
 * verdict cache (AUTOFIX_CACHE_DIR), so recheck really analyses each pattern.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const REPO = path.resolve(__dirname, '../../..');
const CLI = path.join(REPO, 'bin', 'autofix');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'autofix-regex-cli-'));
const cacheDir = path.join(tmp, 'cache');
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const write = (name: string, text: string) => {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, text);
  return f;
};
const pattern = (id: string, p: string, flags?: string) => ({ id, name: id, pattern: p, ...(flags ? { flags } : {}), severity: 'error' });

async function autofix(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, ...args], { env: { ...process.env, AUTOFIX_CACHE_DIR: cacheDir } });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

test('`autofix scan` detects the patterns the old parser got wrong: a\\cIbcdef and (u) disk\\u{a0}full', async () => {
  const config = write(
    'escapes.json',
    JSON.stringify({ error_patterns: [pattern('control_escape', 'a\\cIbcdef'), pattern('braced_unicode', 'disk\\u{a0}full', 'u')] }),
  );
  const log = write('escapes.log', 'INFO ok\nx a\tbcdef y\nINFO ok\nERROR disk\u00a0full on /srv\n');
  const r = await autofix(['scan', '--json', '--config', config, log]);
  assert.equal(r.code, 0, r.stderr);
  const found = (JSON.parse(r.stdout) as { detections: Array<{ id: string; count: number; first_line: number }> }).detections;
  assert.deepEqual(
    found.map((d) => [d.id, d.count, d.first_line]),
    [
      ['control_escape', 1, 2],
      ['braced_unicode', 1, 4],
    ],
  );
});

test('a Python re config passes `config check`, which lists each translation; `autofix scan` uses the translations', async () => {
  const config = write(
    'python.json',
    JSON.stringify({
      error_patterns: [
        pattern('refused', '(?i)(?P<kind>redis|postgres): connection refused\\Z'),
        pattern('traceback', '\\A(?P<exc>\\w+Error): (?P=exc)?(?#the message)'),
        pattern('repeat', 'disk {,2}full'),
      ],
    }),
  );
  const table = await autofix(['config', 'check', '--config', config]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^ok: /);
  assert.match(table.stdout, /3 regex\(es\) translated from Python re syntax/);
  assert.match(table.stdout, /\$\.error_patterns\[0\]\.pattern.*\(\?i\) → flags "i"/);
  const json = JSON.parse((await autofix(['config', 'check', '--json', '--config', config])).stdout) as {
    translations: Array<{ path: string; to: string; flags: string; changes: string[] }>;
    config: { error_patterns: Array<{ pattern: string; flags: string }> };
  };
  assert.deepEqual(
    json.translations.map((t) => [t.path, t.to, t.flags]),
    [
      ['$.error_patterns[0].pattern', '(?<kind>redis|postgres): connection refused$', 'i'],
      ['$.error_patterns[1].pattern', '^(?<exc>\\w+Error): \\k<exc>?', ''],
      ['$.error_patterns[2].pattern', 'disk {0,2}full', ''],
    ],
  );
  assert.deepEqual(json.translations[0]?.changes, ['(?i) → flags "i"', '(?P<name>…) → (?<name>…)', '\\Z → $']);
  assert.equal(json.config.error_patterns[0]?.pattern, '(?<kind>redis|postgres): connection refused$');
  const log = write('python.log', 'REDIS: Connection Refused\nINFO fine\nValueError: bad\n  ValueError: indented, not at \\A\ndisk  full\n');
  const scan = JSON.parse((await autofix(['scan', '--json', '--config', config, log])).stdout) as { detections: Array<{ id: string; first_line: number }> };
  assert.deepEqual(
    scan.detections.map((d) => [d.id, d.first_line]),
    [
      ['refused', 1],
      ['traceback', 3],
      ['repeat', 5],
    ],
  );
});

test("the seed's config with its commented auto_fix_config snippet (// comments, as in the README) passes `config check`", async () => {
  // The seed README's two snippets in one file: the error_patterns definition and, verbatim,
  // the auto_fix_config block with its `//` comments.
  const text = `{
  "error_patterns": [
    {
      "id": "unique_id",
      "name": "エラー名",
      "pattern": "正規表現パターン",
      "severity": "warning",
      "auto_fix": true,
      "actions": [
        {
          "type": "alert",
          "description": "説明"
        }
      ]
    }
  ],
  "auto_fix_config": {
    "max_retries": 3,              // 最大リトライ回数
    "retry_delay": 60,             // リトライ間隔（秒）
    "cooldown_period": 300,        // クールダウン期間（秒）
    "enable_notifications": true,  // 通知有効化
    "notification_channels": ["log", "email"],
    "backup_before_fix": true      // 修復前バックアップ
  }
}
`;
  const config = write('seed-commented.json', text);
  const r = await autofix(['config', 'check', '--config', config]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ok: .*1 patterns/);
  assert.match(r.stdout, /read as JSON with comments \(not plain JSON\)/);
  const json = JSON.parse((await autofix(['config', 'check', '--json', '--config', config])).stdout) as { comments: boolean; trailing_commas: boolean; config: { auto_fix_config: { cooldown_period: number } } };
  assert.equal(json.comments, true);
  assert.equal(json.trailing_commas, false);
  assert.equal(json.config.auto_fix_config.cooldown_period, 300);
  // A byte-order mark (Windows editors) is not content.
  assert.equal((await autofix(['config', 'check', '--config', write('seed-bom.json', `\uFEFF${text}`)])).code, 0);
  // Block comments and trailing commas too; a syntax error still names line, column and JSON path.
  const extended = write('extended.json', '{ /* patterns */ "error_patterns": [ { "id": "x", "name": "x", "pattern": "boom", "severity": "error", }, ], }');
  assert.match((await autofix(['config', 'check', '--config', extended])).stdout, /comments and trailing commas/);
  const broken = write('broken.json', '{\n  "error_patterns": [\n    { "id": "x" "name": "x" }\n  ]\n}\n');
  const b = await autofix(['config', 'check', '--config', broken]);
  assert.equal(b.code, 2);
  assert.ok(b.stderr.includes(broken), b.stderr);
  assert.match(b.stderr, /at \$\.error_patterns\[0\]\.name: not valid JSON: "," expected at line 3, column 17/);
});

const refusals: Array<[string, Record<string, unknown>, string, RegExp]> = [
  ['verbose flag', { error_patterns: [pattern('v', '(?x) a b  # spaces')] }, '$.error_patterns[0].pattern', /verbose flag \(\?x\)/],
  ['possessive quantifier', { error_patterns: [pattern('p', 'a++b')] }, '$.error_patterns[0].pattern', /possessive quantifiers/],
  ['conditional group', { error_patterns: [pattern('c', '(a)?(?(1)b|c)')] }, '$.error_patterns[0].pattern', /conditional groups/],
  ['inline flag in the middle', { error_patterns: [pattern('m', 'error(?i)x')] }, '$.error_patterns[0].pattern', /must be at the very start/],
  ['\\z (JavaScript reads "z")', { error_patterns: [pattern('z', 'failed\\z')] }, '$.error_patterns[0].pattern', /\\z is not Python re/],
  ['\\A inside a class', { managed: { kill_allow_list: ['^[\\A]gunicorn'] }, error_patterns: [] }, '$.managed.kill_allow_list[0]', /\\A inside a class/],
  ['an inline flag where there are no flags', { services: { web: { process_match: '(?i)gunicorn' } }, error_patterns: [] }, '$.services.web.process_match', /no flags/],
  ['\\p{…} without u', { health_checks: { http: { endpoints: [{ name: 'h', url: 'http://127.0.0.1:1/', body_match: '\\p{L}+' }] } }, error_patterns: [] }, '$.health_checks.http.endpoints[0].body_match', /need the u flag/],
];
for (const [name, body, jsonPath, expected] of refusals) {
  test(`\`config check\` refuses an untranslatable regex (${name}): exit 2, file, JSON path`, async () => {
    const file = write(`refuse-${name.replace(/\W+/g, '-')}.json`, JSON.stringify(body));
    const r = await autofix(['config', 'check', '--config', file]);
    assert.equal(r.code, 2, r.stdout);
    assert.ok(r.stderr.includes(file), r.stderr);
    assert.ok(r.stderr.includes(`at ${jsonPath}: cannot be used as a JavaScript regular expression`), r.stderr);
    assert.match(r.stderr, expected);
  });
}

const attacks: Array<[string, Record<string, unknown>, string]> = [
  ['x*x*x*x*x*x*y', { error_patterns: [pattern('ok', 'ENOSPC'), pattern('evil', 'x*x*x*x*x*x*y')] }, '$.error_patterns[1].pattern'],
  ['.{0,9999}a.{0,9999}b.{0,9999}c', { error_patterns: [pattern('evil', '.{0,9999}a.{0,9999}b.{0,9999}c')] }, '$.error_patterns[0].pattern'],
  ['kill_allow_list', { managed: { kill_allow_list: ['^node', '^(\\w+\\s?)*$'] }, error_patterns: [] }, '$.managed.kill_allow_list[1]'],
  ['process_match', { services: { web: { process_match: '(a|a)*$' } }, error_patterns: [] }, '$.services.web.process_match'],
  ['body_match', { health_checks: { http: { endpoints: [{ name: 'h', url: 'http://127.0.0.1:1/', body_match: '(?:ok\\s*)+\\s*done' }] } }, error_patterns: [] }, '$.health_checks.http.endpoints[0].body_match'],
];
for (const [name, body, jsonPath] of attacks) {
  test(`\`config check\` refuses a ReDoS regex (${name}) with the attack string, the file and the JSON path`, async () => {
    const file = write(`redos-${name.replace(/\W+/g, '-')}.json`, JSON.stringify(body));
    const r = await autofix(['config', 'check', '--config', file]);
    assert.equal(r.code, 2, r.stdout);
    assert.ok(r.stderr.includes(file), r.stderr);
    assert.ok(r.stderr.includes(`at ${jsonPath}: refused: `), r.stderr);
    assert.match(r.stderr, /(exponential|degree polynomial).*attack string: '/);
  });
}
