// Proof that the checks can fail: each deliberately broken variant is caught within 500 seeds.
// The first catching seed of each is recorded in docs/sim.md.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSweep } from '../../runtime/sim/sweep.js';

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
