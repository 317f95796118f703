/**
 * The waker's coalescing, step by step on a manual clock: one wake in flight, loops that cover
 * pending events, spacing that doubles under a burst and resets after a quiet spell, resends of
 * a wake no loop followed, daemons learned from loops and forgotten when gone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Waker, type Clock } from '../../src/watch/waker';
import type { RunNowArgs } from '../../src/workflows/definitions';

class ManualClock implements Clock {
  t = 1_000_000;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();
  now = () => this.t;
  setTimeout = (fn: () => void, ms: number) => {
    this.timers.set(++this.seq, { at: this.t + ms, fn });
    return this.seq;
  };
  clearTimeout = (h: unknown) => void this.timers.delete(h as number);
  /** Moves time forward by `ms`, firing due timers in order and letting promises settle between them. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      const due = [...this.timers].filter(([, x]) => x.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.t = due[1].at;
      due[1].fn();
    }
    this.t = end;
    await settle();
  }
}
const settle = () => new Promise<void>((r) => setImmediate(r));

function setup(o: { targets?: string[]; fail?: (id: string) => Error | undefined } = {}) {
  const clock = new ManualClock();
  const sent: Array<{ id: string; args: RunNowArgs; at: number }> = [];
  const waker = new Waker({
    clock,
    targets: o.targets ?? ['daemon'],
    send: async (id, args) => {
      sent.push({ id, args, at: clock.now() });
      const err = o.fail?.(id);
      if (err) throw err;
    },
    isGone: (err) => (err as Error).message === 'gone',
  });
  return { clock, sent, waker };
}

test('the first event wakes the daemon at once; more events wait for the loop it asked for', async () => {
  const { clock, sent, waker } = setup();
  waker.notify({ reason: 'log' });
  await clock.advance(0);
  assert.deepEqual(sent.map((s) => s.args), [{ reason: 'log' }]);
  for (let i = 0; i < 1000; i++) waker.notify({ reason: 'log' });
  await clock.advance(3000);
  assert.equal(sent.length, 1, 'no second wake while the first is in flight');
  waker.loopStarted({ workflowId: 'daemon', at: clock.now(), checks: ['json'] });
  // The events came before that loop started: it reads them; nothing more to send.
  await clock.advance(10_000);
  assert.equal(sent.length, 1);
  assert.equal(waker.busy, false);
});

test('a process death forces its checks, and only a loop that runs them settles it', async () => {
  const { clock, sent, waker } = setup();
  waker.notify({ reason: 'log' });
  waker.notify({ reason: 'process', checks: ['redis'] });
  await clock.advance(0);
  assert.deepEqual(sent[0]?.args, { reason: 'process', checks: ['redis'] });
  // A scheduled loop without the redis check does not cover it: the wake is sent again later.
  waker.loopStarted({ workflowId: 'daemon', at: clock.now() + 1, checks: ['json'] });
  await clock.advance(4999);
  assert.equal(sent.length, 1);
  await clock.advance(2);
  assert.equal(sent.length, 2, 'resent after 5 s without a covering loop');
  waker.loopStarted({ workflowId: 'daemon', at: clock.now(), checks: ['json', 'redis'] });
  await clock.advance(60_000);
  assert.equal(sent.length, 2);
  assert.equal(waker.stats.covered, 1);
});

test('a burst of 10,000 lines per second for 60 s: one wake at a time, spaced 1, 2, 4 … 30 s', async () => {
  const { clock, sent, waker } = setup();
  const start = clock.now();
  // The daemon starts the asked-for loop 150 ms after each wake.
  let answered = 0;
  for (let ms = 0; ms < 60_000; ms += 10) {
    for (let i = 0; i < 100; i++) waker.notify({ reason: 'log' });
    await clock.advance(10);
    if (sent.length > answered && clock.now() - (sent[answered]!.at) >= 150) {
      waker.loopStarted({ workflowId: 'daemon', at: clock.now(), checks: ['json'] });
      answered++;
    }
  }
  assert.deepEqual(sent.map((s) => s.at - start), [0, 1000, 3000, 7000, 15000, 31000]);
  assert.equal(waker.stats.events, 600_000);
  // The burst ends; the last events are covered by the next loop, and a quiet minute resets the spacing.
  await clock.advance(1000);
  waker.loopStarted({ workflowId: 'daemon', at: clock.now(), checks: ['json'] });
  await clock.advance(61_000);
  const n = sent.length;
  waker.notify({ reason: 'log' });
  await clock.advance(0);
  assert.equal(sent.length, n + 1, 'an event after a quiet spell wakes at once');
});

test('events seconds apart each wake at once (a second failure is not throttled)', async () => {
  const { clock, sent, waker } = setup();
  for (let i = 0; i < 5; i++) {
    waker.notify({ reason: 'process', checks: ['redis'] });
    await clock.advance(0);
    assert.equal(sent.length, i + 1);
    await clock.advance(200);
    waker.loopStarted({ workflowId: 'daemon', at: clock.now(), checks: ['redis'] });
    await clock.advance(2800);
  }
});

test('a writer spacing lines just past the reset buys at most 10 + 2 wakes per loop interval', async () => {
  const { clock, sent, waker } = setup();
  const start = clock.now();
  let answered = 0;
  for (let ms = 0; ms < 3_600_000; ms += 100) {
    if (ms % 2100 === 0) waker.notify({ reason: 'log' });
    await clock.advance(100);
    if (sent.length > answered) {
      waker.loopStarted({ workflowId: 'daemon', at: clock.now(), checks: [] });
      answered = sent.length;
    }
  }
  // Without the budget: one wake per line, 1714 in the hour. With it: 10 at once, then one per 15 s.
  assert.ok(sent.length <= 10 + 3_600_000 / 15_000 + 1, `${sent.length} wakes in an hour`);
  assert.ok(sent.length >= 200, `${sent.length} wakes: the budget, not the spacing, bounds it`);
  assert.ok(sent.every((x, i) => i === 0 || x.at - sent[i - 1]!.at >= 1000), 'never two wakes within a second');
  assert.ok(sent[0]!.at === start);
});

test('without a known daemon the wake waits; the first loop teaches the daemon and covers it', async () => {
  const { clock, sent, waker } = setup({ targets: [] });
  waker.notify({ reason: 'json', checks: ['json'] });
  await clock.advance(10_000);
  assert.equal(sent.length, 0);
  assert.equal(waker.busy, true);
  waker.loopStarted({ workflowId: 'learned', at: clock.now(), checks: ['json'] });
  assert.equal(waker.busy, false);
  waker.notify({ reason: 'log' });
  await clock.advance(0);
  assert.deepEqual(sent.map((s) => s.id), ['learned']);
});

test('a daemon that is gone is forgotten; a failing server is retried with backoff', async () => {
  let down = true;
  const { clock, sent, waker } = setup({ targets: ['fixed'], fail: (id) => (id === 'old' ? new Error('gone') : down && id === 'fixed' ? new Error('unavailable') : undefined) });
  waker.loopStarted({ workflowId: 'old', at: clock.now(), checks: [] });
  waker.notify({ reason: 'log' });
  await clock.advance(0);
  assert.deepEqual(sent.map((s) => s.id).sort(), ['fixed', 'old']);
  await clock.advance(5000);
  assert.deepEqual(sent.slice(2).map((s) => s.id), ['fixed'], 'the gone daemon is not signalled again');
  await clock.advance(9999);
  assert.equal(sent.length, 3, 'second resend waits 10 s');
  down = false;
  await clock.advance(1);
  assert.equal(sent.length, 4);
  waker.loopStarted({ workflowId: 'fixed', at: clock.now(), checks: [] });
  await clock.advance(120_000);
  assert.equal(sent.length, 4);
});

test('close stops everything', async () => {
  const { clock, sent, waker } = setup();
  waker.close();
  waker.notify({ reason: 'log' });
  await clock.advance(10_000);
  assert.equal(sent.length, 0);
});
