// A replica process: the actors of docs/replica.md on one ActorRuntime, plus the control API.
//
//   main thread (pinned):  wal (LogStore), peer (PeerTransport), client (ClientPortServer)
//   movable:               raft/<g>, sequencer, kv        (placement from config.runtime)
//
// startReplica() recovers the store first (refusing to start on corruption, naming file and
// offset), then starts the runtime, the actors, the transports and the control API.
//
// Multi-Raft (config `groups` > 1 or a `multiraft` section): the sequencer is the multi-Raft one
// (multiraft-sequencer.ts), the raft/<g> actors are created by the `instances` actor when the
// global log asks for them (instance-manager.ts), and the merge resumes from the newest snapshot of
// any instance (each carries the merge state of all of them).
import { randomInt } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { ActorRuntime, actorKind, mountControlApi } from '../actors/index.js';
import type { ActorRuntime as Runtime } from '../actors/index.js';
import { ClientPortServer, DEFAULT_LIMITS, PeerTransport, type NetLogger, type TransportLimits } from '../net/index.js';
import type { GroupDurableState, Membership, NodeId } from '../protocols/api.js';
import { restartPoint } from '../protocols/multiraft/coordinator.js';
import { encodeState } from '../protocols/multiraft/snapshot-format.js';
import { LogStore, type LogStoreOptions } from '../storage/index.js';
import { requestCodec, responseCodec, type ClientRequest, type ClientResponse } from '../client/protocol.js';
import { createClientActor, type ClientActorHandle } from './client-actor.js';
import { formatHostPort, multiraftConfig, multiraftCoreOptions, type ReplicaConfig } from './config.js';
import { createInstanceManager, type InstanceManagerHandle } from './instance-manager.js';
import type { KvActorArgs } from './kv-actor.js';
import { ActorIds, type KvStatus, type RaftStatus } from './messages.js';
import { createPeerActor, type PeerActorHandle } from './peer-actor.js';
import { peerEnvelopeCodec, type PeerEnvelope } from './peer-envelope.js';
import type { RaftActorArgs, RaftBoot } from './raft-actor.js';
import type { MrSequencerArgs, MrSequencerBoot, MrSetInstancesReply, MultiRaftStatus } from './multiraft-sequencer.js';
import type { SequencerArgs } from './sequencer-actor.js';
import { readReplicaFiles } from './replica-files.js';
import { createWalActor } from './wal-actor.js';

export interface ReplicaLogger extends NetLogger {
  fatal?(obj: object, msg: string): void;
}

export interface ReplicaStatus {
  readonly id: NodeId;
  readonly pid: number;
  readonly clusterId: string;
  readonly role: string;
  readonly term: number;
  readonly leader: NodeId;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  readonly groups: readonly RaftStatus[];
  /** Multi-Raft: R, epoch, merge position, per-instance leaders, no-op/skip and read counters. */
  readonly multiraft?: MultiRaftStatus;
  readonly kv: KvStatus;
  readonly addresses: { readonly peer: string; readonly client: string; readonly control: string };
  /** Mutual TLS on the peer port (certificate CN, expiry) and whether the client port uses it. */
  readonly tls: { readonly peer: boolean; readonly clientPort: boolean; readonly commonName?: string; readonly validTo?: string };
  readonly client: ClientActorHandle['stats'];
  readonly peer: PeerActorHandle['stats'];
  readonly storage: ReturnType<LogStore['stats']>;
  readonly transport: ReturnType<PeerTransport<PeerEnvelope>['stats']>;
  readonly memory: NodeJS.MemoryUsage;
  readonly uptimeMs: number;
}

export interface Replica {
  readonly id: NodeId;
  readonly runtime: Runtime;
  readonly store: LogStore;
  readonly addresses: { readonly peer: string; readonly client: string; readonly control: string };
  status(): Promise<ReplicaStatus>;
  /** Stops serving: clients, transport, actors, then the store (pending appends finish first). */
  stop(): Promise<void>;
  /** Resolves when the replica stopped (after stop(), or after a fatal error). */
  readonly stopped: Promise<{ fatal: string | null }>;
}

const HERE = import.meta.url;
const kind = (file: string, exp: string) => actorKind(new URL(file, HERE), exp);

function peerLimits(cfg: ReplicaConfig): Partial<TransportLimits> {
  const window = cfg.raft.maxInflightBytes > 0 ? cfg.raft.maxInflightBytes : cfg.raft.maxInflightMsgs * cfg.raft.maxBytesPerMsg;
  // The largest frame: one entry of maxEntryBytes alone in an AppendEntries, or a snapshot chunk.
  const maxFrameBytes = Math.max(DEFAULT_LIMITS.maxFrameBytes, cfg.raft.maxEntryBytes + (64 << 10), cfg.raft.snapshotChunkBytes + (64 << 10));
  // Congestion at half a window: a follower that stops reading stops getting appends before the
  // core's own window is exhausted, so what waits in memory for it is about half a window.
  return { maxFrameBytes, congestionBytes: Math.max(1 << 20, window >>> 1), maxQueueBytes: Math.max(2 * window, maxFrameBytes + 64) };
}

export async function startReplica(cfg: ReplicaConfig, log: ReplicaLogger): Promise<Replica> {
  const t0 = Date.now();
  const { secret, clientTokens: tokens, controlToken, tls } = readReplicaFiles(cfg);
  const self = cfg.members.find((m) => m.id === cfg.id)!;
  const membership: Membership = { voters: cfg.members.map((m) => m.id), learners: [] };

  const storeOpts: LogStoreOptions = {
    ...(cfg.storage as LogStoreOptions),
    onWarning: (m) => log.warn({ component: 'storage' }, m),
  };
  const { store, recovered, report } = await LogStore.open(cfg.dataDir, storeOpts);
  log.info(
    { component: 'storage', dir: cfg.dataDir, groups: recovered.length, durationMs: Math.round(report.durationMs), tornTails: report.lanes.filter((l) => l.tornTail).length },
    'store recovered',
  );

  let resolveStopped!: (v: { fatal: string | null }) => void;
  const stopped = new Promise<{ fatal: string | null }>((r) => (resolveStopped = r));
  let stopping: Promise<void> | null = null;

  const fatal = (reason: string): void => {
    (log.fatal ?? log.error).call(log, { component: 'replica' }, `fatal: ${reason}`);
    void stop(reason);
  };

  const rt = await ActorRuntime.start({
    workers: cfg.runtime.workers,
    ...(cfg.runtime.cpus ? { cpus: cfg.runtime.cpus } : {}),
    codec: cfg.runtime.codec,
    onFault: (r) => {
      if (r.action === 'restarted') {
        log.warn({ component: 'actors', actor: r.actor }, `actor restarted after: ${r.error}`);
        return;
      }
      fatal(`actor ${r.actor || JSON.stringify(r.actors)} failed on executor ${r.executor}: ${r.error}\n${r.stack ?? ''}`);
    },
  });

  // Main-thread actors first: their handles are needed by the transports' callbacks.
  await rt.spawnLocal(ActorIds.wal, createWalActor({ store, fatal, log: (m) => log.warn({ component: 'wal' }, m), info: (m) => log.info({ component: 'wal' }, m) }));
  const mr = multiraftConfig(cfg);
  const peer = createPeerActor(cfg.id, mr ? 0 : cfg.groups);
  await rt.spawnLocal(ActorIds.peer, peer.factory);
  const addresses = new Map(cfg.members.map((m) => [m.id, formatHostPort(m.client)] as const));
  const client = createClientActor({
    self: cfg.id,
    clusterId: cfg.clusterId,
    addresses,
    window: cfg.service.sessions.window,
    maxBatchBytes: cfg.client.maxBatchBytes,
    maxBatchCommands: cfg.client.maxBatchCommands,
    requestTimeoutMs: cfg.client.requestTimeoutMs,
    maxEntryBytes: cfg.raft.maxEntryBytes,
    multiraft: mr !== null,
  });
  await rt.spawnLocal(ActorIds.client, client.factory);

  const place = (id: string): number => cfg.runtime.placement[id] ?? 0;
  const { tickMs, ...raftOptions } = cfg.raft;
  let instances: InstanceManagerHandle | null = null;
  let mrBoot: MrSequencerBoot | null = null;
  if (mr === null) {
    await rt.spawn<SequencerArgs>({ id: ActorIds.sequencer, kind: kind('./sequencer-actor.js', 'sequencerActor'), args: { groups: cfg.groups }, executor: place(ActorIds.sequencer) });
  } else {
    // Where the merge resumes: the newest merge state among the instances' durable snapshots.
    const snaps = recovered.filter((d) => d.snapshot !== null).map((d) => ({ group: d.group, index: d.snapshot!.meta.index, data: d.snapshot!.data }));
    let rp;
    try {
      rp = restartPoint(snaps, cfg.groups, membership, mr.maxInstances);
    } catch (e) {
      await rt.stop();
      await store.close();
      throw new Error(`${e instanceof Error ? e.message : String(e)} (was this data directory written by a single-Raft replica? multi-Raft needs its own)`);
    }
    mrBoot = { t: 'boot', state: encodeState(rp.state), image: rp.image };
    const byGroup = new Map<number, GroupDurableState>(recovered.map((d) => [d.group, d]));
    const mgr = createInstanceManager({
      runtime: rt,
      id: cfg.id,
      kind: kind('./raft-actor.js', 'raftActor'),
      membership,
      raftOptions,
      tickMs,
      placement: cfg.runtime.placement,
      recovered: byGroup,
      seed: () => randomInt(0, 2 ** 32),
      addGroup: (g) => peer.handle.addGroup(g),
      fatal,
      info: (m) => log.info({ component: 'instances' }, m),
    });
    instances = mgr.handle;
    await rt.spawnLocal(ActorIds.instances, mgr.factory);
    await rt.spawn<MrSequencerArgs>({
      id: ActorIds.sequencer,
      kind: kind('./multiraft-sequencer.js', 'multiraftSequencerActor'),
      args: { id: cfg.id, options: multiraftCoreOptions(cfg, mr), tickMs, stallNoopMs: mr.stallNoopMs },
      executor: place(ActorIds.sequencer),
    });
  }
  await rt.spawn<KvActorArgs>({
    id: ActorIds.kv,
    kind: kind('./kv-actor.js', 'kvActor'),
    args: { sessions: cfg.service.sessions, snapshotEveryEntries: cfg.service.snapshotEveryEntries, snapshotEveryBytes: cfg.service.snapshotEveryBytes },
    executor: place(ActorIds.kv),
  });
  // Multi-Raft: the sequencer starts the merge and asks `instances` for every instance it names.
  if (mrBoot !== null) rt.send(ActorIds.sequencer, mrBoot);
  for (let g = 0; g < (mr === null ? cfg.groups : 0); g++) {
    const id = ActorIds.raft(g);
    await rt.spawn<RaftActorArgs>({
      id,
      kind: kind('./raft-actor.js', 'raftActor'),
      args: { id: cfg.id, group: g, membership, options: raftOptions, tickMs, seed: randomInt(0, 2 ** 32) },
      executor: place(id),
    });
    rt.send(id, { t: 'boot', durable: recovered.filter((d) => d.group === g) } satisfies RaftBoot);
  }

  const peers: Record<number, { host: string; port: number }> = {};
  for (const m of cfg.members) if (m.id !== cfg.id) peers[m.id] = cfg.peerDial?.[String(m.id)] ?? m.peer;
  const transport = await PeerTransport.start<PeerEnvelope>({
    id: cfg.id,
    clusterId: cfg.clusterId,
    secret,
    codec: peerEnvelopeCodec,
    peers,
    listen: cfg.listen.peer ?? self.peer,
    onMessage: (m) => peer.handle.onMessage(m),
    onCongestion: (p, c) => peer.handle.onCongestion(p, c),
    // Raft's in-flight window per follower (maxInflightBytes of unacknowledged appends) bounds
    // what can be queued for a peer; the hard bound is two windows (docs/net.md, "Backpressure"),
    // so a well-behaved leader never drops.
    limits: peerLimits(cfg),
    ...(tls ? { tls: { key: tls.key, cert: tls.cert, ca: tls.ca } } : {}),
    log,
  });
  peer.handle.attach(transport);

  const port = await ClientPortServer.start<ClientRequest, ClientResponse>({
    token: tokens,
    codecs: { request: requestCodec, response: responseCodec },
    replicaId: cfg.id,
    listen: cfg.listen.client ?? self.client,
    onRequest: (session, id, req) => client.handle.onRequest(session, id, req),
    limits: { maxInFlight: cfg.client.maxInFlight },
    ...(tls?.clientPort ? { tls: { key: tls.key, cert: tls.cert } } : {}),
    log,
  });

  const status = async (): Promise<ReplicaStatus> => {
    const groups: RaftStatus[] = [];
    for (const g of instances ? instances.groups() : Array.from({ length: cfg.groups }, (_, i) => i)) {
      const s = await rt.ask<RaftStatus | null>(ActorIds.raft(g), (replyTo) => ({ t: 'status', replyTo }));
      if (s) groups.push(s);
    }
    const multiraft = mr ? ((await rt.ask<MultiRaftStatus | null>(ActorIds.sequencer, (replyTo) => ({ t: 'status', replyTo }))) ?? undefined) : undefined;
    const kv = await rt.ask<KvStatus>(ActorIds.kv, (replyTo) => ({ t: 'status', replyTo }));
    const g0 = groups[0];
    return {
      id: cfg.id,
      pid: process.pid,
      clusterId: cfg.clusterId,
      role: g0?.role ?? 'starting',
      term: g0?.term ?? 0,
      leader: g0?.leader ?? 0,
      // Multi-Raft: the global log (commands merged so far), the index space the service applies in.
      commit: multiraft ? multiraft.outputIndex : (g0?.commit ?? 0),
      applied: kv.applied,
      lastIndex: g0?.lastIndex ?? 0,
      snapshotIndex: kv.snapshotIndex,
      groups,
      ...(multiraft ? { multiraft } : {}),
      kv,
      addresses: addrs,
      tls: tls ? { peer: true, clientPort: tls.clientPort, commonName: tls.commonName, validTo: tls.validTo } : { peer: false, clientPort: false },
      client: client.handle.stats,
      peer: peer.handle.stats,
      storage: store.stats(),
      transport: transport.stats(),
      memory: process.memoryUsage(),
      uptimeMs: Date.now() - t0,
    };
  };

  const { default: Fastify } = await import('fastify');
  const app: FastifyInstance = Fastify({ logger: false, bodyLimit: 1 << 20 });
  await mountControlApi(app, { runtime: rt, token: controlToken });
  await app.register(async (scope) => {
    const { createHash, timingSafeEqual } = await import('node:crypto');
    const want = createHash('sha256').update(controlToken).digest();
    scope.addHook('onRequest', async (req, reply) => {
      const h = req.headers.authorization;
      const given = typeof h === 'string' && h.startsWith('Bearer ') ? h.slice(7).trim() : '';
      if (!given || !timingSafeEqual(createHash('sha256').update(given).digest(), want)) {
        await reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized: send Authorization: Bearer <token>' });
      }
    });
    scope.get('/v1/status', async () => status());
    scope.post('/v1/transfer-leadership', async (req, reply) => {
      const body = req.body as { to?: unknown; group?: unknown } | undefined;
      const to = Number(body?.to);
      const group = body?.group === undefined ? 0 : Number(body.group);
      if (!Number.isInteger(to) || to < 1) return reply.code(400).send({ error: 'body must be {"to": replicaId, "group"?: instance}' });
      if (!Number.isInteger(group) || group < 0 || !(instances ? instances.groups().includes(group) : group < cfg.groups)) {
        return reply.code(400).send({ error: `no instance ${String(body?.group)} here` });
      }
      return rt.ask(ActorIds.raft(group), (replyTo) => ({ t: 'transfer', to, replyTo }));
    });
    scope.post('/v1/instances', async (req, reply) => {
      const body = req.body as { count?: unknown; timeoutMs?: unknown } | undefined;
      if (mr === null) return reply.code(409).send({ error: 'this replica runs single Raft (no multiraft section in its config)' });
      const count = Number(body?.count);
      if (!Number.isInteger(count) || count < 1 || count > mr.maxInstances) return reply.code(400).send({ error: `body must be {"count": 1..${mr.maxInstances}}` });
      const timeoutMs = body?.timeoutMs === undefined ? 15_000 : Number(body.timeoutMs);
      if (!Number.isFinite(timeoutMs) || timeoutMs < 100 || timeoutMs > 600_000) return reply.code(400).send({ error: 'timeoutMs must be 100..600000' });
      const r = await setInstances(count, timeoutMs);
      return reply.code(r.code).send(r.body);
    });
    scope.post('/v1/snapshot', async () => rt.ask(ActorIds.kv, (replyTo) => ({ t: 'take-snapshot', replyTo })));
  });
  await app.listen({ host: cfg.control.listen.host, port: cfg.control.listen.port });
  const ca = app.server.address();
  const controlPort = typeof ca === 'object' && ca ? ca.port : cfg.control.listen.port;

  const addrs = {
    peer: formatHostPort(transport.address),
    client: formatHostPort(port.address),
    control: `http://${formatHostPort({ host: cfg.control.listen.host, port: controlPort })}`,
  };

  /**
   * Changes R through the global log and waits until this replica has applied it: proposes the
   * change (again if it seems lost with a leader change), waits while another change drains.
   */
  async function setInstances(count: number, timeoutMs: number): Promise<{ code: number; body: Record<string, unknown> }> {
    const until = Date.now() + timeoutMs;
    const st = () => rt.ask<MultiRaftStatus>(ActorIds.sequencer, (replyTo) => ({ t: 'status', replyTo }));
    const addressOf = (id: NodeId | undefined) => (id ? (addresses.get(id) ?? '') : '');
    let proposedAt = 0;
    let proposedEpoch = -1;
    for (;;) {
      const s = await st();
      if (s.instances === count && s.transition === null) {
        return { code: 200, body: { ok: true, instances: s.instances, epoch: s.epoch, changed: proposedEpoch >= 0, rotation: s.rotation } };
      }
      if (proposedEpoch >= 0 && s.epoch > proposedEpoch && s.transition === null && s.instances !== count) {
        return { code: 409, body: { ok: false, error: `another change of R was applied first (R = ${s.instances} at epoch ${s.epoch})`, instances: s.instances, epoch: s.epoch } };
      }
      if (Date.now() >= until) return { code: 504, body: { ok: false, error: `R = ${count} not applied here within ${timeoutMs} ms`, instances: s.instances, epoch: s.epoch, transition: s.transition } };
      const waiting = proposedEpoch >= 0 && (s.transition !== null || Date.now() - proposedAt < 2000);
      if (!waiting && s.transition === null) {
        const r = await rt.ask<MrSetInstancesReply>(ActorIds.sequencer, (replyTo) => ({ t: 'set-instances', count, replyTo }));
        if (!r.ok && r.error !== 'busy') {
          return { code: r.error === 'too-large' ? 400 : 409, body: { ok: false, error: r.error === 'not-leader' || r.error === 'no-leader' ? `this replica leads no open instance (${r.error})` : r.error, leader: r.leader ?? 0, address: addressOf(r.leader) } };
        }
        if (r.ok) {
          proposedAt = Date.now();
          proposedEpoch = r.epoch;
        }
      }
      await new Promise((res) => setTimeout(res, 50));
    }
  }

  async function stop(reason: string | null = null): Promise<void> {
    if (stopping) return stopping;
    stopping = (async () => {
      const step = async (what: string, f: () => Promise<unknown>) => {
        try {
          await f();
        } catch (e) {
          log.warn({ component: 'replica' }, `while stopping (${what}): ${e instanceof Error ? e.message : String(e)}`);
        }
      };
      await step('client port', () => port.close());
      await step('control api', () => app.close());
      await step('peer transport', () => transport.close());
      await step('actors', () => rt.stop());
      await step('store', () => store.close());
      resolveStopped({ fatal: reason });
    })();
    return stopping;
  }

  log.info({ component: 'replica', id: cfg.id, ...addrs, peerTls: tls !== null, clientTls: tls?.clientPort ?? false, startupMs: Date.now() - t0 }, 'replica started');
  return { id: cfg.id, runtime: rt, store, addresses: addrs, status, stop: () => stop(null), stopped };
}
