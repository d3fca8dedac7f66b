// Replicas over TLS as real processes: `verdant cluster up --tls` makes a CA and certificates with
// openssl, the replicas connect to each other with mutual TLS (CN = replica id) and serve clients
// over TLS; a peer holding the cluster secret but a certificate from another CA is refused at the
// TLS layer, counted in the replicas' status, and changes nothing in the cluster.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KvClient } from '../../runtime/client/index.js';
import { PeerTransport, silentLogger, type PeerAddress } from '../../runtime/net/index.js';
import { generateClusterCerts } from '../../runtime/replica/cluster-certs.js';
import { parseHostPort } from '../../runtime/replica/config.js';
import { clusterStatus, readManifest, readToken, type ClusterManifest } from '../../runtime/replica/local-cluster.js';
import { peerEnvelopeCodec, type PeerEnvelope } from '../../runtime/replica/peer-envelope.js';

const CLI = fileURLToPath(new URL('../../cli/verdant.js', import.meta.url));

/** Runs the CLI without blocking this process's event loop (a transport runs here meanwhile). */
function verdant(args: string[], env?: NodeJS.ProcessEnv): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 60_000, encoding: 'utf8', ...(env ? { env } : {}) }, (e, out, err) => {
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, out, err });
    });
  });
}

interface Status {
  id: number;
  role: string;
  leader: number;
  applied: number;
  commit: number;
  tls: { peer: boolean; clientPort: boolean; commonName?: string };
  transport: { refused: Record<string, number>; inboundAccepted: number; peers: Record<string, { state: string; connects: number; inboundConnected: boolean }> };
}

async function statuses(m: ClusterManifest): Promise<Map<number, Status>> {
  const out = new Map<number, Status>();
  for (const s of await clusterStatus(m, 3000)) if (s.ok) out.set(s.id, s.status as unknown as Status);
  return out;
}

async function until<T>(what: string, f: () => Promise<T | null | false>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== null && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const addr = (hp: string): PeerAddress => parseHostPort(hp)!;

test('cluster up --tls: mutual TLS between replica processes; a peer with another CA is refused and counted', { timeout: 120_000 }, async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'verdant-tls-'));
  const dir = path.join(root, 'c');
  const intruders: PeerTransport<PeerEnvelope>[] = [];
  let ok = false;
  try {
    const up = await verdant(['cluster', 'up', '--tls', '--detach', '--dir', dir, '--tick-ms', '50']);
    assert.equal(up.code, 0, up.err);
    assert.match(up.out, /TLS: +mutual TLS between replicas and on the client port; CA .*tls\/ca\.crt/);
    assert.match(up.out, /--ca .*tls\/ca\.crt/, 'the --endpoints example names the CA');
    const m = readManifest(dir);
    assert.equal(m.tls?.ca, path.join(dir, 'tls', 'ca.crt'));
    for (const f of ['ca.key', 'replica-1.key', 'replica-2.key', 'replica-3.key']) assert.equal(fs.statSync(path.join(dir, 'tls', f)).mode & 0o777, 0o600, `${f} is 0600`);
    const cfg1 = JSON.parse(fs.readFileSync(m.replicas[0]!.config, 'utf8')) as { tls: Record<string, unknown> };
    assert.deepEqual(cfg1.tls, { cert: '../tls/replica-1.crt', key: '../tls/replica-1.key', ca: '../tls/ca.crt', clientPort: true });

    // Writes and reads through the CLI (which takes the CA from the cluster directory) and the library.
    assert.equal((await verdant(['kv', 'put', 'k1', 'v1', '--dir', dir])).code, 0);
    const get = await verdant(['kv', 'get', 'k1', '--dir', dir]);
    assert.equal(get.code, 0, get.err);
    assert.equal(get.out, 'v1\n');
    const eps = m.replicas.map((r) => r.client);
    const kv = await KvClient.connect({ endpoints: eps, token: readToken(m.clientTokenFile), tls: { ca: fs.readFileSync(m.tls!.ca) }, requestTimeoutMs: 15_000 });
    try {
      for (let i = 0; i < 50; i++) await kv.put(`n${i}`, `v${i}`);
      assert.equal(Buffer.from((await kv.get('n49')).entry!.value!).toString(), 'v49');
    } finally {
      await kv.close();
    }
    // A client that does not speak TLS gets nowhere (and is told why).
    await assert.rejects(
      KvClient.connect({ endpoints: [eps[0]!], token: readToken(m.clientTokenFile), requestTimeoutMs: 1500, connectTimeoutMs: 500 }).then((c) => c.close()),
      /if that port uses TLS, give its CA/,
    );

    const before = await until('every replica answering, peers connected over TLS', async () => {
      const st = await statuses(m);
      if (st.size !== 3) return null;
      for (const [id, s] of st) {
        assert.deepEqual({ peer: s.tls.peer, clientPort: s.tls.clientPort, cn: s.tls.commonName }, { peer: true, clientPort: true, cn: `replica-${id}` });
        for (const other of m.replicas) if (other.id !== id && s.transport.peers[other.id]?.state !== 'connected') return null;
      }
      return st;
    });
    const leader = [...before.values()].find((s) => s.role === 'leader')!.id;

    // Intruders holding the cluster secret: one with a CA-signed-elsewhere certificate claiming to
    // be replica 2, one without TLS at all. Both dial replicas 1 and 3.
    const rogue = generateClusterCerts(path.join(root, 'rogue'), m.clusterId, [2], '127.0.0.1');
    const secret = fs.readFileSync(m.secretFile, 'utf8').trim();
    const peers = { 1: addr(m.replicas[0]!.peer), 3: addr(m.replicas[2]!.peer) };
    const common = { id: 2, clusterId: m.clusterId, secret, codec: peerEnvelopeCodec, peers, onMessage: () => assert.fail('an intruder received a message'), log: silentLogger };
    const withRogueCa = await PeerTransport.start<PeerEnvelope>({
      ...common,
      tls: { key: fs.readFileSync(rogue.replicas.get(2)!.key), cert: fs.readFileSync(rogue.replicas.get(2)!.cert), ca: fs.readFileSync(m.tls!.ca) },
    });
    intruders.push(withRogueCa);
    const plaintext = await PeerTransport.start<PeerEnvelope>(common);
    intruders.push(plaintext);

    const refusedOf = (s: Status) => s.transport.refused['tls-failed'] ?? 0;
    await until('replicas 1 and 3 count the refused TLS handshakes', async () => {
      const st = await statuses(m);
      return [1, 3].every((id) => st.get(id) && refusedOf(st.get(id)!) >= refusedOf(before.get(id)!) + 2);
    });
    await until('the intruders count their refused dials', async () => {
      const a = withRogueCa.stats();
      const b = plaintext.stats();
      return a.dialRefused['tls-failed'] + (a.peers[1]?.dialFailures ?? 0) >= 2 && (b.peers[1]?.dialFailures ?? 0) >= 1;
    });
    for (const t of intruders) {
      for (const p of [1, 3]) {
        assert.equal(t.isConnected(p), false);
        assert.equal(t.stats().peers[p]!.connects, 0, 'no intruder completed a handshake');
      }
    }
    await Promise.all(intruders.splice(0).map((t) => t.close()));

    // No effect on the cluster: same leader, the real replica 2 still connected, writes go on.
    assert.equal((await verdant(['kv', 'put', 'k2', 'v2', '--dir', dir])).code, 0);
    const after = await until('the replicas to converge after the write', async () => {
      const st = await statuses(m);
      if (st.size !== 3) return null;
      const applied = new Set([...st.values()].map((s) => s.applied));
      return applied.size === 1 && [...st.values()].every((s) => s.applied === s.commit) ? st : null;
    });
    for (const [id, s] of after) {
      assert.equal(s.leader, leader, `replica ${id} follows the same leader`);
      for (const other of m.replicas) if (other.id !== id) assert.equal(s.transport.peers[other.id]!.state, 'connected', `${id} -> ${other.id} still connected`);
    }
    assert.equal((await verdant(['kv', 'get', 'k2', '--dir', dir])).out, 'v2\n');
    assert.equal((await verdant(['kv', 'get', 'n0', '--dir', dir])).out, 'v0\n');

    // --check refuses another replica's certificate (with its own key) for replica 1, naming the field.
    const bad = path.join(m.replicas[0]!.dir, 'swapped.json');
    fs.writeFileSync(bad, JSON.stringify({ ...JSON.parse(fs.readFileSync(m.replicas[0]!.config, 'utf8')), tls: { cert: '../tls/replica-2.crt', key: '../tls/replica-2.key', ca: '../tls/ca.crt' } }));
    const check = await verdant(['replica', '--config', bad, '--check']);
    assert.equal(check.code, 2, check.err);
    assert.match(check.err, /tls\.cert: .*CN "replica-2"; replica 1 needs CN "replica-1"/);
    const good = await verdant(['replica', '--config', m.replicas[0]!.config, '--check']);
    assert.equal(good.code, 0, good.err);
    assert.match(good.out, /peer TLS as replica-1 until .*, client port TLS/);

    // --tls names a new cluster: an existing directory without TLS is not converted.
    const plainDir = path.join(root, 'plain');
    const { initCluster } = await import('../../runtime/replica/local-cluster.js');
    await initCluster(plainDir, { replicas: 1 });
    const convert = await verdant(['cluster', 'up', '--tls', '--detach', '--dir', plainDir]);
    assert.equal(convert.code, 1);
    assert.match(convert.err, /holds a cluster without TLS; --tls applies to a new cluster/);
    ok = true;
  } finally {
    await Promise.all(intruders.map((t) => t.close()));
    const down = await verdant(['cluster', 'down', '--dir', dir]);
    if (ok) {
      assert.equal(down.code, 0, down.err);
      fs.rmSync(root, { recursive: true, force: true });
    } else {
      const logs = fs.existsSync(path.join(dir, 'cluster.json')) ? readManifest(dir).replicas.map((r) => r.log) : [];
      for (const l of logs) console.error(`----- ${l}\n${fs.existsSync(l) ? fs.readFileSync(l, 'utf8').split('\n').slice(-30).join('\n') : ''}`);
      console.error(`kept ${root}`);
    }
  }
});

test('cluster up --tls without openssl: a clear error and nothing written', { timeout: 30_000 }, async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'verdant-tls-noossl-'));
  try {
    const emptyPath = path.join(root, 'bin');
    fs.mkdirSync(emptyPath);
    const dir = path.join(root, 'c');
    const r = await verdant(['cluster', 'up', '--tls', '--detach', '--dir', dir], { ...process.env, PATH: emptyPath });
    assert.equal(r.code, 1);
    assert.match(r.err, /--tls needs the openssl command .* not found on PATH; install it/);
    assert.equal(fs.existsSync(dir), false, 'no half-made cluster directory');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
