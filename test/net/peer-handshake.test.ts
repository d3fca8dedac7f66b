// The peer handshake over real loopback sockets: success, and every refusal counted on both sides.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameDecoder, FrameKind } from '../../runtime/net/frame.js';
import { PEER_PROTOCOL_VERSION } from '../../runtime/net/handshake.js';
import { randomBytes } from 'node:crypto';
import { PeerTransport } from '../../runtime/net/peer-transport.js';
import { probeCodec, type ProbeMessage } from '../../runtime/net/probe.js';
import { CLUSTER, SECRET, assertSameProbe, frame, probe, rawDial, sleep, startPair, startProbe, waitFor } from './helpers.js';
import net from 'node:net';

test('two transports authenticate each other and exchange messages in both directions', async () => {
  const [a, b] = await startPair();
  try {
    for (let i = 0; i < 500; i++) assert.equal(a.send(probe(1, 2, i)), 'sent');
    for (let i = 0; i < 500; i++) assert.equal(b.send(probe(2, 1, i, 100)), 'sent');
    await waitFor(() => b.received.length === 500 && a.received.length === 500, 'both sides to receive 500');
    assert.deepEqual(b.received.map((m) => m.seq), [...Array(500).keys()], 'in order');
    assertSameProbe(b.received[7]!, probe(1, 2, 7));
    assertSameProbe(a.received[499]!, probe(2, 1, 499, 100));
    const sa = a.stats();
    assert.equal(sa.peers[2]!.connects, 1);
    assert.equal(sa.peers[2]!.sentMessages, 500);
    assert.equal(sa.peers[2]!.receivedMessages, 500);
    assert.equal(sa.inboundAccepted, 1);
    assert.ok(sa.peers[2]!.batches < 500, `batched: ${sa.peers[2]!.batches} writes for 500 messages`);
    for (const v of Object.values(sa.refused)) assert.equal(v, 0);
  } finally {
    await a.close();
    await b.close();
  }
});

test('a dialer with the wrong secret is refused and counted on both sides; no message flows', async () => {
  const b = await startProbe(2, { 1: null });
  const a = await startProbe(1, { 2: b.address }, { secret: 'another-secret-0123456789' });
  try {
    await waitFor(() => b.stats().refused['auth-failed'] >= 1 && a.stats().dialRefused['auth-failed'] >= 1, 'auth failure counted');
    assert.equal(a.isConnected(2), false);
    assert.equal(a.send(probe(1, 2, 1)), 'disconnected');
    assert.equal(a.stats().peers[2]!.droppedDisconnected, 1);
    assert.equal(b.stats().inboundAccepted, 0);
    assert.ok(b.logger.lines.some((l) => l.msg === 'refused a peer handshake' && l.obj.reason === 'auth-failed'));
    // It keeps retrying with backoff, and keeps being refused.
    const before = a.stats().peers[2]!.dialFailures;
    await waitFor(() => a.stats().peers[2]!.dialFailures > before, 'a redial');
  } finally {
    await a.close();
    await b.close();
  }
});

test('an acceptor that cannot prove the secret is detected by the dialer and never used', async () => {
  // A hand-made impostor acceptor: plays the protocol correctly but has to guess the proof.
  let gotAuth = 0;
  const server = net.createServer((s) => {
    const dec = new FrameDecoder(4096);
    s.on('data', (chunk: Buffer) => {
      dec.push(chunk, (kind) => {
        if (kind === FrameKind.PeerHello) {
          s.write(frame(FrameKind.PeerChallenge, (w) => {
            w.u16(PEER_PROTOCOL_VERSION);
            w.raw(randomBytes(32));
          }));
        } else if (kind === FrameKind.PeerAuth) {
          gotAuth++;
          s.write(frame(FrameKind.PeerAccept, (w) => {
            w.raw(randomBytes(32));
            w.u32(1 << 20);
          }));
        }
        return true;
      });
    });
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const a = await startProbe(1, { 2: { host: '127.0.0.1', port } });
  try {
    await waitFor(() => a.stats().dialRefused['auth-failed'] >= 2, 'dialer counts the impostor twice');
    assert.ok(gotAuth >= 2);
    assert.equal(a.isConnected(2), false);
    assert.equal(a.stats().peers[2]!.connects, 0);
    assert.equal(a.send(probe(1, 2, 1)), 'disconnected');
  } finally {
    await a.close();
    server.close();
  }
});

test('wrong cluster id is refused and counted', async () => {
  const b = await startProbe(2, { 1: null });
  const a = await startProbe(1, { 2: b.address }, { clusterId: 'other-cluster' });
  try {
    await waitFor(() => b.stats().refused['wrong-cluster'] >= 1, 'wrong-cluster counted by acceptor');
    await waitFor(() => a.stats().dialRefused['wrong-cluster'] >= 1, 'wrong-cluster counted by dialer');
    assert.equal(a.isConnected(2), false);
    assert.equal(b.stats().refused['auth-failed'], 0, 'refused before any proof is exchanged');
  } finally {
    await a.close();
    await b.close();
  }
});

test('an unknown replica id is refused and counted, even with the right secret', async () => {
  const b = await startProbe(2, { 1: null });
  const intruder = await startProbe(9, { 2: b.address });
  try {
    await waitFor(() => b.stats().refused['unknown-replica'] >= 1, 'unknown-replica counted');
    await waitFor(() => intruder.stats().dialRefused['unknown-replica'] >= 1, 'dialer told why');
    assert.equal(intruder.isConnected(2), false);
    // Claiming to be the acceptor itself is refused the same way.
    const self = await rawDial(b.address.port, { from: 2, to: 2 });
    assert.equal(self.outcome, 'rejected');
    assert.equal(self.reason, 'unknown-replica');
    self.socket.destroy();
    // Dialing replica 2 while believing it is replica 3.
    const wrong = await rawDial(b.address.port, { from: 1, to: 3 });
    assert.equal(wrong.reason, 'wrong-target');
    wrong.socket.destroy();
    assert.equal(b.stats().refused['wrong-target'], 1);
  } finally {
    await intruder.close();
    await b.close();
  }
});

test('a bad protocol version and a bad magic are refused and counted', async () => {
  const b = await startProbe(2, { 1: null });
  try {
    const v = await rawDial(b.address.port, { from: 1, to: 2, version: 99 });
    assert.equal(v.outcome, 'rejected');
    assert.equal(v.reason, 'bad-version');
    v.socket.destroy();
    const m = await rawDial(b.address.port, { from: 1, to: 2, magic: 'HTTP' });
    assert.equal(m.reason, 'bad-magic');
    m.socket.destroy();
    const s = b.stats();
    assert.equal(s.refused['bad-version'], 1);
    assert.equal(s.refused['bad-magic'], 1);
    // A hand-made dialer with everything right is accepted: the negative results are not an artefact.
    const ok = await rawDial(b.address.port, { from: 1, to: 2 });
    assert.equal(ok.outcome, 'accepted');
    ok.socket.destroy();
  } finally {
    await b.close();
  }
});

test('a dialer that sends a version the acceptor does not speak sees bad-version counted on its side', async () => {
  // The acceptor answers a challenge with its version; a dialer that got a different one refuses.
  const server = net.createServer((s) => {
    s.on('data', () => {
      s.write(frame(FrameKind.PeerChallenge, (w) => {
        w.u16(7);
        w.raw(Buffer.alloc(32));
      }));
    });
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const a = await startProbe(1, { 2: { host: '127.0.0.1', port } });
  try {
    await waitFor(() => a.stats().dialRefused['bad-version'] >= 1, 'dialer counts bad-version');
  } finally {
    await a.close();
    server.close();
  }
});

test('garbage instead of a hello, and silence, are refused without crashing', async () => {
  const b = await startProbe(2, { 1: null }, { limits: { handshakeTimeoutMs: 300 } });
  try {
    const http = net.connect({ host: '127.0.0.1', port: b.address.port });
    http.on('error', () => {});
    http.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const silent = net.connect({ host: '127.0.0.1', port: b.address.port });
    silent.on('error', () => {});
    await waitFor(() => b.stats().refused.malformed >= 1 && b.stats().refused.timeout >= 1, 'malformed and timeout counted');
    assert.ok(b.stats().framing.oversize >= 1, 'the HTTP request line reads as an oversize length');
    http.destroy();
    silent.destroy();
  } finally {
    await b.close();
  }
});

test('too many unauthenticated connections are refused as busy', async () => {
  const b = await startProbe(2, { 1: null }, { limits: { maxPendingHandshakes: 3, handshakeTimeoutMs: 5_000 } });
  const socks: net.Socket[] = [];
  try {
    for (let i = 0; i < 6; i++) {
      const s = net.connect({ host: '127.0.0.1', port: b.address.port });
      s.on('error', () => {});
      socks.push(s);
    }
    await waitFor(() => b.stats().refused.busy >= 3, 'three refused as busy');
  } finally {
    for (const s of socks) s.destroy();
    await b.close();
  }
});

test('configuration errors are clear', async () => {
  const base = { id: 1, clusterId: CLUSTER, secret: SECRET, codec: probeCodec, peers: {}, onMessage: () => {} };
  await assert.rejects(PeerTransport.start<ProbeMessage>({ ...base, secret: 'short' }), /at least 16 bytes/);
  await assert.rejects(PeerTransport.start<ProbeMessage>({ ...base, id: 0 }), /replica id/);
  await assert.rejects(PeerTransport.start<ProbeMessage>({ ...base, peers: { 1: null } }), /own id/);
  await assert.rejects(PeerTransport.start<ProbeMessage>({ ...base, clusterId: '' }), /cluster id/);
  await assert.rejects(
    PeerTransport.start<ProbeMessage>({ ...base, limits: { maxFrameBytes: 1 << 20, maxQueueBytes: 1 << 10 } }),
    /maxQueueBytes/,
  );
  const t = await PeerTransport.start<ProbeMessage>({ ...base, peers: { 2: null } });
  try {
    assert.throws(() => t.send(probe(3, 2, 1)), /msg.from/);
    assert.equal(t.send(probe(1, 7, 1)), 'unknown-peer');
    assert.equal(t.address.host, '127.0.0.1', 'loopback by default');
    await assert.rejects(
      PeerTransport.start<ProbeMessage>({ ...base, listen: { port: t.address.port } }),
      /cannot listen for peers on 127.0.0.1:\d+/,
    );
  } finally {
    await t.close();
  }
  await sleep(0);
});

test('setPeer moves a link to a new address, and null parks it idle', async () => {
  const [a, b] = await startPair();
  const c = await startProbe(2, { 1: a.address });
  try {
    a.setPeer(2, c.address);
    await waitFor(() => a.isConnected(2) && a.stats().peers[2]!.connects === 2, 'reconnected to the new address');
    a.send(probe(1, 2, 5));
    await waitFor(() => c.received.length === 1, 'delivered to the new replica 2');
    a.setPeer(2, null);
    await waitFor(() => a.peerState(2) === 'idle', 'parked');
    assert.equal(a.send(probe(1, 2, 6)), 'disconnected');
  } finally {
    await a.close();
    await b.close();
    await c.close();
  }
});
