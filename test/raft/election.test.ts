// Scenarios: leader election, pre-vote, check-quorum, leadership transfer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster } from './harness.js';

test('election: ticking a fresh 3-node cluster elects exactly one leader, and its no-op commits everywhere', () => {
  const c = new Cluster([1, 2, 3]);
  c.run(40);
  const leader = c.leader();
  assert.ok(leader !== undefined, 'no leader after 40 ticks');
  const term = c.view(leader).term;
  for (const id of c.ids()) {
    assert.equal(c.view(id).leader, leader, `node ${id} follows someone else`);
    assert.equal(c.view(id).term, term);
    assert.equal(c.view(id).commit, 1, `node ${id} has not committed the leader's no-op`);
  }
  assert.equal(c.propose(leader, 'x=1').ok, true);
  c.stabilize();
  for (const id of c.ids()) assert.deepEqual(c.commands(id), ['x=1']);
  c.checkSafety();
});

test('election: a single-node cluster elects itself and commits alone', () => {
  const c = new Cluster([7]);
  c.run(25);
  assert.equal(c.leader(), 7);
  c.propose(7, 'solo');
  c.stabilize();
  assert.deepEqual(c.commands(7), ['solo']);
});

test('pre-vote: a partitioned node does not disrupt the term when it rejoins', () => {
  const c = new Cluster([1, 2, 3]);
  c.elect(1);
  const term = c.view(1).term;

  c.isolate(3);
  c.run(100); // node 3 times out again and again, but only pre-votes
  assert.equal(c.view(3).term, term, 'an isolated pre-candidate must not raise its term');
  assert.ok(c.core(3).stats().counters.preVoteCampaigns! >= 3, 'node 3 should have tried pre-votes');
  assert.equal(c.leader(), 1);

  c.heal();
  c.run(30);
  assert.equal(c.leader(), 1, 'the leader survives the rejoin');
  assert.equal(c.view(1).term, term, 'the term is unchanged');
  assert.equal(c.view(3).leader, 1, 'node 3 follows the leader again');
  c.checkSafety();
});

test('without pre-vote and check-quorum, the same rejoin does disrupt the term (the contrast)', () => {
  const c = new Cluster([1, 2, 3], { preVote: false, checkQuorum: false });
  c.elect(1);
  const term = c.view(1).term;
  c.isolate(3);
  c.run(100);
  assert.ok(c.view(3).term > term + 2, 'isolated node 3 kept raising its term');
  c.heal();
  c.run(40);
  assert.ok(c.view(c.leader()!).term > term, 'the cluster had to move to a higher term');
  c.checkSafety();
});

test('check-quorum: a leader cut off from its quorum steps down within an election timeout', () => {
  const c = new Cluster([1, 2, 3], { electionTicks: 10 });
  c.elect(1);
  c.isolate(1);
  // Within one check period the leader does not yet know; after two it must have stepped down.
  c.run(20);
  assert.notEqual(c.view(1).role, 'leader', 'an isolated leader must step down');
  assert.equal(c.core(1).stats().counters.checkQuorumStepDowns, 1);
  const other = c.leader();
  assert.ok(other === 2 || other === 3, 'the majority side elected a new leader');
  c.heal();
  c.run(30);
  assert.equal(c.view(1).leader, c.leader());
  c.checkSafety();
});

test('check-quorum: followers that heard from their leader ignore a disruptive vote request', () => {
  const c = new Cluster([1, 2, 3], { preVote: false });
  c.elect(1);
  const term = c.view(1).term;
  c.core(3).campaign(); // a real election, term + 1
  c.stabilize();
  assert.equal(c.leader(), 1, 'leader 1 kept its followers');
  assert.ok(c.core(2).stats().counters.votesIgnoredInLease! >= 1);
  assert.equal(c.view(2).term, term);
  c.run(30);
  c.checkSafety();
});

test('leader transfer: TimeoutNow hands leadership to an up-to-date follower', () => {
  const c = new Cluster([1, 2, 3]);
  c.elect(1);
  c.propose(1, 'a');
  c.stabilize();
  const term = c.view(1).term;
  assert.equal(c.core(1).transferLeadership(2), true);
  c.stabilize();
  assert.equal(c.leader(), 2);
  assert.equal(c.view(2).term, term + 1);
  assert.equal(c.view(1).role, 'follower');
  c.propose(2, 'b');
  c.stabilize();
  for (const id of c.ids()) assert.deepEqual(c.commands(id), ['a', 'b']);
  c.checkSafety();
});

test('leader transfer: a lagging target is caught up first; proposals are refused meanwhile', () => {
  const c = new Cluster([1, 2, 3]);
  c.elect(1);
  c.isolate(3);
  for (let i = 0; i < 20; i++) c.propose(1, `v${i}`);
  c.stabilize();
  assert.ok(c.view(3).lastIndex < c.view(1).lastIndex);
  c.heal();
  assert.equal(c.core(1).transferLeadership(3), true);
  const r = c.propose(1, 'during');
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.error, 'transferring');
  c.stabilize();
  assert.equal(c.leader(), 3);
  assert.equal(c.commands(3).length, 20);
  c.checkSafety();
});

test('leader transfer: aborted after an election timeout if the target never answers', () => {
  const c = new Cluster([1, 2, 3]);
  c.elect(1);
  c.isolate(3);
  c.propose(1, 'x');
  c.stabilize();
  assert.equal(c.core(1).transferLeadership(3), true);
  c.run(12);
  assert.equal(c.leader(), 1);
  assert.equal(c.core(1).stats().counters.transfersAborted, 1);
  assert.equal(c.propose(1, 'after').ok, true, 'proposals are accepted again');
});
