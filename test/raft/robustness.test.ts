// Bad input never crashes the core: it is rejected, counted by reason, and changes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { EntryType } from '../../runtime/protocols/api.js';
import type { Membership } from '../../runtime/protocols/api.js';
import { MsgType, makeMessage } from '../../runtime/protocols/raft/messages.js';
import type { RaftMessage } from '../../runtime/protocols/raft/messages.js';
import { Cluster } from './harness.js';

function app(over: Partial<RaftMessage>): RaftMessage {
  return { ...makeMessage(MsgType.App, 0, 1, 2, 1, 1, 1, 1, [], false, 0, 0, null), ...over };
}

test('rejected messages are counted by reason and leave the replica untouched', () => {
  const c = new Cluster([1, 2, 3], { maxEntryBytes: 8 });
  c.elect(1);
  c.core(1).transferLeadership(3); // term 2, so that term 1 is stale
  c.stabilize();
  const term = c.view(2).term;
  assert.equal(term, 2);
  const before = { last: c.view(2).lastIndex, commit: c.view(2).commit };
  const n2 = c.core(2);
  const e = (index: number, t: number, data = new Uint8Array(1)) => ({ index, term: t, type: EntryType.Normal, data });

  n2.step(makeMessage(MsgType.Prop, 0, 99, 2, 0, 0, 0, 0, [e(0, 0)], false, 0, 0, null)); // unknown sender
  n2.step(app({ to: 3, term })); // not addressed to me
  n2.step(app({ group: 5, term })); // another group
  n2.step(app({ term: term - 1 })); // stale term (a deposed leader)
  n2.step(app({ term, index: 1, logTerm: term, entries: [e(2, term, new Uint8Array(9))] })); // oversized
  n2.step(app({ term, index: 1, logTerm: term, entries: [e(3, term)] })); // index gap: malformed
  n2.step(app({ term, index: 1, logTerm: term, entries: [e(2, term + 5)] })); // entry from the future
  n2.step(app({ term, index: 1, logTerm: term, entries: [{ index: 2, term, type: 9 as EntryType, data: new Uint8Array(0) }] }));
  n2.step(app({ term, index: 1, logTerm: term, entries: [{ index: 2, term, type: EntryType.Config, data: new Uint8Array([200]) }] }));
  n2.step({ type: 77 } as unknown as RaftMessage);
  n2.step(null as unknown as RaftMessage);
  n2.step(app({ term: -1 }));
  n2.step(app({ term: 1.5 }));
  n2.step(app({ from: 2, to: 2, term })); // from itself
  n2.step({ ...app({ term }), entries: 'nope' } as unknown as RaftMessage);
  n2.step(makeMessage(MsgType.Snap, 0, 1, 2, term, 5, 1, 0, [], false, 0, 0, null)); // chunk missing
  n2.step(
    makeMessage(MsgType.Snap, 0, 1, 2, term, 5, 1, 0, [], false, 0, 0, {
      meta: { index: 5, term: 1, membership: { voters: [1, 2, 3], learners: [] } },
      offset: 0,
      total: 1 << 30,
      data: new Uint8Array(4),
    }),
  ); // a gigantic announced snapshot
  for (const votersOutgoing of [null, 7, [4]]) {
    n2.step(
      makeMessage(MsgType.Snap, 0, 1, 2, term, 5, 1, 0, [], false, 0, 0, {
        meta: { index: 5, term: 1, membership: { voters: [1, 2, 3], learners: [], votersOutgoing } as unknown as Membership },
        offset: 0,
        total: 4,
        data: new Uint8Array(4),
      }),
    ); // a snapshot whose membership is not a plain configuration (in-process callers only: the codec cannot express it)
  }

  const r = n2.stats().rejected;
  assert.equal(r['unknown-sender'], 1);
  assert.equal(r['not-addressed-to-me'], 1);
  assert.equal(r['unknown-group'], 1);
  assert.equal(r['stale-term'], 1);
  assert.equal(r['oversized-entry'], 2);
  assert.equal(r.malformed, 14);
  assert.equal(n2.stats().counters.internalErrors, 0);
  assert.deepEqual({ last: c.view(2).lastIndex, commit: c.view(2).commit }, before);
  // The stale leader is told about the newer term.
  assert.ok(c.core(2).ready().sendNow.some((m) => m.type === MsgType.AppResp && m.to === 1 && m.term === term));
});

test('random garbage messages never throw out of step(), and the cluster still works', () => {
  const c = new Cluster([1, 2, 3]);
  c.elect(1);
  const anyNum = fc.oneof(fc.integer({ min: -3, max: 12 }), fc.constant(Number.NaN), fc.double(), fc.constant(2 ** 60));
  const entry = fc.record({ index: anyNum, term: anyNum, type: anyNum, data: fc.oneof(fc.uint8Array({ maxLength: 8 }), fc.constant(null)) });
  const msg = fc.record({
    type: fc.integer({ min: 0, max: 16 }),
    group: fc.oneof(fc.constant(0), anyNum),
    from: fc.oneof(fc.constantFrom(1, 2, 3), anyNum),
    to: fc.oneof(fc.constantFrom(1, 2, 3), anyNum),
    term: anyNum,
    logTerm: anyNum,
    index: anyNum,
    commit: anyNum,
    entries: fc.array(entry, { maxLength: 3 }),
    reject: fc.oneof(fc.boolean(), fc.constant(1)),
    hint: anyNum,
    ctx: anyNum,
    snapshot: fc.constant(null),
  });
  fc.assert(
    fc.property(msg, fc.constantFrom(1, 2, 3), (m, at) => {
      c.core(at).step(m as unknown as RaftMessage);
      return c.core(at).stats().counters.internalErrors === 0;
    }),
    { numRuns: 3000, seed: 7 },
  );
  c.run(30);
  const l = c.leader()!;
  c.propose(l, 'still-alive');
  c.stabilize();
  for (const id of c.ids()) assert.equal(c.commands(id).at(-1), 'still-alive');
  c.checkSafety();
});

test('options are validated with descriptive errors', () => {
  assert.throws(() => new Cluster([1], { electionTicks: 1 }), /electionTicks/);
  assert.throws(() => new Cluster([1], { heartbeatTicks: 10, electionTicks: 10 }), /heartbeatTicks/);
  assert.throws(() => new Cluster([1], { bugs: ['no-such-bug'] }), /unknown bug/);
  assert.throws(() => new Cluster([1], { nonsense: 1 } as never), /unknown option/);
});
