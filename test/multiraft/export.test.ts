// Moving the sequencer's state to another thread: an exported Sequencer (or SkipPacer), passed
// through structured clone as the actor runtime does, continues exactly like the original.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Entry } from '../../runtime/protocols/api.js';
import { SkipPacer } from '../../runtime/protocols/multiraft/progress.js';
import { Sequencer } from '../../runtime/protocols/multiraft/sequencer.js';
import { initialState } from '../../runtime/protocols/multiraft/state.js';
import { BOOT, LogBuilder, text } from './entries.js';

function logs(): Entry[][] {
  // Instance 0 asks for R = 3 midway, so instance 2 joins (its entries before the join are dropped).
  const a = new LogBuilder().cmds('a', 4).change(0, 3).cmds('a', 6).entries;
  const b = new LogBuilder().cmds('b', 3).noop(2).skip(3).cmds('b', 5).entries;
  const c = new LogBuilder().cmd('early').join(1).cmds('c', 8).entries;
  return [a, b, c];
}

test('an exported sequencer, structured-cloned, continues exactly like the original', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1, max: 3 })), { minLength: 5, maxLength: 40 }), fc.nat(40), (steps, cutAt) => {
      const src = logs();
      const created: number[] = [];
      const listener = { instanceNeeded: (g: number) => void created.push(g) };
      const o = { maxInstances: 8, mergeOutOfOrder: false };
      let s = new Sequencer(initialState(2, BOOT), o, listener, 8);
      let twin: Sequencer | null = null;
      const pos = [0, 0, 0];
      const outA: string[] = [];
      const outB: string[] = [];
      steps.forEach(([g, n], i) => {
        if (i === cutAt % steps.length) {
          twin = Sequencer.fromExport(structuredClone(s.exportState()), o, listener, 8);
        }
        const batch = src[g]!.slice(pos[g], pos[g]! + n);
        pos[g]! += batch.length;
        s.offer(g, batch);
        const out: Entry[] = [];
        s.merge(out);
        outA.push(...out.map(text));
        if (twin) {
          (twin as Sequencer).offer(g, batch);
          const o2: Entry[] = [];
          (twin as Sequencer).merge(o2);
          outB.push(...o2.map(text));
        }
      });
      if (twin === null) return;
      const t = twin as Sequencer;
      assert.deepEqual(outB, outA.slice(outA.length - outB.length));
      assert.deepEqual(t.state(), s.state());
      assert.deepEqual(t.counters, s.counters);
      assert.deepEqual(t.checkpointAtOrBelow(s.p), s.checkpointAtOrBelow(s.p));
      for (const g of [0, 1, 2]) assert.equal(t.pendingSlots(g), s.pendingSlots(g));
      s = t;
    }),
    { numRuns: 200 },
  );
});

test('an exported skip pacer continues exactly like the original', () => {
  const o = { intervalTicks: 2, minIntervalTicks: 1, maxIntervalTicks: 8, lambda: 0, headroom: 1.5, lambdaMin: 0, lambdaMax: 1 << 20 };
  const a = new SkipPacer(o);
  let b: SkipPacer | null = null;
  const plans: [string, string][] = [];
  for (let t = 0; t < 60; t++) {
    if (t === 17) b = SkipPacer.fromState(o, structuredClone(a.exportState()));
    for (const p of b ? [a, b] : [a]) p.onCommitted(0, (t * 7) % 11);
    const ra = a.tick() ? a.plan([{ group: 1, lastIndex: t }], t % 5) : null;
    const rb = b ? (b.tick() ? b.plan([{ group: 1, lastIndex: t }], t % 5) : null) : ra;
    if (ra) a.startInterval(1, t);
    if (b && rb) b.startInterval(1, t);
    plans.push([JSON.stringify(ra), JSON.stringify(rb)]);
  }
  for (const [x, y] of plans) assert.equal(y, x);
  assert.equal(b!.interval, a.interval);
  assert.equal(b!.lastLambda, a.lastLambda);
});
