// The replica config's `tls` section: paths relative to the config file, and every check of the
// files (readable, PEM, key private and matching, CN naming the replica, signed by `ca`, valid now,
// the client host in the certificate when the client port uses it) fails as a ConfigError naming
// the field. Certificates come from the openssl command (cluster-certs.ts, as `cluster up --tls`).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../runtime/common/config-error.js';
import { parseReplicaConfig, type TlsConfig } from '../../runtime/replica/config.js';
import { generateClusterCerts, type ClusterCerts } from '../../runtime/replica/cluster-certs.js';
import { readReplicaTls } from '../../runtime/replica/tls-files.js';

let dir = '';
let good: ClusterCerts;
let rogue: ClusterCerts;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'verdant-tls-config-'));
  good = generateClusterCerts(path.join(dir, 'good'), 'c1', [1, 2], '127.0.0.1');
  rogue = generateClusterCerts(path.join(dir, 'rogue'), 'c1', [1], '127.0.0.1');
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const tlsOf = (c: ClusterCerts, id: number, o: Partial<TlsConfig> = {}): TlsConfig => ({ cert: c.replicas.get(id)!.cert, key: c.replicas.get(id)!.key, ca: c.ca, clientPort: false, ...o });

function refused(f: () => unknown, field: string, message: RegExp): void {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    assert.equal(e.fieldPath, field, e.message);
    assert.match(e.message, message);
    return;
  }
  assert.fail(`expected a ConfigError on ${field}`);
}

test('tls paths are relative to the config file; the section is strict', () => {
  const base = {
    id: 1,
    clusterId: 'c',
    dataDir: 'data',
    secretFile: 'secret',
    clientTokenFile: 'token',
    members: [{ id: 1, peer: '127.0.0.1:7001', client: '127.0.0.1:7101' }],
    control: { tokenFile: 'control' },
  };
  const c = parseReplicaConfig({ ...base, tls: { cert: 'tls/r1.crt', key: 'tls/r1.key', ca: '/etc/verdant/ca.crt' } }, 'x.json', '/srv/replica-1');
  assert.deepEqual(c.tls, { cert: '/srv/replica-1/tls/r1.crt', key: '/srv/replica-1/tls/r1.key', ca: '/etc/verdant/ca.crt', clientPort: false });
  assert.equal(parseReplicaConfig(base).tls, undefined);
  refused(() => parseReplicaConfig({ ...base, tls: { cert: 'a', key: 'b', ca: 'c', verify: false } }), 'tls.verify', /unknown key/);
  refused(() => parseReplicaConfig({ ...base, tls: { cert: 'a', key: 'b' } }), 'tls.ca', /./);
});

test('good files load: CN, expiry, PEM buffers', () => {
  const t = readReplicaTls(tlsOf(good, 1, { clientPort: true }), 1, '127.0.0.1');
  assert.equal(t.commonName, 'replica-1');
  assert.equal(t.clientPort, true);
  assert.match(t.cert.toString(), /BEGIN CERTIFICATE/);
  assert.match(t.key.toString(), /PRIVATE KEY/);
  assert.ok(new Date(t.validTo) > new Date(), t.validTo);
  // localhost is in the generated certificates too, for clients that dial it by name.
  readReplicaTls(tlsOf(good, 2, { clientPort: true }), 2, 'localhost');
});

test('each bad file is a ConfigError naming its field', () => {
  const r1 = good.replicas.get(1)!;
  const r2 = good.replicas.get(2)!;
  refused(() => readReplicaTls(tlsOf(good, 1, { cert: path.join(dir, 'missing.crt') }), 1, '127.0.0.1'), 'tls.cert', /cannot read certificate file .*missing\.crt: ENOENT/);
  refused(() => readReplicaTls(tlsOf(good, 1, { key: path.join(dir, 'missing.key') }), 1, '127.0.0.1'), 'tls.key', /ENOENT/);
  refused(() => readReplicaTls(tlsOf(good, 1, { ca: path.join(dir, 'good') }), 1, '127.0.0.1'), 'tls.ca', /not a regular file/);
  const garbage = path.join(dir, 'garbage.pem');
  fs.writeFileSync(garbage, 'not a certificate\n');
  refused(() => readReplicaTls(tlsOf(good, 1, { ca: garbage }), 1, '127.0.0.1'), 'tls.ca', /holds no PEM certificate/);
  refused(() => readReplicaTls(tlsOf(good, 1, { cert: garbage }), 1, '127.0.0.1'), 'tls.cert', /holds no PEM certificate/);
  fs.chmodSync(garbage, 0o600);
  refused(() => readReplicaTls(tlsOf(good, 1, { key: garbage }), 1, '127.0.0.1'), 'tls.key', /not an unencrypted PEM private key/);

  const openKey = path.join(dir, 'open.key');
  fs.copyFileSync(r1.key, openKey);
  fs.chmodSync(openKey, 0o644);
  refused(() => readReplicaTls(tlsOf(good, 1, { key: openKey }), 1, '127.0.0.1'), 'tls.key', /accessible by group or others \(mode 644\)/);
  refused(() => readReplicaTls(tlsOf(good, 1, { key: r2.key }), 1, '127.0.0.1'), 'tls.key', /is not the private key of the certificate/);
  // Replica 2's own (valid) certificate and key configured on replica 1.
  refused(() => readReplicaTls(tlsOf(good, 2), 1, '127.0.0.1'), 'tls.cert', /CN "replica-2"; replica 1 needs CN "replica-1"/);
  refused(() => readReplicaTls(tlsOf(rogue, 1, { ca: good.ca }), 1, '127.0.0.1'), 'tls.cert', /not signed by a CA in .*good\/ca\.crt/);
  // The CA file must hold the CA, not a leaf certificate.
  refused(() => readReplicaTls(tlsOf(good, 1, { ca: r2.cert }), 1, '127.0.0.1'), 'tls.cert', /not signed by a CA/);
  refused(() => readReplicaTls(tlsOf(good, 1), 1, '127.0.0.1', new Date('2100-01-01')), 'tls.cert', /expired on/);
  refused(() => readReplicaTls(tlsOf(good, 1), 1, '127.0.0.1', new Date('2000-01-01')), 'tls.cert', /not valid before/);
  refused(() => readReplicaTls(tlsOf(good, 1, { clientPort: true }), 1, '10.9.8.7'), 'tls.cert', /does not name 10\.9\.8\.7, this replica's client host/);
  // Without the client port, the certificate need not name the host (peers check the CN).
  readReplicaTls(tlsOf(good, 1), 1, '10.9.8.7');
  // A bundle of CAs: the certificate may chain to any of them.
  const bundle = path.join(dir, 'bundle.crt');
  fs.writeFileSync(bundle, Buffer.concat([fs.readFileSync(rogue.ca), fs.readFileSync(good.ca)]));
  readReplicaTls(tlsOf(good, 1, { ca: bundle }), 1, '127.0.0.1');
});
