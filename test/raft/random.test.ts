// A randomized soak of the core in the scenario harness: random ticks, proposals, reads, message
// loss, duplication and reordering, partitions, crashes (including between ready() and persisting),
// compaction and membership changes, with safety checked after every step. The full simulator lives
// in runtime/sim; this keeps the core honest on its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeId } from '../../runtime/protocols/api.js';
import { SeededRng } from '../../runtime/protocols/rng.js';
import { Cluster } from './harness.js';

interface PendingRead {
  node: NodeId;
  mustSee: number;
}

function soak(seed: number, steps: number, bugs: string[] = []): { reads: number; commits: number } {
  const r = new SeededRng(seed);
  const all = [1, 2, 3, 4, 5];
  const c = new Cluster([1, 2, 3], { snapshotChunkBytes: 64, compactionRetainEntries: 4, electionTicks: 8, bugs }, { seed });
  c.addNode(4);
  c.addNode(5);
  const crashed = new Set<NodeId>();
  const reads = new Map<number, PendingRead>();
  let ctx = 0;
  let served = 0;
  const pick = <T>(xs: readonly T[]) => xs[r.nextInt(xs.length)]!;
  const running = () => c.ids();
  for (let step = 0; step < steps; step++) {
    const roll = r.nextInt(100);
    const id = pick(running());
    if (roll < 6) {
      for (const n of running()) c.tick(n);
    } else if (roll < 25) {
      c.propose(id, `s${seed}-${step}`);
    } else if (roll < 30) {
      const mustSee = Math.max(...running().map((n) => c.view(n).commit));
      reads.set(++ctx, { node: id, mustSee });
      c.core(id).readIndex(ctx);
    } else if (roll < 65) {
      // Process one node's Ready; sometimes crash between the sends and the write.
      const core = c.core(id);
      if (core.hasReady()) {
        const rd = core.ready();
        if (r.nextInt(40) === 0 && running().length > 3) {
          c.network.push(...rd.sendNow);
          c.crash(id);
          crashed.add(id);
        } else {
          c.handle(id, rd);
        }
      }
    } else if (roll < 90) {
      // Deliver a random subset in random order; lose or duplicate a few.
      const net = c.network;
      c.network = [];
      for (let i = net.length - 1; i > 0; i--) {
        const j = r.nextInt(i + 1);
        [net[i], net[j]] = [net[j]!, net[i]!];
      }
      const keep = [];
      for (const m of net) {
        const x = r.nextInt(20);
        if (x === 0) continue; // lost
        if (x < 6) keep.push(m); // delayed
        else {
          c.network.push(m);
          if (x === 19) c.network.push(m); // duplicated
        }
      }
      c.deliver();
      c.network.push(...keep);
    } else if (roll < 93) {
      if (r.nextInt(2) === 0) c.heal();
      else c.isolate(pick(all));
    } else if (roll < 95) {
      if (crashed.size > 0) {
        const back = pick([...crashed]);
        crashed.delete(back);
        c.restart(back);
      } else if (running().length > 3) {
        c.crash(id);
        crashed.add(id);
      }
    } else if (roll < 97) {
      c.compact(id);
    } else {
      const change = pick(['add-learner', 'promote', 'remove', 'add-voter'] as const);
      c.core(id).proposeMembership({ type: change, node: pick(all) });
    }
    c.checkSafety();
    for (const n of running()) {
      const rs = c.reads.get(n)!;
      while (rs.length > 0) {
        const s = rs.shift()!;
        const req = reads.get(s.ctx);
        assert.ok(req, `unknown read ctx ${s.ctx}`);
        reads.delete(s.ctx);
        if ('index' in s) {
          served++;
          assert.ok(s.index >= req.mustSee, `seed ${seed}: read ${s.ctx} on ${n} at ${s.index} misses commit ${req.mustSee}`);
        }
      }
    }
  }
  // Heal everything and check that the cluster converges.
  for (const n of [...crashed]) c.restart(n);
  c.heal();
  c.network = [];
  c.run(60);
  c.checkSafety();
  // Liveness once faults stop: a leader exists and a last write reaches every member.
  const l = c.leader();
  assert.ok(l !== undefined, `seed ${seed}: no leader after healing`);
  assert.equal(c.propose(l, 'final').ok, true);
  c.run(10);
  const m = c.view(l).membership;
  for (const n of [...m.voters, ...m.learners]) {
    assert.equal(c.commands(n).at(-1), 'final', `seed ${seed}: member ${n} did not catch up`);
  }
  const commits = Math.max(...c.ids().map((n) => c.view(n).commit));
  return { reads: served, commits };
}

test('random soak: 150 seeds of faults keep every safety property', () => {
  let reads = 0;
  let commits = 0;
  for (let seed = 1; seed <= 150; seed++) {
    const out = soak(seed, 600);
    reads += out.reads;
    commits += out.commits;
  }
  assert.ok(commits > 1000, `the soak made progress (${commits} commits)`);
  assert.ok(reads > 100, `reads were served (${reads})`);
});

test('random soak: the same seed replays identically', () => {
  assert.deepEqual(soak(42, 400), soak(42, 400));
});
