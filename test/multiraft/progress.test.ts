// The two progress rules on their own: Niagara's no-op deficits and the rate-based skip pacer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SkipPacer, noopPlan } from '../../runtime/protocols/multiraft/progress.js';

test('no-ops: each local leader gets c_max - c_l, minus what it already has in flight', () => {
  const pending = [
    { group: 0, pending: 5 },
    { group: 1, pending: 0 },
    { group: 2, pending: 2 },
  ];
  assert.deepEqual(
    noopPlan(pending, [{ group: 1, inFlight: 0 }, { group: 2, inFlight: 1 }, { group: 0, inFlight: 0 }], 100),
    [{ group: 1, count: 5 }, { group: 2, count: 2 }],
  );
  assert.deepEqual(noopPlan(pending, [{ group: 1, inFlight: 9 }], 100), [], 'enough in flight already');
  assert.deepEqual(noopPlan(pending, [{ group: 1, inFlight: 0 }], 3), [{ group: 1, count: 3 }], 'capped');
  assert.deepEqual(noopPlan([{ group: 0, pending: 0 }, { group: 1, pending: 0 }], [{ group: 1, inFlight: 0 }], 9), [], 'nothing waits, nothing to do');
});

const fixed = { intervalTicks: 4, minIntervalTicks: 4, maxIntervalTicks: 4, lambda: 10, headroom: 1.5, lambdaMin: 0, lambdaMax: 1000 };

test('skip: an instance that grew by μ < λ in the interval proposes one record of λ - μ slots', () => {
  const p = new SkipPacer(fixed);
  for (let i = 0; i < 3; i++) assert.equal(p.tick(), false);
  assert.equal(p.tick(), true);
  // First interval: no measurement yet for these leaders.
  assert.deepEqual(p.plan([{ group: 0, lastIndex: 100 }, { group: 1, lastIndex: 7 }], 0), []);
  p.startInterval(0, 100);
  p.startInterval(1, 7);
  for (let i = 0; i < 4; i++) p.tick();
  assert.deepEqual(p.plan([{ group: 0, lastIndex: 112 }, { group: 1, lastIndex: 10 }], 0), [{ group: 1, count: 7 }]);
});

test('skip: adaptive λ follows the fastest instance with headroom; idle means no skips at all', () => {
  const p = new SkipPacer({ ...fixed, lambda: 0, minIntervalTicks: 1, maxIntervalTicks: 8 });
  for (let i = 0; i < 4; i++) p.tick();
  p.onCommitted(0, 20); // 5 slots per tick on instance 0
  p.onCommitted(1, 2);
  p.plan([{ group: 1, lastIndex: 0 }], 0);
  p.startInterval(1, 0);
  assert.equal(p.lastLambda, 30, 'ceil(1.5 × 5/tick × 4 ticks)');
  // Interval grew to 5 (no backlog); nothing committed anywhere: λ decays but stays positive.
  for (let i = 0; i < 5; i++) p.tick();
  const d = p.plan([{ group: 1, lastIndex: 2 }], 0);
  assert.equal(p.lastLambda, Math.ceil(1.5 * 2.5 * 5));
  assert.deepEqual(d, [{ group: 1, count: p.lastLambda - 2 }]);
  const q = new SkipPacer({ ...fixed, lambda: 0 });
  for (let i = 0; i < 4; i++) q.tick();
  q.plan([{ group: 0, lastIndex: 0 }], 0);
  q.startInterval(0, 0);
  for (let i = 0; i < 4; i++) q.tick();
  assert.deepEqual(q.plan([{ group: 0, lastIndex: 0 }], 0), [], 'nothing committed: λ = 0, no waste');
});

test('skip: Δ shrinks under a backlog beyond λ and grows back when nothing waits', () => {
  const p = new SkipPacer({ ...fixed, intervalTicks: 8, minIntervalTicks: 1, maxIntervalTicks: 8 });
  for (let i = 0; i < 8; i++) p.tick();
  p.plan([], 500);
  assert.equal(p.interval, 4);
  for (let i = 0; i < 4; i++) p.tick();
  p.plan([], 500);
  assert.equal(p.interval, 2);
  for (let i = 0; i < 2; i++) p.tick();
  p.plan([], 0);
  assert.equal(p.interval, 3);
});
