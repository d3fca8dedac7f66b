// Lease reads under the simulator: the seeds that exposed the old lease, sweeps with leases on, and
// a lease-focused fault mix in which the old lease (injected as `lease-until-step-down`) fails
// within a few dozen seeds while the fixed one passes. docs/raft.md, "Lease reads", has the design.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { FAULT_MIXES } from '../../runtime/sim/faults.js';
import { runSimulation } from '../../runtime/sim/simulator.js';
import { resolveSweep, runSweep } from '../../runtime/sim/sweep.js';

// Frequent partitions that often cut the leader off, fast links, 30% clock drift on every replica.
const STRESS_SIM = { replicas: 5, clients: 8, keys: 2, transferEvery: 0, membershipEvery: 0, faults: FAULT_MIXES['lease-stress']! };

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

test('verdant sim --fault-mix lease-stress runs the fixed mix; unknown mixes exit 2', () => {
  const cli = fileURLToPath(new URL('../../cli/verdant.js', import.meta.url));
  const args = ['sim', '--fault-mix', 'lease-stress', '--replicas', '5', '--clients', '8', '--keys', '2', '--membership-every', '0', '--transfer-every', '0'];
  const r = spawnSync(process.execPath, [cli, ...args, '--seeds', '20', '-o', 'leaseReads=true', '--inject-bug', 'lease-until-step-down', '--until-failure', '--json'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout.trim().split('\n').pop()!) as { failing_seeds: number[]; crashes: number; partitions: number };
  assert.equal(s.failing_seeds.length, 1, 'the old lease is caught within 20 seeds of the mix');
  assert.equal(s.crashes, 0, 'the mix has no crashes');
  assert.ok(s.partitions > 0);
  const bad = spawnSync(process.execPath, [cli, 'sim', '--fault-mix', 'tornado', '--seeds', '1'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unknown fault mix "tornado" \(known: lease-stress\)/);
});
