// Multi-Raft scenarios as stories, on a small deterministic cluster (harness.ts): elections and
// leader spreading, the merge under skewed load with no-ops, skip records or neither, strongly
// consistent reads that wait for p_global, one-snapshot compaction and restart, catch-up through a
// snapshot, and changes of R while commands keep flowing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MembershipChange } from '../../runtime/protocols/api.js';
import { GroupMode } from '../../runtime/protocols/multiraft/index.js';
import { MrCluster, enc } from './harness.js';

const base = { electionTicks: 10, heartbeatTicks: 1 };

function leadersPerReplica(c: MrCluster): Map<number, number> {
  const m = new Map<number, number>();
  for (const [id, n] of c.nodes) {
    if (!n.core) continue;
    for (const v of n.core.groups()) if (v.role === 'leader' && n.core.sequencer().rotation().includes(v.group)) m.set(id, (m.get(id) ?? 0) + 1);
  }
  return m;
}

test('R=3 on 3 replicas: each instance elects a leader, leaders spread out, one global log everywhere', () => {
  const c = new MrCluster([1, 2, 3], { ...base, instances: 3 });
  c.runUntil(() => c.allLed());
  c.runUntil(() => [...leadersPerReplica(c).values()].every((n) => n === 1) && leadersPerReplica(c).size === 3 && c.allLed(), 3000);
  const sent: string[] = [];
  for (let i = 0; i < 30; i++) {
    for (const id of [1, 2, 3]) {
      const t = `r${id}-${i}`;
      assert.ok(c.propose(id, t));
      sent.push(t);
    }
    c.step();
  }
  c.runUntil(() => [1, 2, 3].every((id) => c.sm(id).cmds.length === sent.length));
  c.checkAgreement();
  assert.deepEqual([...c.globalLog()].sort(), [...sent].sort(), 'every command exactly once');
  // Every replica submitted to its own local leader: no proposal was forwarded.
  for (const id of [1, 2, 3]) assert.equal(c.core(id).stats().counters.proposalsForwarded, 0);
});

function skewed(progress: string): { c: MrCluster; sent: number } {
  const c = new MrCluster([1, 2, 3], { ...base, instances: 3, progress, balanceLeaders: false, skipIntervalTicks: 2, skipIntervalMinTicks: 2, skipIntervalMaxTicks: 2 });
  c.runUntil(() => c.allLed());
  c.run(5);
  // All load on instance 0 only, through its leader.
  const leader = [1, 2, 3].find((id) => c.core(id).instance(0)!.groups()[0]!.role === 'leader')!;
  let sent = 0;
  for (let t = 0; t < 40; t++) {
    for (let i = 0; i < 5; i++) {
      assert.ok(c.core(leader).instance(0)!.propose(enc.encode(`x${sent++}`)).ok);
    }
    c.step();
    c.step();
    c.tick();
  }
  return { c, sent };
}

test('a replica leading several instances spreads its commands over them round-robin (§3.1)', () => {
  const c = new MrCluster([1, 2, 3], { ...base, instances: 3, balanceLeaders: false }, 3);
  c.runUntil(() => c.allLed());
  // Replica 1 takes over every instance.
  c.runUntil(() => {
    for (const id of [2, 3]) c.core(id).transferLeadership(1);
    return leadersPerReplica(c).get(1) === 3;
  }, 3000);
  assert.equal(leadersPerReplica(c).get(1), 3, 'replica 1 leads all three instances');
  c.run(30); // each new leader commits an entry of its term before it takes commands
  const sent: string[] = [];
  for (let i = 0; i < 60; i++) {
    const t = `rr-${i}`;
    assert.ok(c.propose(1, t));
    sent.push(t);
    c.step();
  }
  c.runUntil(() => [1, 2, 3].every((id) => c.sm(id).cmds.length >= sent.length));
  c.checkAgreement();
  // Count, per instance, the commands it carried (in replica 1's own logs).
  const dec = new TextDecoder();
  const per = c.core(1).groups().map((v) => {
    let n = 0;
    for (let i = v.firstIndex; i <= v.lastIndex; i++) {
      const e = v.entryAt(i);
      if (e && e.data.length > 0 && dec.decode(e.data).startsWith('rr-')) n++;
    }
    return n;
  });
  assert.equal(per.reduce((a, b) => a + b, 0), sent.length, `every command in exactly one instance (${per.join(', ')})`);
  for (const [g, n] of per.entries()) assert.equal(n, sent.length / 3, `instance ${g} carried a third of the commands (${per.join(', ')})`);
  assert.equal(c.core(1).stats().counters.proposalsForwarded, 0);
});

test('skewed load without a progress rule: the merge waits on the idle instances', () => {
  const { c, sent } = skewed('none');
  c.run(50);
  for (const id of [1, 2, 3]) assert.ok(c.sm(id).cmds.length <= 2, `replica ${id} merged ${c.sm(id).cmds.length} of ${sent}`);
});

test('skewed load with no-ops (§3.2): idle instances are filled, everything is merged', () => {
  const { c, sent } = skewed('noop');
  c.runUntil(() => [1, 2, 3].every((id) => c.sm(id).cmds.length === sent));
  c.checkAgreement();
  const noops = [1, 2, 3].reduce((a, id) => a + c.core(id).stats().counters.noopsProposed!, 0);
  // Two idle instances must each contribute about one slot per command of the busy one.
  assert.ok(noops >= 2 * sent * 0.9 && noops <= 2 * sent * 1.5, `${noops} no-ops for ${sent} commands`);
});

test('skewed load with skip records: one record per interval, not one entry per slot', () => {
  const { c, sent } = skewed('skip');
  c.runUntil(() => [1, 2, 3].every((id) => c.sm(id).cmds.length === sent));
  c.checkAgreement();
  const st = [1, 2, 3].map((id) => c.core(id).stats().counters);
  const records = st.reduce((a, s) => a + s.skipRecordsProposed!, 0);
  const slots = st.reduce((a, s) => a + s.skipSlotsProposed!, 0);
  const noops = st.reduce((a, s) => a + s.noopsProposed!, 0);
  assert.equal(noops, 0);
  assert.ok(slots >= 2 * sent * 0.9, `${slots} skipped slots for ${sent} commands`);
  assert.ok(records * 5 < slots, `${records} records for ${slots} slots`);
});

function readScenario(bugs: string[]): { c: MrCluster; wIndex: number } {
  const c = new MrCluster([1, 2, 3], { ...base, instances: 2, balanceLeaders: false, bugs });
  c.runUntil(() => c.allLed());
  c.run(5);
  const lead0 = [1, 2, 3].find((id) => c.core(id).instance(0)!.groups()[0]!.role === 'leader')!;
  const lagging = [1, 2, 3].find((id) => id !== lead0 && c.core(id).instance(1)!.groups()[0]!.role !== 'leader')!;
  // Replica `lagging` stops hearing instance 0; instance 1 still works there.
  c.block((m) => m.group === 0 && m.to === lagging);
  assert.ok(c.core(lead0).instance(0)!.propose(enc.encode('W')).ok);
  const others = [1, 2, 3].filter((id) => id !== lagging);
  c.runUntil(() => others.every((id) => c.sm(id).cmds.includes('W')));
  const wIndex = c.sm(others[0]!).cmds.indexOf('W') + 1;
  assert.ok(!c.sm(lagging).cmds.includes('W'));
  c.core(lagging).readIndex(77);
  c.run(30);
  return { c, wIndex: wIndex * 100 + lagging };
}

test('strong reads (§3.4): a lagging replica serves the read only once its global log reaches p_global', () => {
  const { c, wIndex: packed } = readScenario([]);
  const lagging = packed % 100;
  const wIndex = Math.floor(packed / 100);
  assert.deepEqual(c.reads(lagging), [], 'the read waits while the write is not merged here');
  c.heal();
  c.runUntil(() => c.reads(lagging).length > 0);
  const rs = c.reads(lagging)[0]!;
  assert.ok('index' in rs && rs.index >= wIndex, JSON.stringify(rs));
  assert.ok(c.sm(lagging).cmds.includes('W'));
});

test('read-before-pglobal (injected): the lagging replica answers at once, before the write', () => {
  const { c, wIndex: packed } = readScenario(['read-before-pglobal']);
  const lagging = packed % 100;
  const wIndex = Math.floor(packed / 100);
  const rs = c.reads(lagging)[0];
  assert.ok(rs && 'index' in rs && rs.index < wIndex, `answered ${JSON.stringify(rs)}; the write is at ${wIndex}`);
});

test('compaction (§3.3): one snapshot truncates every instance; a restarted replica resumes from it', () => {
  const c = new MrCluster([1, 2, 3], { ...base, instances: 3, compactionRetainEntries: 0, forwardProposals: false });
  c.runUntil(() => c.allLed());
  let accepted = 0;
  for (let i = 0; i < 60; i++) {
    if (c.propose(1 + (i % 3), `a${i}`)) accepted++;
    c.step();
  }
  c.runUntil(() => [1, 2, 3].every((id) => c.sm(id).cmds.length === accepted));
  assert.ok(accepted >= 20);
  c.compact(2);
  c.run(2);
  const store = c.nodes.get(2)!.store;
  const snaps = [0, 1, 2].map((g) => store.snapshot(g));
  assert.ok(snaps.every((s) => s !== null && s.meta.index > 0), 'every instance truncated');
  assert.ok(snaps.every((s) => s!.data === snaps[0]!.data), 'one image shared by all instances');
  const before = c.sm(2).cmds.length;
  c.crash(2);
  for (let i = 0; i < 30; i++) {
    // Without forwarding, a command is accepted only by a local leader (never sent to the dead one).
    if (c.propose(i % 2 === 0 ? 1 : 3, `b${i}`)) accepted++;
    c.step();
    if (i % 3 === 0) c.tick();
  }
  c.restart(2);
  assert.equal(c.sm(2).cmds.length, before, 'the state machine restarts from the snapshot image');
  assert.equal(c.sm(2).index, before);
  c.runUntil(() => [1, 2, 3].every((id) => c.sm(id).cmds.length === accepted), 3000);
  c.checkAgreement();
  assert.ok(accepted > before);
});

test('recovery (§3.5): a replica behind every instance\'s compaction catches up through a snapshot', () => {
  const c = new MrCluster([1, 2, 3], { ...base, instances: 2, compactionRetainEntries: 0 });
  c.runUntil(() => c.allLed());
  c.crash(3);
  c.run(25);
  for (let i = 0; i < 50; i++) {
    c.propose(1 + (i % 2), `a${i}`);
    c.step();
  }
  c.runUntil(() => [1, 2].every((id) => c.sm(id).cmds.length === 50), 3000);
  c.compact(1);
  c.compact(2);
  c.run(3);
  c.restart(3);
  c.runUntil(() => c.sm(3).cmds.length === 50, 3000);
  const st = c.core(3).stats().counters;
  assert.ok(st.snapshotsJumped! >= 1, 'the merge moved to the snapshot point');
  for (let i = 0; i < 10; i++) {
    c.propose(3, `b${i}`);
    c.step();
  }
  c.runUntil(() => [1, 2, 3].every((id) => c.sm(id).cmds.length === 60), 3000);
  c.checkAgreement();
});

test('changing R while serving (2 → 4 → 1 → 3): no accepted command lost or applied twice', () => {
  const c = new MrCluster([1, 2, 3], { ...base, instances: 2, forwardProposals: false }, 5);
  c.runUntil(() => c.allLed());
  const accepted: string[] = [];
  let n = 0;
  const load = (ticks: number): void => {
    for (let t = 0; t < ticks; t++) {
      for (const id of [1, 2, 3]) {
        const s = `c${n++}`;
        if (c.propose(id, s)) accepted.push(s);
      }
      c.step();
      c.step();
      c.tick();
    }
  };
  load(20);
  for (const target of [4, 1, 3]) {
    const epoch = c.core(1).sequencer().epoch;
    const via = [1, 2, 3].find((id) => c.core(id).proposeInstances(target).ok);
    assert.ok(via !== undefined, `someone accepts R=${target}`);
    load(10);
    c.runUntil(() => [1, 2, 3].every((id) => c.core(id).sequencer().epoch === epoch + 1 && c.core(id).instances() === target), 3000);
    c.runUntil(() => c.allLed(), 3000);
    load(20);
  }
  c.runUntil(() => [1, 2, 3].every((id) => c.sm(id).cmds.length >= accepted.length), 3000);
  c.run(20);
  c.checkAgreement();
  const log = c.globalLog();
  assert.equal(new Set(log).size, log.length, 'nothing applied twice');
  assert.deepEqual([...log].sort(), [...accepted].sort(), 'every accepted command applied');
  assert.ok(accepted.length > 150);
  assert.equal(c.core(1).groups().length, 4, 'instances 0..3 exist; 3 is idle');
  assert.equal(c.core(1).stats().counters['merge.gaps'], 0);
});

test('growing R in an idle system: the new instance joins without any command (no-ops carry the merge to its turn)', () => {
  // Proposed through each replica in turn, so the change record lands in different instances and
  // the new instance's turn comes up to R slots after the switch.
  for (const [proposer, progress] of [[1, 'noop'], [2, 'noop'], [3, 'noop'], [1, 'skip'], [2, 'skip'], [3, 'skip']] as const) {
    const c = new MrCluster([1, 2, 3], { ...base, instances: 3, progress }, 11);
    c.runUntil(() => c.allLed() && leadersPerReplica(c).size === 3, 3000);
    assert.ok(c.core(proposer).proposeInstances(4).ok, `replica ${proposer} accepts R=4`);
    const joined = (): boolean => [1, 2, 3].every((id) => c.core(id).instances() === 4 && c.core(id).sequencer().cursor(3)?.mode === GroupMode.Active);
    c.runUntil(joined, 3000);
    assert.ok(joined(), `instance 3 is active on every replica (R=4 proposed by replica ${proposer}, ${progress} mode)`);
    c.checkAgreement();
    assert.equal(c.globalLog().length, 0, 'no command was needed or output');
  }
});

test('R=1 is single Raft with a pass-through sequencer', () => {
  const c = new MrCluster([1, 2, 3], { ...base, instances: 1 });
  c.runUntil(() => c.allLed());
  for (let i = 0; i < 20; i++) c.propose(1 + (i % 3), `a${i}`);
  c.runUntil(() => [1, 2, 3].every((id) => c.sm(id).cmds.length === 20));
  c.checkAgreement();
  const st = c.core(1).stats().counters;
  assert.equal(st.noopsProposed, 0);
});

test('options and bad input: unknown names fail fast; foreign and malformed messages are counted', () => {
  assert.throws(() => new MrCluster([1], { instances: 0 }), /instances/);
  assert.throws(() => new MrCluster([1], { instances: 2, maxInstances: 1 }), /instances/);
  assert.throws(() => new MrCluster([1], { progess: 'noop' }), /unknown option/);
  assert.throws(() => new MrCluster([1], { group: 3 }), /group/);
  assert.throws(() => new MrCluster([1], { bugs: ['nope'] }), /unknown bug/);
  assert.throws(() => new MrCluster([1], { electionTicks: 1 }), /electionTicks/);
  const c = new MrCluster([1, 2, 3], { ...base, instances: 2 });
  const core = c.core(1);
  core.step({ type: 1, group: 9, from: 2, to: 1 } as never);
  core.step(null as never);
  core.step({ type: 1, group: 0, from: 2, to: 1 } as never);
  const st = core.stats();
  assert.equal(st.rejected['unknown-group'], 2);
  assert.equal(st.rejected.malformed, 1);
  assert.deepEqual(core.proposeInstances(0), { ok: false, error: 'too-large', leader: 0 });
});

test('the replica set is changed for every instance, through the global log', () => {
  const c = new MrCluster([1, 2, 3], { ...base, instances: 3 });
  c.runUntil(() => c.allLed());
  const membersOf = (id: number) => c.core(id).groups().map((v) => JSON.stringify({ v: [...v.membership.voters].sort(), l: [...v.membership.learners].sort() }));
  const everywhere = (ids: number[], want: { v: number[]; l: number[] }) => ids.every((id) => membersOf(id).every((m) => m === JSON.stringify(want)));
  const via = (change: MembershipChange) => assert.ok([1, 2, 3].some((id) => c.core(id).proposeMembership(change).ok));
  via({ type: 'remove', node: 3 });
  c.runUntil(() => everywhere([1, 2], { v: [1, 2], l: [] }), 3000);
  via({ type: 'add-learner', node: 3 });
  c.runUntil(() => everywhere([1, 2], { v: [1, 2], l: [3] }), 3000);
  via({ type: 'promote', node: 3 });
  c.runUntil(() => everywhere([1, 2, 3], { v: [1, 2, 3], l: [] }), 3000);
  // A new instance starts from the replica set in force, so replica 3 can follow it too.
  assert.ok([1, 2, 3].some((id) => c.core(id).proposeInstances(4).ok));
  c.runUntil(() => [1, 2, 3].every((id) => c.core(id).instances() === 4) && c.allLed(), 3000);
  assert.ok(everywhere([1, 2, 3], { v: [1, 2, 3], l: [] }));
  for (let i = 0; i < 20; i++) c.propose(1 + (i % 3), `m${i}`);
  c.runUntil(() => [1, 2, 3].every((id) => c.sm(id).cmds.length >= 15), 3000);
  c.run(20);
  c.checkAgreement();
});
