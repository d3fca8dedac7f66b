// What an authenticated peer may and may not send: spoofed senders, misaddressed messages,
// oversize frames, and random bytes must be rejected and counted without harming the process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FrameKind } from '../../runtime/net/frame.js';
import { probeCodec } from '../../runtime/net/probe.js';
import { frame, probe, rawDial, sleep, startPair, startProbe, waitFor } from './helpers.js';

test('a message whose from is not the authenticated peer is rejected and counted', async () => {
  const b = await startProbe(2, { 1: null, 3: null });
  try {
    const d = await rawDial(b.address.port, { from: 1, to: 2 });
    assert.equal(d.outcome, 'accepted');
    d.socket.write(frame(FrameKind.PeerMessage, (w) => probeCodec.encodeInto(probe(3, 2, 1), w)));
    d.socket.write(frame(FrameKind.PeerMessage, (w) => probeCodec.encodeInto(probe(1, 5, 2), w)));
    d.socket.write(frame(FrameKind.PeerMessage, (w) => probeCodec.encodeInto(probe(1, 2, 3), w)));
    await waitFor(() => b.received.length === 1, 'the honest message');
    assert.equal(b.received[0]!.seq, 3);
    assert.equal(b.received[0]!.from, 1);
    const s = b.stats();
    assert.equal(s.rejected.spoofed, 1);
    assert.equal(s.rejected.misaddressed, 1);
    assert.equal(s.peers[1]!.receivedMessages, 1);
    assert.equal(s.peers[3]!.receivedMessages, 0);
    assert.ok(b.logger.lines.some((l) => /sender is not the authenticated peer/.test(l.msg) && l.obj.claimedFrom === 3));
    d.socket.destroy();
  } finally {
    await b.close();
  }
});

test('an oversize frame closes the connection with a clear log; the sender refuses to send one', async () => {
  const b = await startProbe(2, { 1: null }, { limits: { maxFrameBytes: 1024 } });
  try {
    const d = await rawDial(b.address.port, { from: 1, to: 2 });
    assert.equal(d.outcome, 'accepted');
    const closed = new Promise<void>((r) => d.socket.once('close', () => r()));
    const header = Buffer.alloc(5);
    header.writeUInt32BE(2000, 0);
    header[4] = FrameKind.PeerMessage;
    d.socket.write(header);
    await closed;
    assert.equal(b.stats().framing.oversize, 1);
    const line = b.logger.lines.find((l) => l.msg.includes('frame of 2000 bytes exceeds limit 1024'));
    assert.ok(line, `log lines: ${JSON.stringify(b.logger.lines)}`);
    assert.equal(line!.obj.peer, 1);
  } finally {
    await b.close();
  }
  // Sender side: the peer announced 1024 in its accept frame, so larger messages are not sent.
  const [x, y] = await startPair({}, { limits: { maxFrameBytes: 1024 } });
  try {
    assert.equal(x.send(probe(1, 2, 1, 2000)), 'too-large');
    assert.equal(x.send(probe(1, 2, 2, 500)), 'sent');
    await waitFor(() => y.received.length === 1, 'the small one');
    assert.equal(x.stats().peers[2]!.droppedTooLarge, 1);
    assert.equal(y.stats().framing.oversize, 0);
    assert.ok(x.logger.lines.some((l) => l.msg === 'dropped a message larger than the frame limit'));
  } finally {
    await x.close();
    await y.close();
  }
});

test('random bytes after a valid handshake never crash the process and are counted', async () => {
  const b = await startProbe(2, { 1: null }, { limits: { maxFrameBytes: 64 * 1024 } });
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          // Raw garbage: whatever the length fields say.
          fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 5 }),
          // Well-framed garbage: exercises every frame kind and the codec's error paths.
          fc.array(
            fc.tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 200 })).map(([kind, body]) =>
              frame(kind, (w) => w.raw(body)),
            ),
            { minLength: 1, maxLength: 8 },
          ),
          // Probe-shaped frames with mutated bytes.
          fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 255 })).map(([pos, val]) => {
            const f = frame(FrameKind.PeerMessage, (w) => probeCodec.encodeInto(probe(1, 2, 1, 20), w));
            f[5 + (pos % (f.length - 5))] = val;
            return [f];
          }),
        ),
        async (chunks) => {
          const d = await rawDial(b.address.port, { from: 1, to: 2 });
          assert.equal(d.outcome, 'accepted');
          for (const c of chunks) d.socket.write(c);
          await sleep(2);
          d.socket.destroy();
        },
      ),
      { numRuns: 60 },
    );
    await sleep(50);
    const s = b.stats();
    const counted = s.rejected.malformed + s.rejected.spoofed + s.rejected.misaddressed + s.framing.oversize + s.framing.empty + s.framing.unexpectedKind;
    assert.ok(counted > 0, `garbage was counted: ${JSON.stringify(s.rejected)} ${JSON.stringify(s.framing)}`);
    assert.equal(s.rejected.handlerErrors, 0);
    // Still fully functional for an honest peer afterwards.
    const a = await startProbe(1, { 2: b.address });
    try {
      await waitFor(() => a.isConnected(2), 'honest peer connects');
      const before = b.received.filter((m) => m.seq === 424242).length;
      a.send(probe(1, 2, 424242));
      await waitFor(() => b.received.filter((m) => m.seq === 424242).length === before + 1, 'honest message delivered');
    } finally {
      await a.close();
    }
  } finally {
    await b.close();
  }
});

test('random bytes before the handshake are refused and never crash the process', async () => {
  const b = await startProbe(2, { 1: null }, { limits: { handshakeTimeoutMs: 200 } });
  try {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 600 }), async (bytes) => {
        const net = await import('node:net');
        const s = net.connect({ host: '127.0.0.1', port: b.address.port });
        s.on('error', () => {});
        await new Promise<void>((r) => s.once('connect', () => r()));
        s.write(bytes);
        await sleep(2);
        s.destroy();
      }),
      { numRuns: 60 },
    );
    // Each connection ends refused (counted by reason) or abandoned by the dialer mid-handshake.
    const ended = () => Object.values(b.stats().refused).reduce((x, y) => x + y, 0) + b.stats().abandonedHandshakes;
    await waitFor(() => ended() === 60, 'every connection accounted for');
    assert.equal(b.stats().inboundAccepted, 0);
  } finally {
    await b.close();
  }
});

test('a newer connection from the same peer replaces the older one', async () => {
  const b = await startProbe(2, { 1: null });
  try {
    const d1 = await rawDial(b.address.port, { from: 1, to: 2 });
    const closed = new Promise<void>((r) => d1.socket.once('close', () => r()));
    const d2 = await rawDial(b.address.port, { from: 1, to: 2 });
    assert.equal(d2.outcome, 'accepted');
    await closed;
    d2.socket.write(frame(FrameKind.PeerMessage, (w) => probeCodec.encodeInto(probe(1, 2, 9), w)));
    await waitFor(() => b.received.length === 1, 'message on the new connection');
    assert.equal(b.stats().inboundAccepted, 2);
    d2.socket.destroy();
  } finally {
    await b.close();
  }
});
