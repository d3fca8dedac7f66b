// Real replica processes whose client traffic all goes through a FaultProxy, for the client
// library tests: each replica binds its client port where the manifest says (listen.client) but
// advertises the proxy's address (members[].client), so redirects lead clients back through the
// proxy too. Also: a lost answer (withLostAnswer) and a port with nothing listening.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { KvClient } from '../../runtime/client/index.js';
import { DROP, FaultProxy, delay, type LinkFault } from '../../runtime/net/index.js';
import { TestCluster, sleep } from './helpers.js';

export const CLIENT = 'client';

export interface Rig {
  readonly c: TestCluster;
  readonly proxy: FaultProxy;
  /** Replica id → the address clients use for it (through the proxy). */
  readonly via: Map<number, string>;
}

/** A started cluster whose client traffic goes through a proxy (see the header). */
export async function proxiedCluster(): Promise<Rig> {
  const c = await TestCluster.start();
  await c.leader();
  await Promise.all(c.ids.map((id) => c.kill(id, 'SIGTERM')));
  const proxy = await FaultProxy.start(
    c.manifest.replicas.map((r) => {
      const [host, port] = r.client.split(':');
      return { from: CLIENT, to: r.id, target: { host: host!, port: Number(port) } };
    }),
  );
  const via = new Map(c.ids.map((id) => {
    const a = proxy.addressOf(CLIENT, id);
    return [id, `${a.host}:${a.port}`] as const;
  }));
  for (const r of c.manifest.replicas) {
    const cfg = JSON.parse(fs.readFileSync(r.config, 'utf8')) as { members: { id: number; client: string }[]; listen?: Record<string, string> };
    cfg.listen = { ...(cfg.listen ?? {}), client: r.client };
    for (const m of cfg.members) m.client = via.get(m.id)!;
    fs.writeFileSync(r.config, JSON.stringify(cfg, null, 2));
  }
  for (const id of c.ids) c.startReplica(id);
  await c.leader(30_000);
  return { c, proxy, via };
}

export function connect(rig: Rig, o: { endpoints?: string[]; timeoutMs?: number; sessions?: boolean; silenceTimeoutMs?: number } = {}): Promise<KvClient> {
  return KvClient.connect({
    endpoints: o.endpoints ?? [...rig.via.values()],
    token: rig.c.token,
    requestTimeoutMs: o.timeoutMs ?? 20_000,
    connectTimeoutMs: 1000,
    ...(o.sessions === false ? { sessions: false } : {}),
    ...(o.silenceTimeoutMs !== undefined ? { silenceTimeoutMs: o.silenceTimeoutMs } : {}),
  });
}

/** A stale read of `key` on replica `id`, straight to its client port (no proxy, no leader). */
export async function valueOn(rig: Rig, id: number, key: string): Promise<string | null> {
  const r = rig.c.manifest.replicas.find((x) => x.id === id)!;
  const kv = await KvClient.connect({ endpoints: [r.client], token: rig.c.token, requestTimeoutMs: 5000 });
  try {
    const g = await kv.get(key, { consistency: 'stale' });
    return g.entry?.value ? Buffer.from(g.entry.value).toString() : null;
  } finally {
    await kv.close();
  }
}

/**
 * Runs `write` with the answer lost: the leader's client route is delayed, and once `key` holds
 * `applied` on the leader, the route drops its connections (the answer with them; or `lose`). Then `after`
 * (heal, or crash the leader) lets the retry through. Returns the write's result.
 */
export async function withLostAnswer<T>(rig: Rig, leader: number, key: string, applied: string, write: () => Promise<T>, after: () => Promise<void>, lose: LinkFault = DROP): Promise<T> {
  rig.proxy.set(CLIENT, leader, delay(3000));
  let settled = false;
  const p = write().finally(() => (settled = true));
  p.catch(() => undefined);
  const until = Date.now() + 20_000;
  while ((await valueOn(rig, leader, key)) !== applied) {
    assert.ok(Date.now() < until, `the write never reached replica ${leader}`);
    await sleep(50);
  }
  assert.equal(settled, false, 'the answer arrived before it could be dropped (the proxy delay is too short for this machine)');
  rig.proxy.set(CLIENT, leader, lose);
  await after();
  return p;
}

export async function deadPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen({ host: '127.0.0.1', port: 0 }, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}
