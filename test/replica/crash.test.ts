// Crashes (SIGKILL) of real replica processes under a recorded client load: the leader, a
// follower, and the whole cluster. After each: no acknowledged write is lost, the history is
// linearizable, the replicas converge, and the cluster served writes again within a few election
// timeouts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ELECTION_TIMEOUT_MAX_MS, TestCluster, Workload, finalChecks, sleep, withCluster } from './helpers.js';

/** "A few election timeouts", generous for a loaded 2-core machine. */
const RECOVERY_BUDGET_MS = 8 * ELECTION_TIMEOUT_MAX_MS;

async function scenario(name: string, body: (c: TestCluster, w: Workload) => Promise<void>): Promise<void> {
  await withCluster({}, async (c) => {
    await c.leader();
    const w = new Workload(c);
    await w.start();
    await sleep(1500);
    await body(c, w);
    await sleep(1500);
    await w.stop();
    const r = await finalChecks(c, w);
    assert.ok(w.acked.size > 20, `${name}: too few acknowledged writes (${w.acked.size}) to mean anything`);
    console.log(`${name}: ${r.operations} operations (${r.unknown} unknown), ${r.acked} acknowledged unique puts, errors ${JSON.stringify(Object.fromEntries(w.errors))}`);
  });
}

function assertServedAgain(w: Workload, faultAt: number, what: string): number {
  const first = w.firstWriteAckAfter(faultAt);
  assert.ok(first !== null, `${what}: no write was acknowledged after the fault`);
  const ms = first - faultAt;
  assert.ok(ms < RECOVERY_BUDGET_MS, `${what}: writes served again after ${ms.toFixed(0)} ms (budget ${RECOVERY_BUDGET_MS} ms)`);
  return ms;
}

test('kill -9 the leader during a write load, then restart it', { timeout: 120_000 }, async () => {
  await scenario('leader crash', async (c, w) => {
    const leader = await c.leader();
    const t = performance.now();
    await c.kill(leader);
    const others = c.ids.filter((i) => i !== leader);
    const next = await c.leader(20_000, others);
    assert.notEqual(next, leader);
    await sleep(1000);
    const ms = assertServedAgain(w, t, 'leader crash');
    console.log(`leader ${leader} killed; replica ${next} took over; writes served again ${ms.toFixed(0)} ms after the crash`);
    c.startReplica(leader);
    await c.leader(20_000);
  });
});

test('kill -9 a follower during a write load, then restart it', { timeout: 120_000 }, async () => {
  await scenario('follower crash', async (c, w) => {
    const leader = await c.leader();
    const follower = c.ids.find((i) => i !== leader)!;
    const t = performance.now();
    await c.kill(follower);
    await sleep(1500);
    assertServedAgain(w, t, 'follower crash');
    c.startReplica(follower);
    await c.leader(20_000);
  });
});

test('kill -9 every replica during a write load, then restart the whole cluster', { timeout: 120_000 }, async () => {
  await scenario('whole-cluster crash', async (c, w) => {
    await Promise.all(c.ids.map((id) => c.kill(id)));
    await sleep(300);
    const t = performance.now();
    for (const id of c.ids) c.startReplica(id);
    await c.leader(30_000);
    await sleep(1500);
    // Restarting processes takes a while on its own (module loading, recovery); the budget starts
    // when they were started.
    const ms = assertServedAgain(w, t, 'whole-cluster restart');
    console.log(`whole cluster restarted; writes served again ${ms.toFixed(0)} ms after the restart`);
  });
});
