// The simulator's main claim: Raft under drops, duplicates, reordering, partitions and
// crash-restarts keeps every invariant, and every client history is linearizable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSweep } from '../../runtime/sim/sweep.js';
import { runSimulation } from '../../runtime/sim/simulator.js';
import { resolveSweep } from '../../runtime/sim/sweep.js';

test('300 seeds with faults: zero violations, every history linearizable', { timeout: 240_000 }, () => {
  let dropped = 0;
  let duplicated = 0;
  let cut = 0;
  let maxOps = 0;
  const t0 = performance.now();
  const s = runSweep({
    protocol: 'raft',
    from: 1,
    seeds: 300,
    bugs: [],
    protocolOptions: {},
    sim: {},
    untilFailure: false,
    onRun: (r) => {
      dropped += r.net.dropped;
      duplicated += r.net.duplicated;
      cut += r.net.cut;
      maxOps = Math.max(maxOps, r.ops);
    },
  });
  console.log(`# 300 seeds in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${JSON.stringify(s)}`);
  assert.equal(s.runs, 300);
  assert.equal(s.violations, 0, s.first_failure?.what);
  assert.equal(s.linearizable, 300, s.first_failure?.what);
  assert.deepEqual(s.failing_seeds, []);
  assert.equal(s.truncated_runs, 0);
  // The faults really happened, and the clients really worked.
  assert.ok(s.crashes > 300 && s.partitions > 100, `crashes ${s.crashes}, partitions ${s.partitions}`);
  assert.ok(dropped > 1000 && duplicated > 1000 && cut > 1000, `dropped ${dropped}, duplicated ${duplicated}, cut ${cut}`);
  // Voters were removed, re-added as learners and promoted.
  assert.ok(s.reconfigurations > 300, `only ${s.reconfigurations} membership changes`);
  // Logs were compacted and lagging replicas caught up from leader snapshots.
  assert.ok(s.compactions > 300 && s.snapshots_installed > 20, `compactions ${s.compactions}, installs ${s.snapshots_installed}`);
  // Crashes discarded writes made without an fsync (mustSync false), and nothing broke.
  assert.ok(s.unsynced_writes_lost > 100, `only ${s.unsynced_writes_lost} unsynced writes lost`);
  assert.ok(s.ops > 300 * 50, `only ${s.ops} operations`);
  // Pending operations finish in the drain phase (sessions make retries exactly-once).
  assert.ok(s.unknown_ops < s.ops / 100, `${s.unknown_ops} of ${s.ops} operations ended unknown`);
});

test('five replicas, more clients and keys, a longer run: still safe and linearizable', { timeout: 120_000 }, () => {
  const cfg = resolveSweep({ protocol: 'raft', bugs: [], protocolOptions: {}, sim: { replicas: 5, clients: 8, keys: 5, durationMs: 6000 } });
  for (let seed = 1000; seed < 1010; seed++) {
    const r = runSimulation(cfg, seed);
    assert.deepEqual(r.violations, [], `seed ${seed}`);
    assert.equal(r.linearizable, 'ok', `seed ${seed}: ${r.linearizabilityReport}`);
    assert.ok(r.ops > 100, `seed ${seed}: ${r.ops} ops`);
  }
});

test('a run is a pure function of its seed: same seed, same history, trace and counters', () => {
  const cfg = resolveSweep({ protocol: 'raft', bugs: [], protocolOptions: {}, sim: { trace: true, keepHistory: true } });
  const a = runSimulation(cfg, 4242);
  const b = runSimulation(cfg, 4242);
  assert.deepEqual(a, b);
  const c = runSimulation(cfg, 4243);
  assert.notDeepEqual(a.history, c.history);
});
