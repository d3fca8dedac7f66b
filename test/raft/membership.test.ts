// Scenarios: membership changes one server at a time, learners, removal of the leader.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MsgType } from '../../runtime/protocols/raft/messages.js';
import { Cluster } from './harness.js';

test('learner: joins empty, catches up without voting, and is promoted only once caught up', () => {
  const c = new Cluster([1, 2, 3], { promoteMaxLag: 5 });
  c.elect(1);
  for (let i = 0; i < 30; i++) c.propose(1, `v${i}`);
  c.stabilize();

  c.addNode(4); // bootstrapped with an empty configuration
  c.isolate(4);
  const add = c.core(1).proposeMembership({ type: 'add-learner', node: 4 });
  assert.equal(add.ok, true);
  c.stabilize();
  assert.deepEqual(c.view(1).membership, { voters: [1, 2, 3], learners: [4] });

  // Far behind: promotion is refused.
  const early = c.core(1).proposeMembership({ type: 'promote', node: 4 });
  assert.equal(!early.ok && early.error, 'busy');

  c.heal();
  c.run(3);
  assert.equal(c.view(4).role, 'learner');
  assert.equal(c.commands(4).length, 30, 'the learner replicated everything');
  assert.equal(c.view(4).membership.learners.includes(4), true);
  // A learner never campaigns, however long it waits alone.
  c.isolate(4);
  c.run(60);
  assert.equal(c.core(4).stats().counters.preVoteCampaigns, 0);
  assert.equal(c.view(4).role, 'learner');
  c.heal();
  c.run(3);

  const promote = c.core(1).proposeMembership({ type: 'promote', node: 4 });
  assert.equal(promote.ok, true);
  c.stabilize();
  for (const id of [1, 2, 3, 4]) assert.deepEqual(c.view(id).membership, { voters: [1, 2, 3, 4], learners: [] });
  assert.equal(c.view(4).role, 'follower');
  c.checkSafety();
});

test('learner: does not count towards the commit quorum', () => {
  const c = new Cluster([1, 2, 3], {}, { learners: [4] });
  c.elect(1);
  c.isolate(2);
  c.isolate(3);
  c.propose(1, 'needs-a-voter');
  c.stabilize();
  assert.deepEqual(c.commands(4), [], 'leader + learner is not a quorum of {1,2,3}');
  assert.equal(c.view(4).lastIndex, c.view(1).lastIndex, 'but the learner has the entry');
  c.heal();
  c.run(2);
  assert.deepEqual(c.commands(4), ['needs-a-voter']);
});

test('membership: one change at a time, and only after the leader committed an entry of its term', () => {
  const c = new Cluster([1, 2, 3]);
  c.elect(1);
  c.addNode(4);
  c.addNode(5);
  c.isolate(2);
  c.isolate(3);
  const first = c.core(1).proposeMembership({ type: 'add-learner', node: 4 });
  assert.equal(first.ok, true);
  const second = c.core(1).proposeMembership({ type: 'add-learner', node: 5 });
  assert.equal(!second.ok && second.error, 'busy', 'the first change is not committed yet');
  c.heal();
  c.stabilize();
  assert.equal(c.core(1).proposeMembership({ type: 'add-learner', node: 5 }).ok, true);
  c.stabilize();

  // A fresh leader must commit its no-op first (Ongaro's fix for single-server changes).
  c.core(1).transferLeadership(2);
  for (let i = 0; i < 6; i++) {
    for (const id of c.ids()) while (c.core(id).hasReady()) c.handle(id, c.core(id).ready());
    c.deliver((m) => m.type !== MsgType.App);
  }
  assert.equal(c.view(2).role, 'leader');
  const tooSoon = c.core(2).proposeMembership({ type: 'remove', node: 5 });
  assert.equal(!tooSoon.ok && tooSoon.error, 'busy');
  c.stabilize();
  assert.equal(c.core(2).proposeMembership({ type: 'remove', node: 5 }).ok, true);
  c.stabilize();
  assert.deepEqual(c.view(3).membership, { voters: [1, 2, 3], learners: [4] });
  // Idempotent and invalid requests.
  assert.deepEqual(c.core(2).proposeMembership({ type: 'add-learner', node: 4 }), { ok: true });
  const bad = c.core(2).proposeMembership({ type: 'promote', node: 99 });
  assert.equal(!bad.ok && bad.error, 'not-member');
  const follower = c.core(3).proposeMembership({ type: 'remove', node: 4 });
  assert.deepEqual(follower, { ok: false, error: 'not-leader', leader: 2 });
  c.checkSafety();
});

test('removal of the leader: it commits its own removal, hands over, and stays quiet', () => {
  const c = new Cluster([1, 2, 3]);
  c.elect(1);
  c.propose(1, 'before');
  c.stabilize();
  const r = c.core(1).proposeMembership({ type: 'remove', node: 1 });
  assert.equal(r.ok, true);
  c.stabilize();
  assert.notEqual(c.view(1).role, 'leader', 'the removed leader stepped down once C_new committed');
  assert.equal(c.core(1).stats().counters.leaderRemovedStepDowns, 1);
  const next = c.leader();
  assert.ok(next === 2 || next === 3, 'TimeoutNow made the most up-to-date voter leader at once');
  assert.deepEqual(c.view(next).membership, { voters: [2, 3], learners: [] });
  c.propose(next, 'after');
  const campaigns = c.core(1).stats().counters.preVoteCampaigns;
  c.run(50);
  assert.equal(c.core(1).stats().counters.preVoteCampaigns, campaigns, 'a removed node never campaigns');
  assert.deepEqual(c.commands(next), ['before', 'after']);
  assert.equal(c.leader(), next);
  c.checkSafety();
});

test('membership: a configuration entry that gets overwritten is rolled back on the follower', () => {
  const c = new Cluster([1, 2, 3, 4, 5]);
  c.elect(1);
  c.addNode(6);
  // Leader 1 appends "add learner 6"; only node 2 receives it.
  c.partition([1, 2], [3, 4, 5]);
  c.core(1).proposeMembership({ type: 'add-learner', node: 6 });
  c.stabilize();
  assert.deepEqual(c.view(2).membership.learners, [6]);
  // The majority side elects a leader of a later term whose log lacks that entry.
  c.isolate(1);
  c.isolate(2);
  c.run(40);
  const l = c.leader()!;
  assert.ok([3, 4, 5].includes(l));
  c.propose(l, 'x');
  c.stabilize();
  c.heal();
  c.run(3);
  for (const id of [1, 2]) {
    assert.deepEqual(c.view(id).membership, { voters: [1, 2, 3, 4, 5], learners: [] }, `node ${id} rolled back`);
    assert.deepEqual(c.commands(id), ['x']);
  }
  c.checkSafety();
});
