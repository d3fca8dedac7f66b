// Backpressure: a peer that stops reading (SIGSTOP) must not make the sender buffer without bound.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { killChild, probe, startChildPeer, startProbe, waitFor, waitForAsync } from './helpers.js';
import type { SendOutcome } from '../../runtime/net/peer-transport.js';

test('a stalled peer: queue stays bounded, drops are counted, congestion is signalled, memory stays flat, and it recovers', async () => {
  const maxQueueBytes = 2 * 1024 * 1024;
  const congestionBytes = 512 * 1024;
  const congestion: boolean[] = [];
  const a = await startProbe(1, { 2: null }, {
    limits: { maxQueueBytes, congestionBytes, maxFrameBytes: 1024 * 1024, idleTimeoutMs: 120_000 },
    onCongestion: (peer, c) => {
      if (peer === 2) congestion.push(c);
    },
  });
  const child = await startChildPeer({ id: 2, port: 0, peers: { 1: a.address }, echo: false });
  try {
    a.setPeer(2, child.address);
    await waitFor(() => a.isConnected(2), 'connected');
    child.proc.kill('SIGSTOP');

    const counts: Record<SendOutcome, number> = { sent: 0, 'queue-full': 0, disconnected: 0, 'too-large': 0, 'unknown-peer': 0, 'encode-error': 0 };
    const payload = 1024;
    globalThis.gc?.();
    const before = process.memoryUsage();
    let maxQueued = 0;
    let seq = 0;
    // 200k x 1 KiB = 200 MiB offered to a peer that reads nothing.
    for (let round = 0; round < 400; round++) {
      for (let i = 0; i < 500; i++) {
        counts[a.send(probe(1, 2, seq++, payload))]++;
        maxQueued = Math.max(maxQueued, a.queuedBytes(2));
      }
      await new Promise((r) => setImmediate(r));
    }
    const after = process.memoryUsage();
    assert.ok(maxQueued <= maxQueueBytes, `queued ${maxQueued} <= ${maxQueueBytes}`);
    assert.ok(counts['queue-full'] > 150_000, `most messages dropped: ${JSON.stringify(counts)}`);
    assert.ok(counts.sent > 0 && counts.sent < 20_000, `some fit in queue + kernel buffers: ${counts.sent}`);
    const s = a.stats().peers[2]!;
    assert.equal(s.droppedQueueFull, counts['queue-full']);
    assert.equal(s.sentMessages, counts.sent);
    assert.equal(a.isCongested(2), true);
    assert.deepEqual(congestion, [true]);
    assert.equal(s.congestionEvents, 1);
    const growth = (after.arrayBuffers - before.arrayBuffers) / (1024 * 1024);
    const rssGrowth = (after.rss - before.rss) / (1024 * 1024);
    assert.ok(growth < 40, `buffer memory grew ${growth.toFixed(1)} MiB while 200 MiB were offered`);
    assert.ok(rssGrowth < 150, `rss grew ${rssGrowth.toFixed(1)} MiB`);

    // The peer resumes: everything accepted is delivered, congestion clears, sending works again.
    child.proc.kill('SIGCONT');
    await waitFor(() => !a.isCongested(2) && a.queuedBytes(2) === 0, 'queue drained', 30_000);
    assert.deepEqual(congestion, [true, false]);
    let received = -1;
    await waitForAsync(async () => (received = (await child.stats()).received) === counts.sent, () => `child received ${received} of ${counts.sent} accepted`, 30_000);
    assert.equal(a.send(probe(1, 2, seq++, payload)), 'sent');
  } finally {
    child.proc.kill('SIGCONT');
    await killChild(child.proc);
    await a.close();
  }
});
