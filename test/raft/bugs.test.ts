// Each injected bug produces a real, observable safety violation in a targeted scenario, and the
// very same scenario is safe with the bug off.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster } from './harness.js';

function lostWrite(bugs: string[]): Cluster {
  const c = new Cluster([1, 2, 3], { bugs });
  c.elect(1);
  c.isolate(1);
  c.propose(1, 'acknowledged-but-lost');
  c.stabilize();
  c.run(40); // 2 and 3 elect a leader of a later term
  const l = c.leader()!;
  c.propose(l, 'other');
  c.stabilize();
  return c;
}

test('bug commit-without-quorum: an isolated leader commits and applies alone; the write is lost', () => {
  const c = lostWrite(['commit-without-quorum']);
  assert.deepEqual(c.commands(1), ['acknowledged-but-lost'], 'applied without any follower');
  assert.throws(() => c.checkSafety(), /applied different commands/);
});

test('bug commit-without-quorum off: the same scenario is safe', () => {
  const c = lostWrite([]);
  assert.deepEqual(c.commands(1), []);
  c.heal();
  c.run(5);
  assert.deepEqual(c.commands(1), ['other']);
  c.checkSafety();
});

function splitVote(bugs: string[]): Cluster {
  const c = new Cluster([1, 2, 3], { preVote: false, bugs });
  c.core(1).campaign();
  c.core(2).campaign(); // two candidates in term 1
  c.stabilize();
  return c;
}

test('bug vote-twice: two candidates of one term both win', () => {
  const c = splitVote(['vote-twice']);
  assert.throws(() => c.checkSafety(), /two leaders in term 1/);
});

test('bug vote-twice off: at most one leader per term', () => {
  const c = splitVote([]);
  c.checkSafety();
  c.run(60);
  assert.ok(c.leader() !== undefined);
  c.checkSafety();
});

function staleRead(bugs: string[]) {
  const c = new Cluster([1, 2, 3], { bugs });
  c.elect(1);
  c.propose(1, 'a');
  c.stabilize();
  c.isolate(1);
  c.run(30);
  const l = c.leader()!;
  c.propose(l, 'b');
  c.stabilize();
  const committedBeforeRead = c.view(l).commit;
  c.core(1).readIndex(1);
  c.stabilize();
  return { c, committedBeforeRead };
}

test('bug read-without-readindex: a cut-off replica serves a read that misses a committed write', () => {
  const { c, committedBeforeRead } = staleRead(['read-without-readindex']);
  const r = c.reads.get(1)![0]!;
  assert.ok('index' in r, 'the read was served');
  assert.ok(r.index < committedBeforeRead, `read at ${r.index} although ${committedBeforeRead} was committed before it began`);
});

test('bug read-without-readindex off: the cut-off replica refuses instead', () => {
  const { c } = staleRead([]);
  const r = c.reads.get(1)![0]!;
  assert.ok('error' in r, `expected a refusal, got ${JSON.stringify(r)}`);
});
