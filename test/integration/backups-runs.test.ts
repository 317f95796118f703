/**
 * Backups you can trust, on the dev server: two runs with the same incident id never share a
 * backup (the second run's compensation puts back what IT saw, not the first run's older bytes);
 * retention prunes what is too old from the daemon's detection loop, with a line in auto_fix.log;
 * `autofix backups list|show|prune` shows and applies the same.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { SagaInput, SagaResult } from '../../src/workflows/definitions';
import { makeSandbox, type Sandbox } from '../helpers/sandbox';
import { startTestWorker, type TestTemporal } from '../helpers/temporal';

const REPO = path.resolve(__dirname, '../../..');
const run = promisify(execFile);

describe('backups per saga run, and their retention', () => {
  let sb: Sandbox;
  let t: TestTemporal;
  let cache: string;
  const incidentId = `incident-cache_full-${Date.now()}`;

  before(async () => {
    sb = makeSandbox();
    cache = path.join(sb.dir, 'cache');
    mkdirSync(cache);
    t = await startTestWorker({ configPath: sb.configPath });
  });
  after(async () => {
    await t.close();
    sb.cleanup();
  });

  const configure = (actions: unknown[]) =>
    sb.writeConfig({
      error_patterns: [{ id: 'cache_full', name: 'cache full', pattern: 'never-in-a-log', severity: 'error', auto_fix: true, actions }],
      managed: { roots: [sb.dir], cache_dirs: [cache] },
    });
  const saga = (): Promise<SagaResult> => {
    const input: SagaInput = { incidentId, patternId: 'cache_full', detection: { id: 'cache_full', count: 1, source: 'log', samples: ['x'] }, host: 'testhost', startedBy: 'cli' };
    return t.client.workflow.execute('remediationSaga', { workflowId: incidentId, taskQueue: t.taskQueue, args: [input] });
  };

  test('two runs with the same incident id: each has its own backup; the second compensation restores the newer data', async () => {
    configure([{ type: 'cache_clear' }]);
    writeFileSync(path.join(cache, 'page.html'), 'A: what the first run saw');
    const first = await saga();
    assert.equal(first.outcome, 'fixed', JSON.stringify(first, null, 2));
    writeFileSync(path.join(cache, 'page.html'), 'B: newer data, written after the first run');
    configure([{ type: 'cache_clear' }, { type: 'kill_process_on_port', port: 1 }]); // now fails after the clear
    const second = await saga();
    assert.equal(second.outcome, 'failed_compensated', JSON.stringify(second, null, 2));
    assert.equal(readFileSync(path.join(cache, 'page.html'), 'utf8'), 'B: newer data, written after the first run');
    assert.notEqual(second.steps[0]?.backup, first.steps[0]?.backup);
    assert.equal(readdirSync(path.join(sb.dataDir, 'backups', incidentId)).length, 2, 'one folder per run');
  });

  test('autofix backups list/show/prune, and retention from the daemon loop with a line in auto_fix.log', async () => {
    const cli = (...args: string[]) => run(process.execPath, [path.join(REPO, 'bin', 'autofix'), 'backups', ...args, '--config', sb.configPath]);
    const listed = JSON.parse((await cli('list', '--json')).stdout) as { runs: Array<{ incident: string; run: string; dir: string; steps: string[] }> };
    const mine = listed.runs.filter((r) => r.incident === incidentId);
    assert.equal(mine.length, 2);
    assert.deepEqual(mine.map((r) => r.steps), [['00-cache_clear:content'], ['00-cache_clear:content']]);
    assert.match((await cli('list')).stdout, new RegExp(`${incidentId}.*00-cache_clear:content`));
    assert.match((await cli('show', incidentId)).stdout, /page\.html .*file/);
    // Nothing is old yet: the dry run prunes nothing.
    assert.match((await cli('prune', '--dry-run')).stdout, /nothing to prune/);
    // The first run's backup ages past backups.max_age_days.
    const old = mine[0]!;
    const manifest = path.join(old.dir, '00-cache_clear', 'manifest.json');
    const m = JSON.parse(readFileSync(manifest, 'utf8')) as { createdAt: string };
    m.createdAt = new Date(Date.now() - 20 * 86_400_000).toISOString();
    writeFileSync(manifest, JSON.stringify(m));
    const dry = JSON.parse((await cli('prune', '--dry-run', '--json')).stdout) as { pruned: Array<{ dir: string; why: string }> };
    assert.deepEqual(dry.pruned.map((p) => p.dir), [old.dir]);
    assert.match(dry.pruned[0]?.why ?? '', /older than backups\.max_age_days \(14\)/);
    assert.ok(existsSync(old.dir), 'a dry run removes nothing');
    // The daemon's detection loop applies retention.
    const r = await t.client.workflow.execute('autoFixDaemon', { workflowId: `daemon-retention-${Date.now()}`, taskQueue: t.taskQueue, args: [{ once: true, loopCount: 1 }] });
    assert.equal((r as { loops: number }).loops, 1);
    assert.equal(existsSync(old.dir), false, 'pruned');
    assert.ok(existsSync(mine[1]!.dir), 'the newer run kept');
    assert.match(readFileSync(path.join(sb.dataDir, 'logs', 'auto_fix.log'), 'utf8'), new RegExp(`バックアップを削除しました: ${old.dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} .*older than backups\\.max_age_days`));
  });
});
