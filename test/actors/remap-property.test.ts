// Property: whatever sequence of plans is applied while actors flood each other with messages,
// every sender–receiver pair sees each message exactly once and in order, and every timer fires
// exactly once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ActorRuntime } from '../../runtime/actors/runtime.js';
import type { FaultReport, Plan } from '../../runtime/actors/types.js';
import type { StormReport } from './fixtures/actors.js';
import { eventually, fixtureKind, sleep } from './helpers.js';

const ACTORS = 8;
const ids = Array.from({ length: ACTORS }, (_, i) => `s${i}`);

const planArb = fc.integer({ min: 0, max: 3 }).chain((workers) =>
  fc.record({
    workers: fc.constant(workers),
    placement: fc.tuple(...ids.map(() => fc.integer({ min: 0, max: workers }))),
    cpus: fc.array(fc.option(fc.subarray([0, 1], { minLength: 1 }), { nil: null }), { minLength: workers + 1, maxLength: workers + 1 }),
    pinSome: fc.boolean(),
    gapMs: fc.integer({ min: 0, max: 15 }),
  }),
);

function toPlan(p: { workers: number; placement: number[]; cpus: (number[] | null)[]; pinSome: boolean }): Plan {
  const placement: Record<string, number> = {};
  ids.forEach((id, i) => (placement[id] = p.placement[i]!));
  const cpus: Record<string, number[] | null> = {};
  if (p.pinSome) p.cpus.forEach((c, e) => (cpus[String(e)] = c));
  return { workers: p.workers, placement, ...(p.pinSome ? { cpus } : {}) };
}

async function reports(rt: ActorRuntime): Promise<StormReport[]> {
  return Promise.all(ids.map((id) => rt.ask<StormReport>(id, (replyTo) => ({ t: 'report', replyTo }), 10_000)));
}

test('exactly-once FIFO delivery and once-only timers across random remaps during a message storm', { timeout: 120_000 }, async () => {
  let run = 0;
  let forwarded = 0;
  let heldBack = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(planArb, { minLength: 2, maxLength: 5 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), async (plans, seed) => {
      run++;
      const faults: FaultReport[] = [];
      // Alternate the batch codecs: the guarantees must not depend on how batches travel.
      const rt = await ActorRuntime.start({ workers: 1, codec: run % 2 === 0 ? 'msgpack' : 'clone', onFault: (r) => faults.push(r) });
      try {
        for (let i = 0; i < ACTORS; i++) await rt.spawn({ id: ids[i]!, kind: fixtureKind('storm'), args: { ballast: 1024 }, executor: i % 2 });
        let rnd = seed;
        const next = (n: number): number => {
          rnd = (Math.imul(rnd, 1103515245) + 12345) >>> 0;
          return rnd % n;
        };
        const armed: { actor: string; key: string; dueAt: number }[] = [];
        let pumping = true;
        let bursts = 0;
        const pump = (async () => {
          while (pumping) {
            for (let k = 0; k < 3; k++) {
              const from = ids[next(ACTORS)]!;
              const to = [ids[next(ACTORS)]!, ids[next(ACTORS)]!, ids[next(ACTORS)]!];
              rt.send(from, { t: 'burst', to, n: 1 + next(40) });
              bursts++;
            }
            if (next(3) === 0) {
              const actor = ids[next(ACTORS)]!;
              const key = `k${armed.length}`;
              const delayMs = next(25);
              armed.push({ actor, key, dueAt: Date.now() + delayMs });
              rt.send(actor, { t: 'arm', key, delayMs });
            }
            await sleep(1);
          }
        })();
        for (const p of plans) {
          await rt.apply(toPlan(p));
          await sleep(p.gapMs);
        }
        pumping = false;
        await pump;
        // Quiescence: every message sent has been received.
        let last: StormReport[] = [];
        const settled = await eventually(async () => {
          last = await reports(rt);
          const recv = new Map(last.map((r) => [r.id, r]));
          for (const s of last) for (const [to, n] of Object.entries(s.sent)) if ((recv.get(to)!.expected[s.id] ?? 0) !== n) return false;
          const maxDue = Math.max(0, ...armed.map((a) => a.dueAt));
          return Date.now() > maxDue + 50;
        }, 30_000, 50);
        await sleep(60);
        last = await reports(rt);
        assert.deepEqual(faults, [], 'no actor faulted');
        for (const r of last) assert.deepEqual(r.violations, [], `run ${run}: ${r.id} saw out-of-order, duplicate or missing messages`);
        assert.ok(settled, `run ${run}: messages still missing after the storm ended`);
        const byId = new Map(last.map((r) => [r.id, r]));
        let total = 0;
        for (const s of last) {
          for (const [to, n] of Object.entries(s.sent)) {
            assert.equal(byId.get(to)!.expected[s.id] ?? 0, n, `${s.id} → ${to}: sent ${n}`);
            total += n;
          }
        }
        assert.ok(total > 0 && bursts > 0, 'the storm sent messages');
        for (const a of armed) assert.equal(byId.get(a.actor)!.fired[a.key], 1, `timer ${a.key} on ${a.actor} fired exactly once`);
        const fired = last.reduce((acc, r) => acc + Object.values(r.fired).reduce((x, y) => x + y, 0), 0);
        assert.equal(fired, armed.length, 'no timer fired that was not armed');
        const st = await rt.stats();
        assert.equal(st.executors.reduce((a, e) => a + e.duplicatesDropped, 0), 0, 'no duplicates reached a receiver');
        assert.equal(st.executors.reduce((a, e) => a + e.deadLetters, 0), 0, 'no dead letters');
        forwarded += st.executors.reduce((a, e) => a + e.forwarded, 0);
        heldBack += st.executors.reduce((a, e) => a + e.heldBack, 0);
        const topo = await rt.topology();
        const last_ = toPlan(plans[plans.length - 1]!);
        for (const id of ids) assert.equal(topo.actors[id]!.executor, last_.placement![id], `${id} ends where the last plan put it`);
        assert.equal(topo.executors.length, last_.workers + 1, 'executor count follows the plan');
      } finally {
        await rt.stop();
      }
    }),
    { numRuns: 8, endOnFailure: true },
  );
  // The storm must actually exercise the hard paths, or the property proves little.
  assert.ok(forwarded > 0, 'some messages were forwarded by an executor their receiver had left');
  assert.ok(heldBack > 0, `some messages overtook earlier ones and were held back (forwarded ${forwarded})`);
});
