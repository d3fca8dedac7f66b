// Changing R while real replica processes serve a recorded write load: 3 -> 5 -> 2 -> 3 through
// POST /v1/instances (the change is a record in the global log, applied at the same point on every
// replica; leaving instances drain and seal, new ones join). Skip mode here, so the rate-based
// progress rule runs in a real cluster too. Afterwards: every replica runs R = 3 at the same epoch,
// no acknowledged write is lost, the history is linearizable, the replicas converge.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Workload, control, finalChecks, longestAckGap, mrStatus, sleep, startMultiRaft, waitInstances, usingCluster } from './replica-helpers.js';

test('change R under load: 3 -> 5 -> 2 -> 3 (skip mode)', { timeout: 150_000 }, async () => {
  const c = await startMultiRaft(3, { progress: 'skip' });
  await usingCluster(c, async () => {
    await waitInstances(c, 3);
    const w = new Workload(c, { spread: true });
    await w.start();
    await sleep(1000);
    let epoch = (await mrStatus(c)).get(1)!.epoch;
    const t0 = performance.now();
    for (const target of [5, 2, 3]) {
      const ackedBefore = w.writeAcks.length;
      const t = performance.now();
      // Any replica that leads an open instance may propose; the others answer 409.
      let done = false;
      for (const id of c.ids) {
        const r = await control(c, id, '/v1/instances', { count: target, timeoutMs: 30_000 });
        if (r.status === 409 && String(r.json.error).includes('leads no open instance')) continue;
        assert.equal(r.status, 200, JSON.stringify(r.json));
        assert.equal(r.json.instances, target);
        assert.ok((r.json.epoch as number) > epoch, 'the change moved the epoch');
        epoch = r.json.epoch as number;
        done = true;
        break;
      }
      assert.ok(done, `some replica could propose R = ${target}`);
      const applied = performance.now();
      const leaders = await waitInstances(c, target, 30_000);
      const settled = performance.now();
      await sleep(1000);
      assert.ok(w.writeAcks.length > ackedBefore, `writes were acknowledged across the change to R = ${target}`);
      console.log(
        `R = ${target} at epoch ${epoch}: applied ${(applied - t).toFixed(0)} ms after the request, every instance led after ${(settled - t).toFixed(0)} ms (${JSON.stringify([...leaders])}); longest pause in write acknowledgements around it ${longestAckGap(w, t - 200, performance.now()).toFixed(0)} ms`,
      );
    }
    await w.stop();
    for (const op of w.operations()) if (op.return === null) console.log(`outcome unknown: ${JSON.stringify(op.input)} called ${(op.call - t0).toFixed(0)} ms into the changes`);
    const r = await finalChecks(c, w);
    const st = await mrStatus(c);
    for (const [id, m] of st) {
      assert.equal(m.instances, 3, `replica ${id}: R`);
      assert.equal(m.epoch, epoch, `replica ${id}: epoch`);
      assert.equal(m.counters['merge.gaps'], 0, `replica ${id}: no gaps`);
      assert.equal(m.counters['merge.changesApplied'], 3, `replica ${id}: three changes applied`);
    }
    const skips = [...st.values()].reduce((a, m) => a + (m.counters.skipRecordsProposed ?? 0), 0);
    const seals = [...st.values()].reduce((a, m) => a + (m.counters.controlRecordsProposed ?? 0), 0);
    assert.ok(seals > 0, 'seal and join records were proposed');
    console.log(`changed R three times under load: ${r.operations} operations (${r.unknown} unknown), ${r.acked} acknowledged unique puts, ${skips} skip records, ${seals} control records, errors ${JSON.stringify(Object.fromEntries(w.errors))}`);
  });
});
