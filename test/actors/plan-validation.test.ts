// Invalid plans are rejected with a reason and change nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ActorRuntime } from '../../runtime/actors/runtime.js';
import { PlanError } from '../../runtime/actors/plan.js';
import type { Topology } from '../../runtime/actors/types.js';
import { fixtureKind } from './helpers.js';

function shape(t: Topology): unknown {
  return { executors: t.executors.map((e) => [e.index, e.cpus, e.pinned, e.actors]), actors: t.actors, version: t.planVersion };
}

test('invalid plans are rejected with a reason and leave the topology unchanged', { timeout: 60_000 }, async () => {
  const rt = await ActorRuntime.start({ workers: 2 });
  try {
    await rt.spawn({ id: 'a', kind: fixtureKind('counter'), executor: 1 });
    await rt.spawn({ id: 'b', kind: fixtureKind('counter'), executor: 2 });
    await rt.spawn({ id: 'io', kind: fixtureKind('mainOnly') });
    const before = shape(await rt.topology());
    const cases: [unknown, string, RegExp][] = [
      [{ workers: 2, placement: { nope: 1 } }, 'placement.nope', /unknown actor 'nope'/],
      [{ workers: 2, cpus: { '1': [] } }, 'cpus.1', /empty CPU set/],
      [{ workers: 2, cpus: { '1': [999] } }, 'cpus.1[0]', /CPU 999 does not exist/],
      [{ workers: 2, cpus: { '1': [0, 0] } }, 'cpus.1', /twice/],
      [{ workers: 2, cpus: { '7': [0] } }, 'cpus.7', /executor 7 does not exist/],
      [{ workers: 2, placement: { a: 5 } }, 'placement.a', /executor 5 does not exist/],
      [{ workers: 1, placement: { a: 1 } }, 'placement.b', /which this plan removes/],
      [{ workers: 2, placement: { io: 1 } }, 'placement.io', /pinned to the main thread/],
      [{ workers: -1 }, 'workers', /./],
      [{ workers: 'two' }, 'workers', /./],
      [{ workers: 2, extra: true }, 'extra', /unknown key/],
      [{ workers: 2, cpus: { x: [0] } }, 'cpus.x', /non-negative integer/],
      [null, '', /./],
    ];
    for (const [plan, field, reason] of cases) {
      await assert.rejects(rt.apply(plan), (err: unknown) => {
        assert.ok(err instanceof PlanError, `${JSON.stringify(plan)} → PlanError`);
        assert.equal(err.field, field, `${JSON.stringify(plan)} names ${field}`);
        assert.match(err.message, reason);
        return true;
      });
      assert.deepEqual(shape(await rt.topology()), before, `${JSON.stringify(plan)} changed nothing`);
    }
    // Still fully working afterwards.
    rt.send('a', { t: 'inc', by: 5 });
    const got = await rt.ask<{ n: number; executor: number }>('a', (replyTo) => ({ t: 'get', replyTo }));
    assert.deepEqual([got.n, got.executor], [5, 1]);
    // Moving every actor off executor 2 makes removing it valid.
    const ok = await rt.apply({ workers: 1, placement: { b: 0 } });
    assert.deepEqual(ok.stopped, [2]);
  } finally {
    await rt.stop();
  }
});
