// Proof that the checks can fail: each deliberately broken variant is caught within 500 seeds.
// The first catching seed of each is recorded in docs/sim.md.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveSweep, runSweep } from '../../runtime/sim/sweep.js';
import { runSimulation } from '../../runtime/sim/simulator.js';

for (const bug of ['commit-without-quorum', 'vote-twice', 'read-without-readindex', 'send-before-persist']) {
  test(`injected bug ${bug} is caught within 500 seeds`, { timeout: 240_000 }, () => {
    const s = runSweep({ protocol: 'raft', from: 1, seeds: 500, bugs: [bug], protocolOptions: {}, sim: {}, untilFailure: true });
    assert.equal(s.failing_seeds.length, 1, `${bug} survived 500 seeds`);
    console.log(`# ${bug}: first caught at seed ${s.failing_seeds[0]}: ${s.first_failure!.what.split('\n')[0]}`);
  });
}

test('the same sweep without the bug passes those seeds', { timeout: 120_000 }, () => {
  const s = runSweep({ protocol: 'raft', from: 1, seeds: 20, bugs: [], protocolOptions: {}, sim: {}, untilFailure: false });
  assert.deepEqual(s.failing_seeds, []);
});

test('end to end: with invariant checks ignored, the client history alone exposes vote-twice', { timeout: 120_000 }, () => {
  const cfg = resolveSweep({ protocol: 'raft', bugs: ['vote-twice'], protocolOptions: {}, sim: { keepGoing: true } });
  let found = -1;
  for (let seed = 1; seed <= 100 && found < 0; seed++) {
    const r = runSimulation(cfg, seed);
    if (r.linearizable === 'illegal') found = seed;
  }
  assert.ok(found > 0, 'no non-linearizable history in 100 seeds');
  console.log(`# vote-twice: first non-linearizable history at seed ${found}`);
});
