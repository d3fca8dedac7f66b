// The fault-injecting proxy between real transports: partition, heal, one-way cuts, delay, drop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FaultProxy, DROP, delay } from '../../runtime/net/fault-proxy.js';
import { probe, sleep, startProbe, waitFor, type ProbeTransport } from './helpers.js';

/** Three transports whose every peer connection goes through the proxy. */
async function proxiedCluster(limits = {}) {
  const ids = [1, 2, 3];
  const nodes = new Map<number, ProbeTransport>();
  for (const id of ids) nodes.set(id, await startProbe(id, Object.fromEntries(ids.filter((p) => p !== id).map((p) => [p, null])), { limits }));
  const routes = ids.flatMap((from) => ids.filter((to) => to !== from).map((to) => ({ from, to, target: nodes.get(to)!.address })));
  const proxy = await FaultProxy.start(routes);
  for (const from of ids) for (const to of ids) if (from !== to) nodes.get(from)!.setPeer(to, proxy.addressOf(from, to));
  await waitFor(() => ids.every((a) => ids.every((b) => a === b || nodes.get(a)!.isConnected(b))), 'full mesh through the proxy');
  const close = async () => {
    await proxy.close();
    for (const n of nodes.values()) await n.close();
  };
  return { nodes, proxy, close };
}

function count(t: ProbeTransport, from: number, minSeq = 0): number {
  return t.received.filter((m) => m.from === from && m.seq >= minSeq).length;
}

test('partition isolates a node both ways; heal delivers held traffic in order and restores the link', async () => {
  const { nodes, proxy, close } = await proxiedCluster({ idleTimeoutMs: 60_000 });
  const [n1, n2, n3] = [nodes.get(1)!, nodes.get(2)!, nodes.get(3)!];
  try {
    proxy.partition([1], [2, 3]);
    for (let i = 0; i < 50; i++) {
      n1.send(probe(1, 2, i));
      n2.send(probe(2, 1, i));
      n2.send(probe(2, 3, i));
    }
    await waitFor(() => count(n3, 2) === 50, '2 -> 3 unaffected by the partition');
    await sleep(300);
    assert.equal(count(n2, 1), 0, '1 -> 2 cut');
    assert.equal(count(n1, 2), 0, '2 -> 1 cut');
    proxy.heal();
    await waitFor(() => count(n2, 1) === 50 && count(n1, 2) === 50, 'held traffic delivered after heal');
    assert.deepEqual(n2.received.filter((m) => m.from === 1).map((m) => m.seq), [...Array(50).keys()], 'in order, nothing lost or garbled');
    assert.equal(n2.stats().rejected.malformed + n2.stats().framing.oversize, 0);
    n1.send(probe(1, 2, 1000));
    await waitFor(() => count(n2, 1, 1000) === 1, 'link works after heal');
  } finally {
    await close();
  }
});

test('a one-way cut stops 1 -> 2 only; a long partition is detected by idle timeouts and recovers by redial', async () => {
  const { nodes, proxy, close } = await proxiedCluster({ idleTimeoutMs: 400, pingIntervalMs: 100, handshakeTimeoutMs: 400 });
  const [n1, n2] = [nodes.get(1)!, nodes.get(2)!];
  try {
    proxy.set(1, 2, { kind: 'blackhole' });
    n2.send(probe(2, 1, 1));
    await waitFor(() => count(n1, 2) === 1, '2 -> 1 still flows');
    await waitFor(() => !n1.isConnected(2), 'the dialer gives up on the silent link');
    assert.ok(n1.stats().framing.idleTimeouts >= 1);
    assert.ok(n1.logger.lines.some((l) => l.msg === 'lost connection to peer' && l.obj.peer === 2));
    await sleep(600);
    assert.equal(n1.isConnected(2), false, 'redials cannot complete a handshake through the black hole');
    assert.ok(n1.stats().dialRefused.timeout >= 1);
    proxy.heal();
    await waitFor(() => n1.isConnected(2), 'redialled after heal');
    n1.send(probe(1, 2, 77));
    await waitFor(() => count(n2, 1, 77) === 1, 'traffic after heal');
  } finally {
    await close();
  }
});

test('delay holds every chunk back but keeps order; drop resets at once', async () => {
  const { nodes, proxy, close } = await proxiedCluster();
  const [n1, n2] = [nodes.get(1)!, nodes.get(2)!];
  try {
    proxy.set(1, 2, delay(250));
    const t0 = Date.now();
    for (let i = 0; i < 20; i++) n1.send(probe(1, 2, i));
    await waitFor(() => count(n2, 1) === 20, 'delayed delivery');
    const took = Date.now() - t0;
    assert.ok(took >= 240, `took ${took} ms with a 250 ms delay`);
    assert.deepEqual(n2.received.filter((m) => m.from === 1).map((m) => m.seq), [...Array(20).keys()]);

    proxy.set(1, 2, DROP);
    await waitFor(() => !n1.isConnected(2), 'connection reset');
    assert.equal(n1.send(probe(1, 2, 500)), 'disconnected');
    const failures = n1.stats().peers[2]!.dialFailures;
    await waitFor(() => n1.stats().peers[2]!.dialFailures > failures, 'redials are reset too');
    const r = proxy.stats().find((s) => s.from === 1 && s.to === 2)!;
    assert.ok(r.resets >= 2);
    proxy.heal();
    await waitFor(() => n1.isConnected(2), 'back after heal');
  } finally {
    await close();
  }
});
