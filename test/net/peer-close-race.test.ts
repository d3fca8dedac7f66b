// Closing a transport while its dials are still connecting (TCP or TLS handshake in flight) must
// close them for good: a late 'connect' / 'secureConnect' used to move the link out of 'closed',
// finish the handshake with the peer and redial forever, keeping the process alive.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateClusterCerts, type ClusterCerts } from '../../runtime/replica/cluster-certs.js';
import type { PeerTlsOptions } from '../../runtime/net/peer-transport.js';
import { sleep, startProbe } from './helpers.js';

let dir = '';
let certs: ClusterCerts;
const tlsFor = (id: number): PeerTlsOptions => ({ key: fs.readFileSync(certs.replicas.get(id)!.key), cert: fs.readFileSync(certs.replicas.get(id)!.cert), ca: fs.readFileSync(certs.ca) });

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'verdant-net-close-race-'));
  certs = generateClusterCerts(dir, 'test-cluster', [1, 2], '127.0.0.1');
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

for (const mode of ['plain', 'tls'] as const) {
  test(`close() during the dial (${mode}): the link stays closed and never completes a handshake`, { timeout: 30_000 }, async () => {
    const b = await startProbe(2, { 1: null }, mode === 'tls' ? { tls: tlsFor(2) } : {});
    try {
      for (let i = 0; i < 5; i++) {
        const a = await startProbe(1, { 2: b.address }, mode === 'tls' ? { tls: tlsFor(1) } : {});
        // The dial started inside start(); close before its connect (or TLS handshake) completes.
        await a.close();
        assert.equal(a.peerState(2), 'closed');
        await sleep(300);
        assert.equal(a.peerState(2), 'closed', `round ${i}: a late connect event reopened the link`);
        assert.equal(a.stats().peers[2]!.connects, 0, `round ${i}: no handshake after close()`);
      }
      assert.equal(b.stats().inboundAccepted, 0, 'the closed dialer never authenticated');
    } finally {
      await b.close();
    }
  });
}
