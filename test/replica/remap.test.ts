// Live remapping through the control API while the cluster serves a recorded load: the leader's
// and a follower's movable actors (raft/0, sequencer, kv) go to a worker thread and back. The
// moves keep the Raft core's volatile state (the leader stays leader) and the service's state,
// and the usual checks hold afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { TestCluster, Workload, finalChecks, sleep, withCluster } from './helpers.js';

async function control(c: TestCluster, id: number, route: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = c.manifest.replicas.find((x) => x.id === id)!;
  const token = fs.readFileSync(c.manifest.controlTokenFile, 'utf8').trim();
  const res = await fetch(`${r.control}${route}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

test('move raft/0, sequencer and kv to a worker thread and back under load', { timeout: 120_000 }, async () => {
  await withCluster({}, async (c) => {
    const leader = await c.leader();
    const follower = c.ids.find((i) => i !== leader)!;
    const w = new Workload(c);
    await w.start();
    await sleep(1000);
    const toWorker = { workers: 1, placement: { 'raft/0': 1, sequencer: 1, kv: 1 } };
    const toMain = { workers: 0, placement: { 'raft/0': 0, sequencer: 0, kv: 0 } };
    for (const id of [leader, follower]) {
      const r = await control(c, id, '/v1/plan', toWorker);
      assert.equal(r.status, 200, JSON.stringify(r.json));
      const topo = await control(c, id, '/v1/topology');
      const actors = topo.json.actors as Record<string, { executor: number }>;
      assert.equal(actors['raft/0']!.executor, 1);
      assert.equal(actors.kv!.executor, 1);
      assert.equal(actors.wal!.executor, 0, 'the log writer stays on the main thread');
    }
    await sleep(1500);
    assert.equal(await c.leader(), leader, 'moving the leader\'s actors keeps it leader');
    // Pinned actors refuse to move.
    const bad = await control(c, leader, '/v1/plan', { workers: 1, placement: { peer: 1 } });
    assert.equal(bad.status, 400);
    for (const id of [leader, follower]) assert.equal((await control(c, id, '/v1/plan', toMain)).status, 200);
    await sleep(1500);
    await w.stop();
    const r = await finalChecks(c, w);
    const writesAcked = w.writeAcks.length;
    assert.ok(writesAcked > 100, `only ${writesAcked} writes acknowledged`);
    console.log(`remapped twice under load: ${r.operations} operations (${r.unknown} unknown), ${writesAcked} writes acknowledged`);
  });
});
