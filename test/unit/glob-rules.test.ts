/**
 * One set of glob rules: detection's walker (reads) and fs-safe's (file actions, through fds)
 * expand every pattern to the same regular files — dot names and dot directories skipped by
 * wildcards, symlinks a wildcard reaches never followed — so the daemon never scans a file that
 * rotation would not touch.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expandGlob as detectionGlob } from '../../src/detection/glob';
import { expandGlob as actionGlob, withRoots } from '../../src/fs-safe';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autofix-glob-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const root = path.join(dir, 'root');
const put = (rel: string) => {
  fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  fs.writeFileSync(path.join(root, rel), 'x\n');
};
for (const f of ['logs/app.log', 'logs/app.log.1', 'logs/.hidden.log', 'logs/a/b/deep.log', 'logs/.cache/c.log', 'logs/[x].log', 'logs/x.log', 'other/elsewhere.log']) put(f);
fs.mkdirSync(path.join(dir, 'outside'));
fs.writeFileSync(path.join(dir, 'outside', 'secret.log'), 's\n');
fs.symlinkSync(path.join(dir, 'outside', 'secret.log'), path.join(root, 'logs', 'link.log'));
fs.symlinkSync(path.join(dir, 'outside'), path.join(root, 'logs', 'linkdir'));

const PATTERNS = ['logs/*.log', 'logs/**/*.log', '**/*.log', 'logs/?.log', 'logs/[a-x]*.log', 'logs/*/b/*.log', 'logs/.*.log', 'logs/app.log*', 'logs/{app,x}.log', '*/linkdir/*.log'];

test('detection and file actions expand every pattern to the same files', async () => {
  await withRoots([root], async (roots) => {
    for (const p of PATTERNS) {
      const glob = path.join(root, p);
      const forActions = (await actionGlob(roots, glob)).matches.filter((m) => m.stat.isFile()).map((m) => m.loc.path);
      assert.deepEqual(detectionGlob(glob), forActions, p);
    }
  });
});

test('what the rules say, by example', () => {
  const rel = (p: string) => detectionGlob(path.join(root, p)).map((f) => path.relative(root, f));
  assert.deepEqual(rel('logs/*.log'), ['logs/[x].log', 'logs/app.log', 'logs/x.log'], 'no dot file, no symlinked file');
  assert.deepEqual(rel('logs/.*.log'), ['logs/.hidden.log'], 'a dot pattern matches dot names');
  assert.deepEqual(rel('**/*.log').filter((f) => f.includes('deep') || f.includes('.cache') || f.includes('secret')), ['logs/a/b/deep.log'], '** skips dot and symlinked directories');
});
