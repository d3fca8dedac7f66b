// Lease reads under the simulator: the seeds that exposed the old lease, sweeps with leases on, and
// a lease-focused fault mix in which the old lease (injected as `lease-until-step-down`) fails
// within a few dozen seeds while the fixed one passes. docs/raft.md, "Lease reads", has the design.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FaultConfig } from '../../runtime/sim/faults.js';
import { runSimulation } from '../../runtime/sim/simulator.js';
import { resolveSweep, runSweep } from '../../runtime/sim/sweep.js';

/**
 * Frequent partitions (often isolating the leader), fast links so that the majority elects and
 * commits quickly, and the largest clock drift the default maxClockDrift allows on every replica.
 */
export const LEASE_STRESS: FaultConfig = {
  drop: 0,
  duplicate: 0,
  delayMin: 1,
  delayMax: 3,
  longDelayRate: 0,
  longDelay: 0,
  partitionEvery: 200,
  partitionMin: 150,
  partitionMax: 400,
  crashEvery: 0,
  downMin: 0,
  downMax: 0,
  maxDown: 1,
  crashInFsync: 0,
  tickSkew: 0.3,
  fsyncMin: 1,
  fsyncMax: 2,
};
const STRESS_SIM = { replicas: 5, clients: 8, keys: 2, transferEvery: 0, membershipEvery: 0, faults: LEASE_STRESS };

test('regression: seeds 20520 and 20335, which served stale lease reads before the fix, are linearizable', () => {
  const cases = [
    { seed: 20520, sim: { replicas: 5, clients: 8, membershipEvery: 0, transferEvery: 0 } },
    { seed: 20335, sim: { replicas: 5, clients: 8 } },
  ];
  for (const { seed, sim } of cases) {
    const r = runSimulation(resolveSweep({ protocol: 'raft', bugs: [], protocolOptions: { leaseReads: true }, sim }), seed);
    assert.deepEqual(r.violations, [], `seed ${seed}`);
    assert.equal(r.linearizable, 'ok', `seed ${seed}: ${r.linearizabilityReport}`);
    assert.ok(r.partitions > 0 && r.ops > 200, `seed ${seed} still exercises a partition (${r.partitions}) and clients (${r.ops} ops)`);
  }
});

test('lease stress: the pre-fix lease (injected lease-until-step-down) is caught within 200 seeds', { timeout: 240_000 }, () => {
  const s = runSweep({ protocol: 'raft', from: 1, seeds: 200, bugs: ['lease-until-step-down'], protocolOptions: { leaseReads: true }, sim: STRESS_SIM, untilFailure: true });
  assert.equal(s.failing_seeds.length, 1, 'the old lease survived 200 seeds of lease stress');
  console.log(`# lease-until-step-down: first caught at seed ${s.failing_seeds[0]}: ${s.first_failure!.what.split('\n')[0]}`);
});

test('lease stress: the fixed lease passes 150 seeds', { timeout: 240_000 }, () => {
  const s = runSweep({ protocol: 'raft', from: 1, seeds: 150, bugs: [], protocolOptions: { leaseReads: true }, sim: STRESS_SIM, untilFailure: false });
  assert.deepEqual(s.failing_seeds, [], s.first_failure?.what);
  assert.equal(s.truncated_runs, 0);
  assert.ok(s.partitions > 150 * 4, `only ${s.partitions} partitions`);
});

test('leases on, random faults with crashes, membership changes and transfers: 3 and 5 replicas, 80 seeds each', { timeout: 240_000 }, () => {
  for (const replicas of [3, 5]) {
    const s = runSweep({ protocol: 'raft', from: 7000, seeds: 80, bugs: [], protocolOptions: { leaseReads: true }, sim: { replicas, clients: 8 }, untilFailure: false });
    assert.deepEqual(s.failing_seeds, [], `${replicas} replicas: ${s.first_failure?.what}`);
    assert.equal(s.truncated_runs, 0);
    assert.ok(s.crashes > 80 && s.reconfigurations > 80, `${replicas} replicas: ${s.crashes} crashes, ${s.reconfigurations} membership changes`);
  }
});
