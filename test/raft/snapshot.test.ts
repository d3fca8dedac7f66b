// Scenarios: log compaction and chunked snapshot transfer to a follower that fell too far behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MsgType } from '../../runtime/protocols/raft/messages.js';
import { Cluster } from './harness.js';

const opts = { snapshotChunkBytes: 32, snapshotChunksInFlight: 2, compactionRetainEntries: 0 };
const values = (n: number, p = 'v') => Array.from({ length: n }, (_, i) => `${p}${i}`);

function laggingFollower() {
  const c = new Cluster([1, 2, 3], opts);
  c.elect(1);
  c.isolate(3);
  for (const v of values(40)) c.propose(1, v);
  c.stabilize();
  const at = c.compact(1);
  c.compact(2);
  c.stabilize();
  assert.equal(c.view(1).firstIndex, at + 1, 'the leader dropped its log up to the snapshot');
  assert.equal(c.stores.get(1)!.snapshot!.meta.index, at, 'the compaction snapshot was persisted through Ready');
  return { c, at };
}

test('snapshot catch-up: a follower behind the compaction point receives the snapshot in chunks', () => {
  const { c, at } = laggingFollower();
  c.heal();
  c.run(3);
  const leader = c.core(1).stats().counters;
  assert.equal(leader.snapshotsSent, 1);
  assert.ok(leader.snapshotChunksSent! > 5, `the ~300-byte image goes in 32-byte chunks (${leader.snapshotChunksSent})`);
  assert.equal(c.core(3).stats().counters.snapshotsInstalled, 1);
  assert.deepEqual(c.commands(3), values(40));
  assert.equal(c.view(3).firstIndex, at + 1);
  // Replication continues normally after the snapshot.
  c.propose(1, 'next');
  c.stabilize();
  assert.deepEqual(c.commands(3), [...values(40), 'next']);
  // The follower persisted the snapshot; a restart rebuilds from it.
  c.crash(3);
  c.restart(3);
  assert.equal(c.view(3).firstIndex, at + 1);
  c.run(3);
  assert.deepEqual(c.commands(3), [...values(40), 'next']);
  c.checkSafety();
});

test('snapshot catch-up: lost chunks are resent from what the follower confirmed', () => {
  const { c } = laggingFollower();
  c.heal();
  c.tickAll(1);
  let lost = 0;
  for (let i = 0; i < 400 && c.commands(3).length < 40; i++) {
    for (const id of c.ids()) while (c.core(id).hasReady()) c.handle(id, c.core(id).ready());
    // Lose every third snapshot chunk.
    c.drop((m) => m.type === MsgType.Snap && m.to === 3 && (m.snapshot!.offset / 32) % 3 === 1 && lost++ < 6);
    c.deliver();
    if (i % 5 === 4) c.tickAll(1);
  }
  assert.ok(lost > 0);
  const needed = Math.ceil(c.stores.get(1)!.snapshot!.data.length / 32);
  assert.ok(c.core(1).stats().counters.snapshotChunksSent! > needed, 'lost chunks were sent again');
  assert.deepEqual(c.commands(3), values(40));
  c.checkSafety();
});

test('compaction: retained entries spare a slightly lagging follower the snapshot', () => {
  const c = new Cluster([1, 2, 3], { ...opts, compactionRetainEntries: 100 });
  c.elect(1);
  c.isolate(3);
  for (const v of values(40)) c.propose(1, v);
  c.stabilize();
  c.compact(1);
  c.stabilize();
  assert.equal(c.view(1).firstIndex, 1, 'everything is still held in memory');
  c.heal();
  c.run(3);
  assert.equal(c.core(1).stats().counters.snapshotsSent, 0);
  assert.deepEqual(c.commands(3), values(40));
});

test('compaction: requests beyond what was applied are ignored and counted', () => {
  const c = new Cluster([1, 2, 3], opts);
  c.elect(1);
  c.propose(1, 'a');
  c.stabilize();
  c.core(1).compact(99, new Uint8Array(1));
  c.core(1).compact(0, new Uint8Array(1));
  assert.equal(c.core(1).stats().counters.compactIgnored, 2);
  assert.equal(c.view(1).firstIndex, 1);
});

test('snapshot catch-up: when the follower acknowledgements are lost for a while, the leader times out and resends', () => {
  const { c } = laggingFollower();
  c.heal();
  c.tickAll(1);
  let blocked = true;
  for (let i = 0; i < 200 && c.commands(3).length < 40; i++) {
    for (const id of c.ids()) while (c.core(id).hasReady()) c.handle(id, c.core(id).ready());
    if (blocked) c.drop((m) => m.type === MsgType.SnapResp);
    c.deliver();
    c.tickAll(1);
    if (i === 40) blocked = false;
  }
  assert.ok(c.core(1).stats().counters.snapshotResends! >= 1);
  assert.deepEqual(c.commands(3), values(40));
  c.checkSafety();
});

test('snapshot catch-up: a new member joining after compaction starts from the snapshot', () => {
  const c = new Cluster([1, 2, 3], opts);
  c.elect(1);
  for (const v of values(20)) c.propose(1, v);
  c.stabilize();
  for (const id of [1, 2, 3]) c.compact(id);
  c.stabilize();
  c.addNode(4);
  c.core(1).proposeMembership({ type: 'add-learner', node: 4 });
  c.run(3);
  assert.equal(c.core(4).stats().counters.snapshotsInstalled, 1);
  assert.deepEqual(c.commands(4), values(20));
  assert.deepEqual(c.view(4).membership, { voters: [1, 2, 3], learners: [4] });
  c.checkSafety();
});
