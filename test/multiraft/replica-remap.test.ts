// Live remapping of multi-Raft actors through POST /v1/plan while the cluster serves a recorded
// load (R = 3): every instance and the sequencer on one worker thread; then one worker per
// instance (the sequencer and kv on a fourth); then everything back on the main thread. Each
// instance and the sequencer move with their state (leaders stay leaders, the merge continues
// where it was), writes keep being acknowledged, and the usual checks hold afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Workload, control, finalChecks, longestAckGap, mrStatus, sleep, startMultiRaft, waitBalanced, waitInstances, usingCluster } from './replica-helpers.js';

const TOGETHER = { workers: 1, placement: { 'raft/0': 1, 'raft/1': 1, 'raft/2': 1, sequencer: 1 } };
const APART = { workers: 4, placement: { 'raft/0': 1, 'raft/1': 2, 'raft/2': 3, sequencer: 4, kv: 4 } };
const MAIN = { workers: 0, placement: { 'raft/0': 0, 'raft/1': 0, 'raft/2': 0, sequencer: 0, kv: 0 } };

test('R=3: all instances on one executor, one executor per instance, and back, under load', { timeout: 150_000 }, async () => {
  const c = await startMultiRaft(3);
  await usingCluster(c, async () => {
    // Leaders spread first (one per replica), so that the spreading cannot move one during the test.
    const before = await waitBalanced(c, 3);
    const w = new Workload(c, { spread: true });
    await w.start();
    await sleep(1000);
    for (const [name, plan] of [
      ['together', TOGETHER],
      ['apart', APART],
      ['main', MAIN],
    ] as const) {
      const acked = w.writeAcks.length;
      const t = performance.now();
      // Every replica at once: leaders and followers of every instance move.
      const rs = await Promise.all(c.ids.map((id) => control(c, id, '/v1/plan', plan)));
      for (const r of rs) assert.equal(r.status, 200, JSON.stringify(r.json));
      for (const id of c.ids) {
        const topo = await control(c, id, '/v1/topology');
        const actors = topo.json.actors as Record<string, { executor: number }>;
        for (const [actor, ex] of Object.entries(plan.placement)) assert.equal(actors[actor]!.executor, ex, `replica ${id}: ${actor} on executor ${ex}`);
        assert.equal(actors.wal!.executor, 0, 'the log writer stays on the main thread');
      }
      const moved = performance.now();
      await sleep(1500);
      assert.ok(w.writeAcks.length > acked, `writes acknowledged after the move "${name}"`);
      const leaders = await waitInstances(c, 3);
      console.log(`plan "${name}" applied on 3 replicas in ${(moved - t).toFixed(0)} ms; longest pause in write acknowledgements ${longestAckGap(w, t, performance.now()).toFixed(0)} ms; leaders ${JSON.stringify([...leaders])}`);
    }
    assert.deepEqual(await waitInstances(c, 3), before, 'moving actors changes no leadership');
    await w.stop();
    const r = await finalChecks(c, w);
    for (const [id, m] of await mrStatus(c)) {
      assert.equal(m.counters['merge.gaps'], 0, `replica ${id}: no gaps`);
      // Every batch proposed during the run was output (or reported dropped): nothing is left over.
      assert.equal(m.counters.tagsPending, 0, `replica ${id}: no client batch still waiting`);
      assert.equal(m.counters.trackedEntries, 0, `replica ${id}: no tracked entry left`);
    }
    console.log(`remapped three times under load: ${r.operations} operations (${r.unknown} unknown), ${w.writeAcks.length} writes acknowledged, errors ${JSON.stringify(Object.fromEntries(w.errors))}`);
  });
});
