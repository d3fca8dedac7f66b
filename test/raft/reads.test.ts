// Scenarios: linearizable reads through ReadIndex, forwarded reads, and lease reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MsgType } from '../../runtime/protocols/raft/messages.js';
import { Cluster } from './harness.js';

test('ReadIndex: the leader answers only after a heartbeat round confirms it is still leader', () => {
  const c = new Cluster([1, 2, 3]);
  c.elect(1);
  c.propose(1, 'a');
  c.stabilize();
  c.core(1).readIndex(42);
  const rd = c.core(1).ready();
  assert.equal(rd.readStates.length, 0, 'not answered before the confirmation round');
  assert.equal(rd.sendNow.filter((m) => m.type === MsgType.Heartbeat && m.ctx > 0).length, 2);
  c.handle(1, rd);
  c.stabilize();
  assert.deepEqual(c.reads.get(1), [{ ctx: 42, index: 2 }]);
});

test('ReadIndex: many reads between two Readies share one heartbeat round', () => {
  const c = new Cluster([1, 2, 3]);
  c.elect(1);
  for (let i = 1; i <= 100; i++) c.core(1).readIndex(i);
  const rd = c.core(1).ready();
  assert.equal(rd.sendNow.filter((m) => m.type === MsgType.Heartbeat).length, 2);
  c.handle(1, rd);
  c.stabilize();
  assert.equal(c.reads.get(1)!.length, 100);
});

test('ReadIndex: a new leader waits until an entry of its own term commits', () => {
  const c = new Cluster([1, 2, 3]);
  c.elect(1);
  c.propose(1, 'a');
  c.stabilize();
  // Leader 1 hands over to 2. Deliver TimeoutNow and the votes, but hold back every
  // AppendEntries so that 2's no-op cannot commit.
  c.core(1).transferLeadership(2);
  for (let i = 0; i < 10; i++) {
    for (const id of c.ids()) while (c.core(id).hasReady()) c.handle(id, c.core(id).ready());
    c.deliver((m) => m.type !== MsgType.App);
  }
  assert.equal(c.view(2).role, 'leader');
  assert.ok(c.view(2).commit < c.view(2).lastIndex, 'the no-op of the new term is not committed yet');
  c.core(2).readIndex(7);
  for (let i = 0; i < 5; i++) {
    for (const id of c.ids()) while (c.core(id).hasReady()) c.handle(id, c.core(id).ready());
    c.deliver((m) => m.type !== MsgType.App);
  }
  assert.deepEqual(c.reads.get(2), [], 'a read must not be served from an old-term commit index');
  c.stabilize();
  const rs = c.reads.get(2)!;
  assert.equal(rs.length, 1);
  assert.deepEqual(rs[0], { ctx: 7, index: c.view(2).lastIndex });
});

test('ReadIndex: a follower forwards the read and serves it at the leader\'s commit index', () => {
  const c = new Cluster([1, 2, 3]);
  c.elect(1);
  c.propose(1, 'a');
  c.stabilize();
  c.core(3).readIndex(9);
  c.stabilize();
  assert.deepEqual(c.reads.get(3), [{ ctx: 9, index: 2 }]);
  assert.equal(c.core(3).stats().counters.readsForwarded, 1);
});

test('ReadIndex: an isolated leader never confirms; its reads fail as dropped when it steps down', () => {
  const c = new Cluster([1, 2, 3]);
  c.elect(1);
  c.isolate(1);
  c.core(1).readIndex(5);
  c.run(5);
  assert.deepEqual(c.reads.get(1), []);
  c.run(20);
  assert.deepEqual(c.reads.get(1), [{ ctx: 5, error: 'dropped', leader: 0 }]);
});

test('ReadIndex: no leader known means an immediate not-leader answer', () => {
  const c = new Cluster([1, 2, 3]);
  c.core(2).readIndex(1);
  c.stabilize();
  assert.deepEqual(c.reads.get(2), [{ ctx: 1, error: 'not-leader', leader: 0 }]);
});

test('lease reads (opt-in): once a heartbeat round is acknowledged, the leader answers at once', () => {
  const c = new Cluster([1, 2, 3], { leaseReads: true });
  c.elect(1);
  c.run(1); // one heartbeat round, acknowledged by both followers
  c.core(1).readIndex(3);
  const rd = c.core(1).ready();
  assert.deepEqual(rd.readStates, [{ ctx: 3, index: 1 }]);
  assert.equal(rd.sendNow.filter((m) => m.type === MsgType.Heartbeat).length, 0, 'no confirmation round needed');
  assert.throws(() => new Cluster([1], { leaseReads: true, checkQuorum: false }), /requires checkQuorum/);
});
