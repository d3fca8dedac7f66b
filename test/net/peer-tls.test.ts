// Optional mutual TLS around peer connections: certificates signed by the cluster CA, CN naming
// the replica id. Certificates are generated with the openssl CLI into a temp directory.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ClientChannel } from '../../runtime/net/client-channel.js';
import { ClientPortServer } from '../../runtime/net/client-port.js';
import type { PeerTlsOptions } from '../../runtime/net/peer-transport.js';
import { probeCodec } from '../../runtime/net/probe.js';
import { probe, rawDial, startProbe, waitFor } from './helpers.js';

let dir = '';
const pem = (name: string) => fs.readFileSync(path.join(dir, name));
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });

function makeCa(name: string): void {
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-subj', `/CN=${name}`, '-days', '2');
}
function makeCert(ca: string, file: string, cn: string): void {
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${file}.key`, '-out', `${file}.csr`, '-subj', `/CN=${cn}`);
  openssl('x509', '-req', '-in', `${file}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${file}.crt`, '-days', '2');
}
function tlsFor(file: string, ca = 'ca'): PeerTlsOptions {
  return { key: pem(`${file}.key`), cert: pem(`${file}.crt`), ca: pem(`${ca}.crt`) };
}

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'verdant-net-tls-'));
  makeCa('ca');
  makeCa('rogue-ca');
  for (const id of [1, 2, 3]) makeCert('ca', `r${id}`, `replica-${id}`);
  makeCert('rogue-ca', 'rogue1', 'replica-1');
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('mutual TLS: replicas with CA-signed certificates naming their ids connect and exchange messages', async () => {
  const b = await startProbe(2, { 1: null }, { tls: tlsFor('r2') });
  const a = await startProbe(1, { 2: b.address }, { tls: tlsFor('r1') });
  b.setPeer(1, a.address);
  try {
    await waitFor(() => a.isConnected(2) && b.isConnected(1), 'connected over TLS');
    for (let i = 0; i < 100; i++) a.send(probe(1, 2, i, 256));
    await waitFor(() => b.received.length === 100, 'messages over TLS');
    // A plaintext dialer is refused at the TLS layer and counted.
    const plain = await rawDial(b.address.port, { from: 1, to: 2 });
    assert.notEqual(plain.outcome, 'accepted');
    await waitFor(() => b.stats().refused['tls-failed'] >= 1, 'plaintext counted as tls-failed');
  } finally {
    await a.close();
    await b.close();
  }
});

test('a certificate naming another replica is refused as cert-mismatch, on either side', async () => {
  const b = await startProbe(2, { 1: null }, { tls: tlsFor('r2') });
  // Replica 1 presenting replica 3's (valid, CA-signed) certificate.
  const a = await startProbe(1, { 2: b.address }, { tls: tlsFor('r3') });
  try {
    await waitFor(() => b.stats().refused['cert-mismatch'] >= 1, 'acceptor refuses the impersonation');
    assert.equal(a.isConnected(2), false);
  } finally {
    await a.close();
    await b.close();
  }
  // The acceptor presenting someone else's certificate: the dialer refuses it.
  const imp = await startProbe(2, { 1: null }, { tls: tlsFor('r3') });
  const d = await startProbe(1, { 2: imp.address }, { tls: tlsFor('r1') });
  try {
    await waitFor(() => d.stats().dialRefused['cert-mismatch'] >= 1, 'dialer refuses the impostor acceptor');
    assert.equal(d.isConnected(2), false);
  } finally {
    await d.close();
    await imp.close();
  }
});

test('a certificate from another CA fails the TLS handshake and is counted', async () => {
  const b = await startProbe(2, { 1: null }, { tls: tlsFor('r2') });
  const a = await startProbe(1, { 2: b.address }, { tls: tlsFor('rogue1') });
  try {
    await waitFor(() => b.stats().refused['tls-failed'] >= 1, 'acceptor counts tls-failed');
    assert.equal(a.isConnected(2), false);
    assert.equal(b.stats().inboundAccepted, 0);
  } finally {
    await a.close();
    await b.close();
  }
});

test('the client port can run over TLS; the client verifies the server against the CA', async () => {
  const codecs = { request: probeCodec, response: probeCodec };
  const server = await ClientPortServer.start({
    token: 'client-token-0123456789abcdef',
    codecs,
    tls: { key: pem('r2.key'), cert: pem('r2.crt') },
    onRequest: (s, id, req) => s.respond(id, { ...req, seq: req.seq + 1 }),
  });
  try {
    const ch = await ClientChannel.connect({ host: '127.0.0.1', port: server.address.port, token: 'client-token-0123456789abcdef', codecs, tls: { ca: pem('ca.crt'), servername: 'replica-2' } });
    assert.equal((await ch.request(probe(1, 2, 41))).seq, 42);
    ch.close();
    await assert.rejects(
      ClientChannel.connect({ host: '127.0.0.1', port: server.address.port, token: 'client-token-0123456789abcdef', codecs, tls: { ca: pem('rogue-ca.crt'), servername: 'replica-2' } }),
      /certificate|refused/i,
    );
  } finally {
    await server.close();
  }
});
