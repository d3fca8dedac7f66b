// Network faults between real replica processes, injected by a FaultProxy on every replica-to-
// replica link (clients still reach every replica): isolate a follower and heal it; isolate the
// leader and heal it. And the same checks failing when the core is deliberately broken, which is
// what shows they can fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ELECTION_TIMEOUT_MAX_MS, Workload, finalChecks, sleep, withCluster } from './helpers.js';

const RECOVERY_BUDGET_MS = 8 * ELECTION_TIMEOUT_MAX_MS;

test('isolate a follower under load, heal it: it catches up and nothing is lost', { timeout: 120_000 }, async () => {
  await withCluster({ proxy: true }, async (c) => {
    const leader = await c.leader();
    const follower = c.ids.find((i) => i !== leader)!;
    const w = new Workload(c);
    await w.start();
    await sleep(1000);
    const t = performance.now();
    c.proxy!.isolate(follower);
    await sleep(3000);
    // The majority kept serving: writes were acknowledged while the follower was cut off.
    const during = w.writeAcks.filter((a) => a.call >= t).length;
    assert.ok(during > 20, `only ${during} writes acknowledged while a follower was isolated`);
    const before = (await c.status()).find((s) => s.id === follower);
    c.proxy!.heal();
    await sleep(1500);
    await w.stop();
    const r = await finalChecks(c, w);
    const after = (await c.status()).find((s) => s.id === follower);
    assert.ok(before?.ok && after?.ok);
    assert.ok(after.status.applied > before.status.applied, 'the healed follower applied what it missed');
    assert.equal(await c.leader(), leader, 'an isolated follower (pre-vote) must not depose the leader');
    console.log(`isolated follower ${follower}: ${during} writes acknowledged meanwhile; ${r.operations} operations, ${r.acked} unique puts`);
  });
});

test('isolate the leader under load, heal it: a new leader serves, the old one rejoins', { timeout: 120_000 }, async () => {
  await withCluster({ proxy: true }, async (c) => {
    const leader = await c.leader();
    const w = new Workload(c);
    await w.start();
    await sleep(1000);
    const t = performance.now();
    c.proxy!.isolate(leader);
    const others = c.ids.filter((i) => i !== leader);
    const next = await c.leader(20_000, others);
    await sleep(1500);
    const first = w.firstWriteAckAfter(t);
    assert.ok(first !== null && first - t < RECOVERY_BUDGET_MS, `writes served again after ${first === null ? 'never' : (first - t).toFixed(0) + ' ms'}`);
    c.proxy!.heal();
    await sleep(1500);
    await w.stop();
    const r = await finalChecks(c, w);
    console.log(`isolated leader ${leader}; replica ${next} took over; writes served again after ${(first! - t).toFixed(0)} ms; ${r.operations} operations (${r.unknown} unknown)`);
  });
});

test('the checks catch a broken core: commit-without-quorum loses acknowledged writes of an isolated leader', { timeout: 120_000 }, async () => {
  await withCluster({ proxy: true, overrides: { raft: { bugs: ['commit-without-quorum'] } } }, async (c) => {
    const leader = await c.leader();
    const w = new Workload(c);
    await w.start();
    await sleep(800);
    c.proxy!.isolate(leader);
    await c.leader(20_000, c.ids.filter((i) => i !== leader));
    await sleep(1000);
    c.proxy!.heal();
    await sleep(1500);
    await w.stop();
    await assert.rejects(finalChecks(c, w), (e: Error) => {
      console.log(`as expected, the checks failed: ${e.message.split('\n')[0]}`);
      return true;
    });
  });
});
