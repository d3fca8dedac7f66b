// Reconnect after a peer process is killed with SIGKILL and restarted on the same port.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { killChild, probe, sleep, startChildPeer, startProbe, waitFor } from './helpers.js';

test('a peer killed with SIGKILL is redialled with backoff and used again after it restarts', async () => {
  const a = await startProbe(1, { 2: null });
  let child = await startChildPeer({ id: 2, port: 0, peers: { 1: a.address } });
  const port = child.address.port;
  try {
    a.setPeer(2, child.address);
    await waitFor(() => a.isConnected(2), 'connected to the child');
    for (let i = 0; i < 100; i++) a.send(probe(1, 2, i));
    await waitFor(() => a.received.length === 100, 'echoes from the first incarnation');

    await killChild(child.proc, 'SIGKILL');
    await waitFor(() => !a.isConnected(2), 'the loss noticed');
    assert.equal(a.send(probe(1, 2, 1000)), 'disconnected');
    await sleep(400); // several redials fail while nothing listens
    const down = a.stats().peers[2]!;
    assert.equal(down.disconnects, 1);
    assert.ok(down.dialFailures >= 1, `redials failed meanwhile: ${down.dialFailures}`);
    assert.ok(down.dialFailures < 40, `backoff keeps redials sparse: ${down.dialFailures} in 400 ms`);
    assert.ok(down.droppedDisconnected >= 1);
    assert.ok(a.logger.lines.some((l) => l.msg === 'lost connection to peer' && l.obj.peer === 2));

    child = await startChildPeer({ id: 2, port, peers: { 1: a.address } });
    await waitFor(() => a.isConnected(2), 'reconnected to the restarted child', 20_000);
    for (let i = 0; i < 100; i++) a.send(probe(1, 2, 2000 + i));
    await waitFor(() => a.received.filter((m) => m.seq >= 2000).length === 100, 'echoes from the second incarnation');
    const up = a.stats().peers[2]!;
    assert.equal(up.connects, 2);
    // The child dialled us back too: our inbound side accepted both incarnations.
    assert.ok(a.stats().inboundAccepted >= 2);
  } finally {
    await killChild(child.proc);
    await a.close();
  }
});
