import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Redis from 'ioredis';
import { cacheClear, redisMatchFor } from '../../src/actions/cache-clear';
import { backupTargets, restoreBackup } from '../../src/backup';
import { failureOf, makeConfig, makeCtx, makeFixture, snapshotTree, writeFile } from './actions-files-fixture';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('cache_clear (files)', () => {
  const fx = makeFixture();
  after(() => fx.cleanup());
  const cache = path.join(fx.root, 'cache');

  it('empties the cache dir but keeps the dir; a symlink inside is removed, its target kept', async () => {
    writeFile(path.join(cache, 'a.bin'), 'a');
    writeFile(path.join(cache, 'sub', 'b.bin'), 'b');
    const target = writeFile(path.join(fx.outside, 'keep.txt'), 'keep');
    fs.symlinkSync(target, path.join(cache, 'link'));
    fs.chmodSync(cache, 0o750);
    const before = snapshotTree(cache);
    const ctx = makeCtx(makeConfig(fx, { cache_dirs: [cache] }));
    const plan = await cacheClear.plan(ctx, { type: 'cache_clear', redis: false });
    assert.deepEqual(snapshotTree(cache), before);
    assert.match(plan.steps[0] ?? '', /remove 4 entries/);
    const ref = await backupTargets(plan.targets, { backupRoot: path.join(fx.dataDir, 'backups'), incidentId: 'cc', runId: 'run-1', label: '01-cache_clear', roots: [fx.root] });
    const r = await cacheClear.run(ctx, { type: 'cache_clear', redis: false });
    assert.equal(r.changed.length, 4);
    assert.deepEqual(fs.readdirSync(cache), []);
    assert.equal(fs.statSync(cache).mode & 0o777, 0o750);
    assert.equal(fs.readFileSync(target, 'utf8'), 'keep');
    await restoreBackup(ref);
    assert.deepEqual(snapshotTree(cache), before);
  });

  it('refuses a cache dir outside the roots', async () => {
    const victim = writeFile(path.join(fx.outside, 'cache', 'x'), 'x');
    const ctx = makeCtx(makeConfig(fx, { cache_dirs: [path.join(fx.outside, 'cache')] }));
    await assert.rejects(cacheClear.run(ctx, { type: 'cache_clear', redis: false }), failureOf('UnsafePathError'));
    assert.equal(fs.readFileSync(victim, 'utf8'), 'x');
  });

  it('escapes glob metacharacters of the prefix for MATCH', () => {
    assert.equal(redisMatchFor('cache:v[1]*?\\'), 'cache:v\\[1\\]\\*\\?\\\\*');
  });
});

describe('cache_clear (real Redis)', () => {
  const fx = makeFixture();
  const id = randomBytes(6).toString('hex');
  const prefix = `autofix-test:${id}:cache[x]:`;
  const other = `autofix-test:${id}:session:`;
  // Shares the literal start of the prefix up to "[": only a glob bug would match it.
  const lookalike = `autofix-test:${id}:cachex:`;
  const redis = new Redis(REDIS_URL, { lazyConnect: true });
  before(async () => {
    await redis.connect();
    for (let i = 0; i < 1200; i++) await redis.set(`${prefix}${i}`, `v${i}`);
    await redis.set(`${other}1`, 'keep');
    await redis.set(`${lookalike}1`, 'keep');
  });
  after(async () => {
    const left = await redis.keys(`autofix-test:${id}:*`);
    if (left.length) await redis.unlink(...left);
    redis.disconnect();
    fx.cleanup();
  });

  it('UNLINKs only keys under the prefix; other keys survive', async () => {
    const ctx = makeCtx(makeConfig(fx, { redis_cache_prefix: prefix }, { health_checks: { redis: { url: REDIS_URL } } }));
    const plan = await cacheClear.plan(ctx, { type: 'cache_clear', redis: true });
    assert.equal(await redis.exists(`${prefix}0`), 1, 'plan touches nothing');
    assert.match(plan.steps.join('\n'), /UNLINK Redis keys/);
    const r = await cacheClear.run(ctx, { type: 'cache_clear', redis: true });
    assert.equal(r.details?.redis_deleted, 1200);
    assert.equal((await redis.keys(`${prefix.replace(/[[\]]/g, '\\$&')}*`)).length, 0);
    assert.equal(await redis.get(`${other}1`), 'keep');
    assert.equal(await redis.get(`${lookalike}1`), 'keep');
  });

  it('with a backup: keys are DUMPed before removal and compensation RESTOREs them with their TTLs; a value the app rewrote is kept', async () => {
    const p = `autofix-test:${id}:dump:`;
    for (let i = 0; i < 50; i++) await redis.set(`${p}s${i}`, `value ${i}`);
    await redis.set(`${p}ttl`, 'expires', 'PX', 600_000);
    await redis.hset(`${p}hash`, { a: '1', b: Buffer.from([0, 255, 7]) });
    await redis.rpush(`${p}list`, 'x', 'y', 'z');
    const cfg = makeConfig(fx, { redis_cache_prefix: p }, { health_checks: { redis: { url: REDIS_URL } } });
    const ctx = makeCtx(cfg, 'inc-redis');
    const plan = await cacheClear.plan(ctx, { type: 'cache_clear', redis: true });
    assert.equal(plan.redisPrefix, p);
    assert.match(plan.steps.join('\n'), /53 key\(s\).*DUMPed into the backup first/);
    const store = path.join(fx.dataDir, 'backups');
    const ref = await backupTargets(plan.targets, { backupRoot: store, incidentId: 'inc-redis', runId: 'run-1', label: '00-cache_clear', roots: [fx.root], redisPrefix: p });
    ctx.backup = { store, run: path.dirname(ref.dir), step: ref.dir };
    const r = await cacheClear.run(ctx, { type: 'cache_clear', redis: true });
    assert.equal(r.details?.redis_deleted, 53);
    assert.deepEqual(await redis.keys(`${p}*`), []);
    await redis.set(`${p}s1`, 'newer, written by the app after the clear');
    const back = await restoreBackup(ref, { redisUrl: REDIS_URL });
    assert.match(back.restored.join(' '), /redis: 52 key\(s\)/);
    assert.match(back.notes.join(' '), /1 key\(s\) exist again with newer values/);
    assert.equal(await redis.get(`${p}s0`), 'value 0');
    assert.equal(await redis.get(`${p}s1`), 'newer, written by the app after the clear');
    assert.deepEqual(await redis.lrange(`${p}list`, 0, -1), ['x', 'y', 'z']);
    assert.deepEqual(await redis.hgetBuffer(`${p}hash`, 'b'), Buffer.from([0, 255, 7]));
    const ttl = await redis.pttl(`${p}ttl`);
    assert.ok(ttl > 590_000 && ttl <= 600_000, `the TTL left: ${ttl}`);
    assert.equal(await redis.pttl(`${p}s0`), -1, 'no TTL stays no TTL');
  });

  it('above backups.redis_max_keys the plan says the Redis part is not reversible', async () => {
    const p = `autofix-test:${id}:many:`;
    for (let i = 0; i < 30; i++) await redis.set(`${p}${i}`, 'v');
    const ctx = makeCtx(makeConfig(fx, { redis_cache_prefix: p }, { health_checks: { redis: { url: REDIS_URL } }, backups: { redis_max_keys: 10 } }));
    const plan = await cacheClear.plan(ctx, { type: 'cache_clear', redis: true });
    assert.equal(plan.redisPrefix, undefined);
    assert.match(plan.steps.join('\n'), /not reversible — more than backups\.redis_max_keys \(10\)/);
  });

  it('refuses an empty prefix (it would match every key)', async () => {
    const ctx = makeCtx(makeConfig(fx, { redis_cache_prefix: '' }, { health_checks: { redis: { url: REDIS_URL } } }));
    await assert.rejects(cacheClear.run(ctx, { type: 'cache_clear', redis: true }), failureOf('ConfigError', /redis_cache_prefix is empty/));
    assert.equal(await redis.get(`${other}1`), 'keep');
  });
});
