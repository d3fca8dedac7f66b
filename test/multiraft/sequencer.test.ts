// The sequencer alone: the deterministic merge, waiting on the instance in line, Skip records,
// changes of R (drain, seal, join), the read condition against Niagara's p_global formula, and
// checkpoints/jumps. Entries are built by hand; no Raft involved.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { EntryType } from '../../runtime/protocols/api.js';
import type { Entry, Membership } from '../../runtime/protocols/api.js';
import { Sequencer } from '../../runtime/protocols/multiraft/sequencer.js';
import { GroupMode, cloneState, initialState } from '../../runtime/protocols/multiraft/state.js';
import { pGlobal } from '../../runtime/protocols/multiraft/reads.js';
import { slotWeight } from '../../runtime/protocols/multiraft/records.js';
import { BOOT, LogBuilder, text } from './entries.js';

function seq(instances: number, created: number[] = [], bugs = false): Sequencer {
  return new Sequencer(initialState(instances, BOOT), { maxInstances: 16, mergeOutOfOrder: bugs }, { instanceNeeded: (g: number, _b: Membership | undefined) => void created.push(g) });
}

function merged(s: Sequencer): string[] {
  const out: Entry[] = [];
  s.merge(out);
  return out.map(text);
}

test('round-robin in instance order, one slot per instance per turn', () => {
  const s = seq(3);
  s.offer(0, new LogBuilder().cmds('a', 3).entries);
  s.offer(1, new LogBuilder().cmds('b', 3).entries);
  s.offer(2, new LogBuilder().cmds('c', 3).entries);
  assert.deepEqual(merged(s), ['a0', 'b0', 'c0', 'a1', 'b1', 'c1', 'a2', 'b2', 'c2']);
  assert.equal(s.p, 9);
  assert.equal(s.q, 9);
});

test('the merge waits on the instance in line even when others have entries', () => {
  const s = seq(3);
  s.offer(0, new LogBuilder().cmds('a', 3).entries);
  s.offer(1, new LogBuilder().cmds('b', 1).entries);
  assert.deepEqual(merged(s), ['a0', 'b0']);
  assert.equal(s.turn(), 2);
  assert.equal(s.pendingSlots(0), 2);
  s.offer(2, new LogBuilder().cmd('c0').entries);
  assert.deepEqual(merged(s), ['c0', 'a1']);
  assert.equal(s.turn(), 1, 'now waiting on instance 1');
});

test('output indexes are consecutive from 1; no-ops take a slot but produce no output', () => {
  const s = seq(2);
  s.offer(0, new LogBuilder().noop().cmd('a1').cmd('a2').entries);
  s.offer(1, new LogBuilder().cmd('b0').noop(2).entries);
  const out: Entry[] = [];
  s.merge(out);
  assert.deepEqual(out.map((e) => [e.index, text(e)]), [[1, 'b0'], [2, 'a1'], [3, 'a2']]);
  assert.equal(s.q, 6);
});

test('a Skip record stands for count slots, one per turn', () => {
  const s = seq(2);
  s.offer(0, new LogBuilder().cmds('a', 4).entries);
  s.offer(1, new LogBuilder().skip(3).cmd('b3').entries);
  assert.deepEqual(merged(s), ['a0', 'a1', 'a2', 'a3', 'b3']);
  assert.equal(s.q, 8);
  assert.equal(s.cursor(1)!.slots, 4);
  assert.equal(s.counters.skipSlots, 3);
  assert.equal(s.counters.skipRecords, 1);
});

test('the same logs give the same global log however their commits are interleaved', () => {
  const entry = fc.oneof(
    fc.constant('cmd' as const),
    fc.constant('noop' as const),
    fc.integer({ min: 1, max: 5 }).map((k) => ({ skip: k })),
  );
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 4 }), fc.array(fc.array(entry, { maxLength: 12 }), { minLength: 4, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 60 }), (r, shapes, order) => {
      const logs = shapes.slice(0, r).map((sh, g) => {
        const b = new LogBuilder();
        sh.forEach((x, i) => (x === 'cmd' ? b.cmd(`g${g}e${i}`) : x === 'noop' ? b.noop() : b.skip(x.skip)));
        return b.entries;
      });
      // A: everything at once. B: one committed entry at a time, instances in a random order.
      const a = seq(r);
      logs.forEach((l, g) => a.offer(g, l));
      const outA = merged(a);
      const b = seq(r);
      const pos = logs.map(() => 0);
      const outB: string[] = [];
      for (const o of order) {
        const g = o % r;
        if (pos[g]! < logs[g]!.length) b.offer(g, [logs[g]![pos[g]!++]!]);
        outB.push(...merged(b));
      }
      logs.forEach((l, g) => b.offer(g, l));
      outB.push(...merged(b));
      assert.deepEqual(outB, outA);
      assert.equal(b.q, a.q);
    }),
    { numRuns: 300 },
  );
});

test('merge-out-of-order (injected) takes whatever is there, so the order depends on timing', () => {
  const s = seq(2, [], true);
  s.offer(0, new LogBuilder().cmds('a', 2).entries);
  assert.deepEqual(merged(s), ['a0', 'a1'], 'does not wait for instance 1');
});

test('growing R: the change applies where it is merged; a new instance joins at its Join record', () => {
  const created: number[] = [];
  const s = seq(2, created);
  s.offer(0, new LogBuilder().cmd('a0').change(0, 3).cmd('a2').cmd('a3').entries);
  s.offer(1, new LogBuilder().cmds('b', 3).entries);
  // The change merges at instance 0's second slot; from there on instance 2 is in line too.
  assert.deepEqual(merged(s), ['a0', 'b0', 'b1']);
  assert.deepEqual(created, [2]);
  assert.equal(s.epoch, 1);
  assert.deepEqual(s.rotation(), [0, 1, 2]);
  assert.equal(s.cursor(2)!.mode, GroupMode.Joining);
  assert.deepEqual(s.awaitedRecord(2), { kind: 'join', epoch: 1 });
  // Instance 2's log: a leader's no-op and a stray command before its Join are not in the global log.
  s.offer(2, new LogBuilder().noop().cmd('stray').join(1).cmd('c3').entries);
  assert.deepEqual(merged(s), ['a2', 'b2', 'c3', 'a3']);
  assert.equal(s.cursor(2)!.mode, GroupMode.Active);
  assert.equal(s.counters.excluded, 2);
  assert.equal(s.awaitedRecord(2), null);
});

test('shrinking R: leaving instances are drained up to their Seal record, the rest is not merged', () => {
  const s = seq(3);
  s.offer(0, new LogBuilder().change(0, 1).cmds('a', 6).entries);
  s.offer(1, new LogBuilder().cmd('b0').cmd('b1').seal(1).cmd('late-b').entries);
  s.offer(2, new LogBuilder().cmd('c0').cmd('c1').cmd('c2').entries);
  // Round robin over all three until instance 1 seals; then 0 and 2 until 2 seals.
  assert.deepEqual(merged(s), ['b0', 'c0', 'a0', 'b1', 'c1', 'a1', 'c2', 'a2']);
  assert.deepEqual(s.state().transition?.pendingSeal, [2]);
  assert.deepEqual(s.awaitedRecord(2), { kind: 'seal', epoch: 1 });
  assert.equal(s.isOpen(2), false, 'a leaving instance takes no new commands');
  assert.equal(s.isOpen(0), true);
  s.offer(2, [{ ...new LogBuilder().seal(1).entries[0]!, index: 4 }]);
  assert.deepEqual(merged(s), ['a3', 'a4', 'a5']);
  assert.equal(s.epoch, 1);
  assert.deepEqual(s.rotation(), [0]);
  assert.equal(s.cursor(1)!.mode, GroupMode.Idle);
  assert.equal(s.counters.excluded, 1, 'late-b is not merged');
});

test('a change of R is ignored unless it names the current epoch and none is under way', () => {
  const s = seq(2);
  s.offer(0, new LogBuilder().change(5, 3).change(0, 1).change(0, 3).entries);
  s.offer(1, new LogBuilder().noop(3).entries);
  merged(s);
  assert.equal(s.counters.changesApplied, 1);
  assert.equal(s.counters.changesIgnored, 2, 'wrong epoch, and a second change while the first drains');
});

test('a re-added instance waits for its new Join even if it arrived while it was idle', () => {
  const s = seq(2);
  // Shrink to 1 (instance 1 seals), then grow back to 2.
  s.offer(1, new LogBuilder().cmd('b0').seal(1).cmd('late').noop().join(2).cmd('b-new').entries);
  s.offer(0, new LogBuilder().change(0, 1).cmd('a1').change(1, 2).cmd('a3').entries);
  const out = merged(s);
  assert.deepEqual(out, ['b0', 'a1', 'a3', 'b-new']);
  assert.equal(s.epoch, 2);
});

test('reads: the merge-state condition equals p_global = p_local × R + r within an epoch', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 4 }), fc.array(fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 10 }), { minLength: 4, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 40 }), (r, shapes, order) => {
      const logs = shapes.slice(0, r).map((sh) => {
        const b = new LogBuilder();
        for (const x of sh) (x === 0 ? b.skip(2) : x === 1 ? b.noop() : b.cmd('x'));
        return b.entries;
      });
      const s = seq(r);
      const pos = logs.map(() => 0);
      const check = (): void => {
        for (let g = 0; g < r; g++) {
          for (let i = 1; i <= logs[g]!.length; i++) {
            let slotI = 0;
            for (let k = 0; k < i; k++) slotI += slotWeight(logs[g]![k]!);
            const byFormula = s.q >= pGlobal(slotI, r, g);
            assert.equal(s.readStatus(g, i) === 'ready', byFormula, `g${g} i${i} q${s.q}`);
          }
        }
      };
      for (const o of order) {
        const g = o % r;
        if (pos[g]! < logs[g]!.length) s.offer(g, [logs[g]![pos[g]!++]!]);
        merged(s);
        check();
      }
    }),
    { numRuns: 300 },
  );
});

test('reads: an instance that left at or before the read index sends the read elsewhere', () => {
  const s = seq(2);
  s.offer(0, new LogBuilder().change(0, 1).cmds('a', 3).entries);
  s.offer(1, new LogBuilder().seal(1).cmd('x').entries);
  merged(s);
  assert.equal(s.readStatus(1, 2), 'reroute');
  assert.equal(s.readStatus(1, 0), 'ready', 'the seal gave a slot after index 0');
});

test('a checkpoint resumes the merge exactly: a lagging sequencer jumps and continues identically', () => {
  const logs = [new LogBuilder().cmds('a', 8).skip(3).cmds('a', 4).entries, new LogBuilder().cmd('b0').skip(5).cmds('b', 9).entries, new LogBuilder().cmds('c', 12).entries];
  const a = seq(3);
  logs.forEach((l, g) => a.offer(g, l.slice(0, 6)));
  const first = merged(a);
  const cp = cloneState(a.checkpointAtOrBelow(a.p)!);
  logs.forEach((l, g) => a.offer(g, l.slice(6)));
  const rest = merged(a);

  const b = seq(3);
  b.offer(0, logs[0]!.slice(0, 2));
  merged(b);
  assert.equal(b.jumpTo(cp), true);
  assert.equal(b.jumpTo(cp), false, 'never backwards or sideways');
  assert.equal(b.p, first.length);
  logs.forEach((l, g) => b.offer(g, l)); // replays from index 1: merged entries are dropped
  assert.deepEqual(merged(b), rest);
});

test('entries arriving out of sequence are counted, not merged', () => {
  const s = seq(1);
  const l = new LogBuilder().cmds('a', 3).entries;
  s.offer(0, [l[0]!, l[2]!]);
  assert.deepEqual(merged(s), ['a0']);
  assert.equal(s.counters.gaps, 1);
  void EntryType;
});

test('a members record changes the replica set where it is merged; later instances start from it', () => {
  const created: number[] = [];
  const boots: (Membership | undefined)[] = [];
  const s = new Sequencer(initialState(1, { voters: [1, 2, 3], learners: [] }), { maxInstances: 4, mergeOutOfOrder: false }, { instanceNeeded: (g, b) => void (created.push(g), boots.push(b)) });
  s.offer(0, new LogBuilder().members({ type: 'remove', node: 3 }).members({ type: 'add-learner', node: 4 }).members({ type: 'promote', node: 9 }).change(0, 2).entries);
  merged(s);
  assert.deepEqual(s.members(), { voters: [1, 2], learners: [4] });
  assert.equal(s.counters.membershipChanges, 2, 'promoting a non-member is ignored');
  assert.deepEqual(created, [1]);
  assert.deepEqual(boots[0], { voters: [1, 2], learners: [4] });
});
