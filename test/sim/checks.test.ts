// The simulator's building blocks on their own: invariant checks against hand-made views (two
// consensus groups, as multi-Raft will have), the KV's session dedup, the durable store's contract
// checks and crash semantics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryType } from '../../runtime/protocols/api.js';
import type { Entry, GroupView, Role } from '../../runtime/protocols/api.js';
import { InvariantChecker } from '../../runtime/sim/invariants.js';
import { KvMachine, decodeCommand, encodeCommand } from '../../runtime/sim/kv-machine.js';
import { DurableStore } from '../../runtime/sim/durable-store.js';
import { EventQueue } from '../../runtime/sim/event-queue.js';

const enc = new TextEncoder();
const entry = (index: number, term: number, text = `e${index}`): Entry => ({ index, term, type: EntryType.Normal, data: enc.encode(text) });

function view(group: number, role: Role, term: number, log: Entry[], commit: number, firstIndex = 1): GroupView {
  return {
    group,
    role,
    term,
    leader: 0,
    vote: 0,
    commit,
    membership: { voters: [1, 2, 3], learners: [] },
    firstIndex,
    lastIndex: firstIndex - 1 + log.length,
    termAt: (i) => (i === firstIndex - 1 ? 0 : log[i - firstIndex]?.term),
    entryAt: (i) => log[i - firstIndex],
  };
}

test('election safety is per group: two leaders in one term of one group is a violation, across groups it is not', () => {
  const c = new InvariantChecker(() => 0);
  c.observe([
    { id: 1, views: [view(0, 'leader', 3, [], 0), view(1, 'follower', 3, [], 0)] },
    { id: 2, views: [view(0, 'follower', 3, [], 0), view(1, 'leader', 3, [], 0)] },
  ]);
  assert.equal(c.violations.length, 0);
  // Later, replica 3 claims group 1's term 3 as well.
  c.observe([{ id: 3, views: [view(0, 'follower', 3, [], 0), view(1, 'leader', 3, [], 0)] }]);
  assert.equal(c.violations.length, 1);
  assert.equal(c.violations[0]!.kind, 'election-safety');
  assert.match(c.violations[0]!.message, /group 1 term 3: replicas 2 and 3/);
});

test('leader completeness: a new leader must hold what was committed in earlier terms', () => {
  const c = new InvariantChecker(() => 5);
  const log = [entry(1, 1), entry(2, 1)];
  c.observe([{ id: 1, views: [view(0, 'leader', 1, log, 2)] }]);
  // A leader of term 2 whose log lacks entry 2: violation.
  c.observe([{ id: 2, views: [view(0, 'leader', 2, [entry(1, 1)], 1)] }]);
  assert.equal(c.violations[0]?.kind, 'leader-completeness');
  // A leader of term 3 that holds it: fine.
  const ok = new InvariantChecker(() => 5);
  ok.observe([{ id: 1, views: [view(0, 'leader', 1, log, 2)] }]);
  ok.observe([{ id: 2, views: [view(0, 'leader', 3, [...log, entry(3, 3)], 2)] }]);
  assert.equal(ok.violations.length, 0);
  // Compacted below the leader's first index counts as held (its snapshot covers it).
  ok.observe([{ id: 3, views: [view(0, 'leader', 4, [entry(3, 3)], 3, 3)] }]);
  assert.equal(ok.violations.length, 0);
});

test('two replicas committing different entries at one index is caught', () => {
  const c = new InvariantChecker(() => 0);
  c.observe([
    { id: 1, views: [view(0, 'follower', 2, [entry(1, 1), entry(2, 2, 'x')], 2)] },
    { id: 2, views: [view(0, 'follower', 2, [entry(1, 1), entry(2, 2, 'y')], 2)] },
  ]);
  assert.equal(c.violations[0]?.kind, 'state-machine-safety');
});

test('log matching: same index and term with different content, or different history, is caught', () => {
  const c = new InvariantChecker(() => 0);
  const v1 = view(0, 'follower', 2, [entry(1, 1), entry(2, 2)], 0);
  c.onWrites(1, [v1], [{ group: 0, hardState: null, entries: [entry(1, 1), entry(2, 2)], snapshot: null }]);
  assert.equal(c.violations.length, 0);
  c.onWrites(2, [v1], [{ group: 0, hardState: null, entries: [entry(2, 2, 'other')], snapshot: null }]);
  assert.equal(c.violations[0]?.kind, 'log-matching');
  const d = new InvariantChecker(() => 0);
  d.compareLogs([
    { id: 1, views: [view(0, 'follower', 3, [entry(1, 1), entry(2, 2), entry(3, 3)], 0)] },
    { id: 2, views: [view(0, 'follower', 3, [entry(1, 1, 'different'), entry(2, 2), entry(3, 3)], 0)] },
  ]);
  assert.equal(d.violations[0]?.kind, 'log-matching');
});

test('state-machine safety at apply: different commands at one output index', () => {
  const c = new InvariantChecker(() => 0);
  c.onApply(1, entry(7, 2, 'a'));
  c.onApply(2, entry(7, 2, 'a'));
  assert.equal(c.violations.length, 0);
  c.onApply(3, entry(7, 3, 'b'));
  assert.equal(c.violations[0]?.kind, 'state-machine-safety');
});

test('KV sessions apply a retried write once and answer it with the first result', () => {
  const kv = new KvMachine();
  const cas = { client: 1, seq: 1, input: { op: 'cas', key: 'k', expected: null, value: 'a' } } as const;
  assert.deepEqual(kv.apply(cas), { ok: true });
  // The retry would fail if applied again (k is now 'a'); it must answer with the original result.
  assert.deepEqual(kv.apply(cas), { ok: true });
  assert.deepEqual(kv.apply({ client: 2, seq: 1, input: { op: 'put', key: 'k', value: 'b' } }), { ok: true });
  assert.deepEqual(kv.apply(cas), { ok: true });
  assert.equal(kv.get('k'), 'b');
  // Sessions survive a snapshot.
  kv.appliedIndex = 9;
  const copy = new KvMachine();
  copy.restore(kv.snapshot());
  assert.equal(copy.appliedIndex, 9);
  assert.deepEqual(copy.apply({ client: 2, seq: 1, input: { op: 'put', key: 'k', value: 'zzz' } }), { ok: true });
  assert.equal(copy.get('k'), 'b');
  assert.deepEqual(decodeCommand(encodeCommand(cas)), cas);
  assert.equal(decodeCommand(new Uint8Array([1, 2, 3])), null);
});

test('durable store: truncates conflicts, installs snapshots, compacts, and rejects gaps', () => {
  const s = new DurableStore();
  assert.equal(s.isEmpty(), true);
  assert.equal(s.apply({ group: 0, hardState: { term: 1, vote: 1, commit: 0 }, entries: [entry(1, 1), entry(2, 1), entry(3, 1)], snapshot: null }), null);
  assert.equal(s.apply({ group: 0, hardState: null, entries: [entry(3, 2)], snapshot: null }), null);
  assert.deepEqual(s.durableState()[0]!.entries.map((e) => `${e.index}/${e.term}`), ['1/1', '2/1', '3/2']);
  assert.match(s.apply({ group: 0, hardState: null, entries: [entry(9, 2)], snapshot: null })!, /gap after durable index 3/);
  const snap = { meta: { index: 2, term: 1, membership: { voters: [1], learners: [] } }, data: new Uint8Array([1]) };
  assert.equal(s.apply({ group: 0, hardState: null, entries: [], snapshot: null, compacted: snap }), null);
  const d = s.durableState()[0]!;
  assert.equal(d.snapshot?.meta.index, 2);
  assert.deepEqual(d.entries.map((e) => e.index), [3]);
  const leaderSnap = { meta: { index: 5, term: 3, membership: { voters: [1], learners: [] } }, data: new Uint8Array([2]) };
  assert.equal(s.apply({ group: 0, hardState: { term: 3, vote: 0, commit: 5 }, entries: [], snapshot: leaderSnap }), null);
  assert.deepEqual(s.durableState()[0]!.entries, []);
  assert.match(s.apply({ group: 0, hardState: null, entries: [], snapshot: snap })!, /not newer/);
});

test('durable store: an unsynced write becomes durable with the next fsynced one, and a crash before that loses it', () => {
  const s = new DurableStore();
  assert.equal(s.applySynced({ group: 0, hardState: { term: 1, vote: 1, commit: 0 }, entries: [entry(1, 1), entry(2, 1)], snapshot: null }), null);
  // Commit moves without an fsync (mustSync false); a crash forgets it.
  s.applyUnsynced({ group: 0, hardState: { term: 1, vote: 1, commit: 2 }, entries: [], snapshot: null });
  assert.equal(s.durableState()[0]!.hardState.commit, 0, 'not durable before an fsync');
  assert.equal(s.dropUnsynced(), 1);
  assert.equal(s.durableState()[0]!.hardState.commit, 0);
  // A compaction without an fsync keeps the entries until a later fsync persists both, in order.
  const snap = { meta: { index: 1, term: 1, membership: { voters: [1], learners: [] } }, data: new Uint8Array([1]) };
  s.applyUnsynced({ group: 0, hardState: null, entries: [], snapshot: null, compacted: snap });
  assert.deepEqual(s.durableState()[0]!.entries.map((e) => e.index), [1, 2], 'entries stay until the snapshot is durable');
  assert.equal(s.applySynced({ group: 0, hardState: { term: 1, vote: 1, commit: 3 }, entries: [entry(3, 1)], snapshot: null }), null);
  const d = s.durableState()[0]!;
  assert.equal(d.snapshot?.meta.index, 1);
  assert.deepEqual(d.entries.map((e) => e.index), [2, 3]);
  assert.equal(s.dropUnsynced(), 0);
});

test('event queue fires in time order, ties in scheduling order', () => {
  const q = new EventQueue();
  const out: string[] = [];
  q.schedule(5, () => out.push('c'));
  q.schedule(1, () => out.push('a'));
  q.schedule(5, () => out.push('d'));
  q.schedule(2, () => out.push('b'));
  for (let e = q.pop(); e; e = q.pop()) e.fire();
  assert.deepEqual(out, ['a', 'b', 'c', 'd']);
});
