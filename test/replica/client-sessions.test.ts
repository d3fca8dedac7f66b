// Client sessions against a real cluster (client traffic through a FaultProxy, client-proxy.ts):
// a write whose answer is lost is applied once when the client library retries it.
//
// A lost answer: the leader's client route is delayed, so the request reaches the leader late and
// its answer waits in the proxy; once the write is visible on the leader the route resets its
// connections (the answer is dropped), or goes silent. The client retries with the same
// (session, seq). A compare-and-set makes a second application visible: re-executed, it would
// report that the comparison failed. A session-less client in the same situation shows exactly
// that, so the setup does make the retry reach the state machine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BLACKHOLE, PASS } from '../../runtime/net/index.js';
import { sleep, usingCluster } from './helpers.js';
import { CLIENT, connect, proxiedCluster, withLostAnswer } from './client-proxy.js';

test('client sessions on a real cluster: a write whose answer is lost is applied exactly once', { timeout: 120_000 }, async (t) => {
  const rig = await proxiedCluster();
  const { c, proxy, via } = rig;
  try {
    // A failing step prints the replicas' logs (a failed subtest does not fail usingCluster's body).
    const step = (name: string, fn: () => Promise<void>) =>
      t.test(name, async () => {
        try {
          await fn();
        } catch (e) {
          console.error(c.logs());
          throw e;
        }
      });
    await usingCluster(c, async () => {
      let leader = await c.leader();

      await step('a compare-and-set whose answer is lost is retried and applied exactly once', async () => {
        const kv = await connect(rig);
        try {
          await kv.put('x', '0');
          assert.equal(kv.leaderAddress, via.get(leader));
          const before = kv.stats.retries + kv.stats.reconnects;
          const res = await withLostAnswer(rig, leader, 'x', '1', () => kv.cas('x', { kind: 'value', value: '0' }, '1'), async () => {
            await sleep(500); // the client is retrying against the dropped route meanwhile
            proxy.set(CLIENT, leader, PASS);
          });
          assert.ok(kv.stats.retries + kv.stats.reconnects > before, `the client retried (stats ${JSON.stringify(kv.stats)})`);
          assert.equal(res.succeeded, true, `the retry got the original answer, not a second execution (current ${res.current && Buffer.from(res.current.value!).toString()})`);
          const g = await kv.get('x');
          assert.equal(Buffer.from(g.entry!.value!).toString(), '1');
          assert.equal(g.entry!.version, 2, 'put + one CAS: applied once');
          assert.equal(g.entry!.modRevision, res.revision);
          // The session goes on working after the retry.
          assert.equal((await kv.cas('x', { kind: 'value', value: '1' }, '2')).succeeded, true);
        } finally {
          await kv.close();
        }
      });

      await step('without a session the same lost answer makes the retry apply twice (the setup works)', async () => {
        const kv = await connect(rig, { sessions: false });
        try {
          await kv.put('y', '0');
          const res = await withLostAnswer(rig, leader, 'y', '1', () => kv.cas('y', { kind: 'value', value: '0' }, '1'), async () => {
            await sleep(500);
            proxy.set(CLIENT, leader, PASS);
          });
          assert.equal(res.succeeded, false, 'the retried CAS ran again and found its own value');
          assert.equal(Buffer.from(res.current!.value!).toString(), '1');
        } finally {
          await kv.close();
        }
      });

      await step('the answer is lost and the leader crashes: the retry at the new leader gets the original answer', async () => {
        const kv = await connect(rig);
        try {
          await kv.put('z', '0');
          const old = leader;
          const res = await withLostAnswer(rig, old, 'z', '1', () => kv.cas('z', { kind: 'value', value: '0' }, '1'), () => c.kill(old));
          assert.equal(res.succeeded, true, `the retry got the original answer (current ${res.current && Buffer.from(res.current.value!).toString()})`);
          leader = await c.leader(30_000, c.ids.filter((i) => i !== old));
          assert.notEqual(leader, old);
          assert.equal(kv.leaderAddress, via.get(leader), 'the retry went to the new leader');
          const g = await kv.get('z');
          assert.equal(Buffer.from(g.entry!.value!).toString(), '1');
          assert.equal(g.entry!.version, 2, 'put + one CAS: applied once');
          proxy.set(CLIENT, old, PASS);
          c.startReplica(old);
          leader = await c.leader(30_000);
          await c.converged();
        } finally {
          await kv.close();
        }
      });

      await step('the answer path goes silent and the leader crashes: the client notices, retries at the new leader, gets the original answer', async () => {
        const kv = await connect(rig, { timeoutMs: 15_000 });
        try {
          await kv.put('s', '0');
          const old = leader;
          const res = await withLostAnswer(rig, old, 's', '1', () => kv.cas('s', { kind: 'value', value: '0' }, '1'), async () => {
            // Answers held and nothing closed, as when the leader's host drops off the network.
            proxy.set(CLIENT, old, BLACKHOLE);
            await c.kill(old);
          }, BLACKHOLE);
          assert.equal(res.succeeded, true, `the retry got the original answer (current ${res.current && Buffer.from(res.current.value!).toString()})`);
          leader = await c.leader(30_000, c.ids.filter((i) => i !== old));
          assert.equal(kv.leaderAddress, via.get(leader), 'the retry went to the new leader');
          const g = await kv.get('s');
          assert.equal(Buffer.from(g.entry!.value!).toString(), '1');
          assert.equal(g.entry!.version, 2, 'put + one CAS: applied once');
          proxy.set(CLIENT, old, PASS);
          c.startReplica(old);
          leader = await c.leader(30_000);
          await c.converged();
        } finally {
          await kv.close();
        }
      });
    });
  } finally {
    await proxy.close();
  }
});
