// The client library against a real cluster (client traffic through a FaultProxy,
// client-proxy.ts): redirects from followers, and what its error codes promise when replicas
// cannot be reached ('unavailable': nothing happened; 'timeout': a write may have been applied).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KvClient, KvError } from '../../runtime/client/index.js';
import { BLACKHOLE, DROP, PASS } from '../../runtime/net/index.js';
import { usingCluster } from './helpers.js';
import { CLIENT, connect, deadPort, proxiedCluster, valueOn, withLostAnswer } from './client-proxy.js';
import { makeLeader } from './fault-helpers.js';

test('the client library on a real cluster: redirects and error codes', { timeout: 120_000 }, async (t) => {
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

      await step('given only followers, the client finds the leader, and follows a redirect when leadership moves', async () => {
        const followers = c.manifest.replicas.filter((r) => r.id !== leader).map((r) => r.client);
        const kv = await connect(rig, { endpoints: followers });
        try {
          await kv.put('redirected', 'yes');
          assert.equal(kv.leaderAddress, via.get(leader), 'the client talks to the leader (an address outside its list)');
          // The client's leader is now a follower: it answers "redirect", the client follows.
          const next = c.ids.find((id) => id !== leader)!;
          await makeLeader(c, next);
          leader = next;
          const before = kv.stats.redirects;
          await kv.put('redirected', 'again');
          assert.ok(kv.stats.redirects > before, `the write was redirected (stats ${JSON.stringify(kv.stats)})`);
          assert.equal(kv.leaderAddress, via.get(next));
          assert.equal(Buffer.from((await kv.get('redirected')).entry!.value!).toString(), 'again');
        } finally {
          await kv.close();
        }
      });

      await step('a write sent, applied, and then no replica reachable fails as "timeout" (maybe applied), never "unavailable" (no effect)', async () => {
        // Silence detection off: the proxy's 3 s delay must not count as a dead connection here.
        const kv = await connect(rig, { timeoutMs: 4000, silenceTimeoutMs: 0 });
        try {
          await kv.put('u', '0');
          const e = await withLostAnswer(rig, leader, 'u', '1', () => kv.cas('u', { kind: 'value', value: '0' }, '1'), async () => {
            for (const id of c.ids) proxy.set(CLIENT, id, DROP);
          }).then(() => null, (err: unknown) => err);
          assert.ok(e instanceof KvError, `expected a KvError, got ${String(e)}`);
          assert.equal(e.code, 'timeout', `the write was applied, so the error must not say it had no effect: ${e.code}: ${e.message}`);
          assert.equal(await valueOn(rig, leader, 'u'), '1');
        } finally {
          for (const id of c.ids) proxy.set(CLIENT, id, PASS);
          await kv.close();
        }
      });

      await step('an unreachable cluster: requests fail with the library error codes at their deadline', async () => {
        const kv = await connect(rig, { timeoutMs: 2000 });
        try {
          await kv.put('w', '0');
          for (const id of c.ids) proxy.set(CLIENT, id, BLACKHOLE);
          const t0 = Date.now();
          const e = await kv.put('w', '1').then(() => null, (err: unknown) => err);
          assert.ok(e instanceof KvError, `expected a KvError, got ${String(e)}`);
          assert.equal(e.code, 'timeout', e.message);
          assert.ok(Date.now() - t0 >= 1900, 'not before the deadline');
          const e2 = await connect(rig, { timeoutMs: 2000 }).then(() => null, (err: unknown) => err);
          assert.ok(e2 instanceof KvError, `expected a KvError, got ${String(e2)}`);
          assert.equal(e2.code, 'unavailable', e2.message);
        } finally {
          for (const id of c.ids) proxy.set(CLIENT, id, PASS);
          await kv.close();
        }
        // Nothing listening at all.
        const dead = [`127.0.0.1:${await deadPort()}`, `127.0.0.1:${await deadPort()}`];
        const e3 = await KvClient.connect({ endpoints: dead, token: c.token, requestTimeoutMs: 1500, connectTimeoutMs: 500 }).then(() => null, (err: unknown) => err);
        assert.ok(e3 instanceof KvError, `expected a KvError, got ${String(e3)}`);
        assert.equal(e3.code, 'unavailable', e3.message);
      });
    });
  } finally {
    await proxy.close();
  }
});
