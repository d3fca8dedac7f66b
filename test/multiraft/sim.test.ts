// Multi-Raft under the shared simulator: faults (loss, duplication, reordering, partitions,
// crash-restarts, crashes inside fsync), leadership transfers, membership changes AND changes of R
// in the middle of runs. Per-instance invariants, global-log agreement (state-machine safety on
// output indexes) and linearizability must all hold; the injected bugs must be caught.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { resolveSweep, runSweep } from '../../runtime/sim/sweep.js';
import { runSimulation } from '../../runtime/sim/simulator.js';

const sweeps: { name: string; instances: number; seeds: number; from: number; options?: Record<string, unknown>; sim?: Record<string, unknown> }[] = [
  { name: 'R=2, no-ops', instances: 2, seeds: 80, from: 1 },
  { name: 'R=3, skip records', instances: 3, seeds: 50, from: 500, options: { progress: 'skip' } },
  { name: 'R=4, 5 replicas, 6 clients on 2 keys', instances: 4, seeds: 25, from: 900, sim: { replicas: 5, clients: 6, keys: 2 } },
  // Single-voter instances elect themselves without a round trip; seeds 14011, 14058 and 14101 once
  // caught a proposal made before the leader's term was durable.
  { name: 'R=1, a single replica', instances: 1, seeds: 110, from: 14000, sim: { replicas: 1 } },
];

for (const s of sweeps) {
  test(`sweep ${s.name}: ${s.seeds} seeds with faults and changes of R, no violation`, { timeout: 300_000 }, () => {
    const sum = runSweep({ protocol: 'multiraft', from: s.from, seeds: s.seeds, bugs: [], protocolOptions: { instances: s.instances, ...(s.options ?? {}) }, sim: s.sim ?? {}, untilFailure: false });
    assert.deepEqual(sum.failing_seeds, [], sum.first_failure?.what);
    assert.equal(sum.violations, 0);
    assert.equal(sum.linearizable, s.seeds);
    assert.equal(sum.truncated_runs, 0);
    // Liveness: once faults stop, every operation completes (a stuck merge leaves them unknown).
    assert.equal(sum.unknown_ops, 0, 'operations left without an answer');
    assert.ok(sum.instance_changes >= s.seeds, `only ${sum.instance_changes} changes of R`);
    assert.ok(sum.crashes > 0 && sum.compactions > 0);
    console.log(`# ${s.name}: ${sum.runs} runs, ${sum.ops} ops, ${sum.crashes} crashes, ${sum.instance_changes} changes of R, ${sum.snapshots_installed} snapshot installs`);
  });
}

test('the sweeps really exercise changes of R, drains, joins, jumps and p_global reads', { timeout: 120_000 }, () => {
  const cfg = resolveSweep({ protocol: 'multiraft', bugs: [], protocolOptions: { instances: 2 }, sim: {} });
  const tot: Record<string, number> = {};
  for (let seed = 1; seed <= 40; seed++) {
    const r = runSimulation(cfg, seed);
    assert.equal(r.violations.length, 0);
    for (const [k, v] of Object.entries(r.protocolCounters)) tot[k] = (tot[k] ?? 0) + v;
  }
  for (const k of ['merge.transitionsCompleted', 'merge.excluded', 'merge.jumps', 'controlRecordsProposed', 'readsServed', 'noopsProposed', 'compactions']) {
    assert.ok((tot[k] ?? 0) > 0, `${k} never happened`);
  }
  assert.equal(tot['merge.gaps'] ?? 0, 0);
  assert.equal(tot.internalErrors ?? 0, 0);
});

for (const bug of ['merge-out-of-order', 'read-before-pglobal']) {
  test(`injected bug ${bug} is caught within 500 seeds`, { timeout: 240_000 }, () => {
    const s = runSweep({ protocol: 'multiraft', from: 1, seeds: 500, bugs: [bug], protocolOptions: { instances: 2 }, sim: {}, untilFailure: true });
    assert.equal(s.failing_seeds.length, 1, `${bug} survived 500 seeds`);
    console.log(`# ${bug}: first caught at seed ${s.failing_seeds[0]}: ${s.first_failure!.what.split('\n')[0]}`);
  });
}

test('verdant sim --protocol multiraft --instances R --json, with a replay line that reproduces a failure', { timeout: 120_000 }, () => {
  const cli = fileURLToPath(new URL('../../cli/verdant.js', import.meta.url));
  const run = (...args: string[]) => spawnSync(process.execPath, [cli, 'sim', ...args], { encoding: 'utf8', timeout: 120_000 });
  const ok = run('--protocol', 'multiraft', '--instances', '3', '--seeds', '4', '--json');
  assert.equal(ok.status, 0, ok.stderr);
  const s = JSON.parse(ok.stdout.trim().split('\n').pop()!) as { runs: number; violations: number; instance_changes: number };
  assert.equal(s.runs, 4);
  assert.equal(s.violations, 0);
  const bad = run('--protocol', 'multiraft', '--instances', '2', '-o', 'progress="skip"', '--seeds', '30', '--inject-bug', 'merge-out-of-order', '--until-failure');
  const m = /replay: npx verdant sim (.*)$/m.exec(bad.stdout);
  assert.ok(m, bad.stdout);
  assert.match(m[1]!, /--instances 2 -o 'progress="skip"' --trace/);
  assert.equal(run('--protocol', 'multiraft', '--instance-change-every', 'soon').status, 2);
  const opt = run('--protocol', 'multiraft', '-o', 'progress="sometimes"', '--seeds', '1');
  assert.equal(opt.status, 2);
  assert.match(opt.stderr + opt.stdout, /progress/);
});

test('a multi-Raft run is a pure function of its seed', () => {
  const cfg = resolveSweep({ protocol: 'multiraft', bugs: [], protocolOptions: { instances: 3, progress: 'skip' }, sim: { keepHistory: true } });
  const a = runSimulation(cfg, 77);
  const b = runSimulation(cfg, 77);
  assert.deepEqual(a.history, b.history);
  assert.deepEqual(a.protocolCounters, b.protocolCounters);
  assert.equal(a.steps, b.steps);
});
