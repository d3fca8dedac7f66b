// A follower that stops reading (SIGSTOP) while the leader writes at full speed: what the leader
// queues for it stays bounded (Raft's in-flight window first, the transport's congestion signal and
// hard bound behind it), nothing is dropped for a full queue, the leader keeps serving through the
// other follower; after SIGCONT the follower catches up and the usual checks hold.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster, Workload, finalChecks, sleep } from './helpers.js';

test('a stopped follower: congestion holds appends back, the queue stays bounded, the leader keeps serving, it catches up', { timeout: 120_000 }, async () => {
  // The default window (16 MiB of unacknowledged appends per follower; congestion at 8 MiB).
  const c = await TestCluster.start();
  let ok = false;
  try {
    const leader = await c.leader();
    const follower = c.ids.find((i) => i !== leader)!;
    const w = new Workload(c, { valueBytes: 64 });
    await w.start();
    const bulk = await c.client({ timeoutMs: 20_000 });
    let stop = false;
    const value = Buffer.alloc(4096, 'b');
    let n = 0;
    const pumps = Array.from({ length: 64 }, async () => {
      while (!stop) await bulk.put(`bulk-${n++ % 1000}`, value);
    });
    await sleep(500);
    c.procs.get(follower)!.kill('SIGSTOP');
    const stoppedAt = performance.now();
    await sleep(3000);
    const st = (await c.status()).find((s) => s.id === leader)!;
    assert.ok(st.ok);
    const g = (st.status.groups as { appendsHeldBack: number }[])[0]!;
    const peer = st.status.peer as { sendFailures: Record<string, number> };
    const link = (st.status.transport as { peers: Record<string, { queuedBytes: number; congested: boolean; congestionEvents: number }> }).peers[String(follower)]!;
    const rss = (st.status.memory as { rss: number }).rss;
    c.procs.get(follower)!.kill('SIGCONT');
    const resumedAt = performance.now();
    stop = true;
    await Promise.all(pumps);
    await bulk.close();
    await sleep(1500);
    await w.stop();
    // The transport signals congestion at half the window, and the leader stops sending appends
    // (heartbeats go on); Raft's window and the transport's hard bound (two windows) stand behind.
    assert.ok(link.congestionEvents > 0 && g.appendsHeldBack > 0, `congestion held appends back (${link.congestionEvents} events, ${g.appendsHeldBack} appends)`);
    assert.ok(link.queuedBytes <= 16 << 20, `the queue to the stopped follower stayed bounded (${link.queuedBytes} bytes)`);
    const during = w.writeAcks.filter((a) => a.call >= stoppedAt && a.ret <= resumedAt).length;
    assert.ok(during > 20, `the leader kept serving while a follower was stopped (${during} writes)`);
    assert.equal(peer.sendFailures['queue-full'] ?? 0, 0, 'nothing was dropped for a full queue');
    const r = await finalChecks(c, w);
    console.log(`stopped follower ${follower}: ${g.appendsHeldBack} appends held back, ${link.congestionEvents} congestion events, queue ${(link.queuedBytes / 2 ** 20).toFixed(1)} MiB, leader rss ${(rss / 2 ** 20).toFixed(0)} MiB, ${n} bulk puts, ${r.operations} recorded operations`);
    ok = true;
  } catch (e) {
    c.procs.forEach((p) => p.kill('SIGCONT'));
    console.error(c.logs());
    throw e;
  } finally {
    await c.cleanup(!ok);
  }
});
