// client: client handling. Owns the ClientPortServer (sockets: pinned to the main thread).
//
// Writes: every command that arrives within one scheduling slice (one event-loop turn of socket
// reads) goes into ONE log entry, a service batch envelope, bounded by maxBatchBytes /
// maxBatchCommands. Batching is where throughput comes from: one entry, one WAL record, one
// replication slot and one apply call for hundreds of commands. The batch's tag comes back with
// its results (kv) or with the news that it was dropped (raft: not leader, leader changed).
//
// Reads: stale ones go to kv at once on any replica; linearizable ones only on the leader, batched
// per slice into one read-index round.
//
// Not the leader: the client is redirected to the leader's client address (never forwarded).
// Forwarding would double the leader-side work per request and hide the leader from clients that
// could talk to it directly; a redirect costs one round trip once per leader change.
//
// Multi-Raft (options.multiraft): the sequencer tells this actor which open instances this replica
// leads ('routes'). Each batch goes to the next of them, round-robin (Niagara §3.1: submit to a
// local leader, balanced across local leaders). A replica that leads none redirects writes to a
// replica that leads one (round-robin over them). Linearizable reads are served on every replica:
// the sequencer has a (possibly remote) instance leader confirm a read point (§3.4).
import type { Actor, ActorContext } from '../actors/index.js';
import type { ClientSession } from '../net/index.js';
import type { NodeId, Role } from '../protocols/api.js';
import { Consistency, encodeBatch, readQueryConsistency, validateCommand } from '../service/index.js';
import { RequestType, ResponseType, type ClientRequest, type ClientResponse } from '../client/protocol.js';
import { ActorIds, type ClientIn, type KvIn, type RaftIn } from './messages.js';

export interface ClientActorOptions {
  readonly self: NodeId;
  readonly clusterId: string;
  /** Client address of every member, for redirects. */
  readonly addresses: ReadonlyMap<NodeId, string>;
  readonly window: number;
  readonly maxBatchBytes: number;
  readonly maxBatchCommands: number;
  readonly requestTimeoutMs: number;
  /** Largest log entry the consensus core accepts: a command that cannot fit is refused at once. */
  readonly maxEntryBytes: number;
  /** Multi-Raft routing (see the header). */
  readonly multiraft?: boolean;
}

interface Req {
  readonly session: ClientSession<ClientResponse>;
  readonly id: number;
}

interface Pending {
  readonly reqs: readonly Req[];
  readonly deadline: number;
}

export interface ClientActorStats {
  batches: number;
  commands: number;
  readBatches: number;
  reads: number;
  redirects: number;
  retries: number;
  timeouts: number;
  malformed: number;
}

export interface ClientActorHandle {
  /** The ClientPortServer's onRequest. */
  onRequest(session: ClientSession<ClientResponse>, id: number, req: ClientRequest): void;
  readonly stats: ClientActorStats;
  leadership(): { leader: NodeId; term: number; role: Role };
  /** Multi-Raft routing as last told by the sequencer. */
  routes(): { local: readonly number[]; leaders: readonly NodeId[]; batchesPerInstance: Record<string, number> };
}

export function createClientActor(o: ClientActorOptions): { factory: (ctx: ActorContext) => Actor; handle: ClientActorHandle } {
  let ctx: ActorContext | null = null;
  let leader: NodeId = 0;
  let term = 0;
  let role: Role = 'follower';
  let nextTag = 1;
  const pendingWrites = new Map<number, Pending>();
  const pendingReads = new Map<number, Pending>();
  const stats: ClientActorStats = { batches: 0, commands: 0, readBatches: 0, reads: 0, redirects: 0, retries: 0, timeouts: 0, malformed: 0 };
  const multi = o.multiraft === true;
  /** Multi-Raft: open instances led here, and replicas leading open instances (from the sequencer). */
  let localGroups: readonly number[] = [];
  let leaderIds: readonly NodeId[] = [];
  let groupRr = 0;
  let redirectRr = 0;
  /** Batches proposed per instance (multi-Raft), for status. */
  const perGroup: Record<string, number> = {};

  let cmds: Uint8Array[] = [];
  let cmdReqs: Req[] = [];
  let cmdBytes = 0;
  let linQ: Uint8Array[] = [];
  let linReqs: Req[] = [];
  let staleQ: Uint8Array[] = [];
  let staleReqs: Req[] = [];
  let flushQueued = false;

  const ok = (result: Uint8Array): ClientResponse => ({ type: ResponseType.Ok, result });

  /** Not the leader (or it changed): send the client where it should go. */
  function elsewhere(r: Req, reason: string, hint: NodeId): void {
    if (multi && localGroups.length > 0 && reason !== 'not-leader') {
      // Multi-Raft with a local leader left: the client retries here (after a short backoff).
      stats.retries++;
      r.session.respond(r.id, { type: ResponseType.Retry, leader: o.self, address: o.addresses.get(o.self) ?? '', reason });
      return;
    }
    const l = !multi ? (hint !== 0 ? hint : leader) : hint !== 0 && hint !== o.self ? hint : redirectTarget();
    const address = l !== 0 && l !== o.self ? (o.addresses.get(l) ?? '') : '';
    if (address !== '' && reason === 'not-leader') {
      stats.redirects++;
      r.session.respond(r.id, { type: ResponseType.Redirect, leader: l, address });
    } else {
      stats.retries++;
      r.session.respond(r.id, { type: ResponseType.Retry, leader: l === o.self ? 0 : l, address, reason });
    }
  }

  function isLeader(): boolean {
    return multi ? localGroups.length > 0 : role === 'leader';
  }

  /** Multi-Raft: another replica leading an open instance (round-robin), or 0. */
  function redirectTarget(): NodeId {
    const others = leaderIds.filter((id) => id !== o.self);
    if (others.length === 0) return 0;
    return others[redirectRr++ % others.length]!;
  }

  function scheduleFlush(): void {
    if (flushQueued) return;
    flushQueued = true;
    setImmediate(flush);
  }

  function flushWrites(): void {
    if (cmds.length === 0 || ctx === null) return;
    const data = encodeBatch(Date.now(), cmds);
    const tag = nextTag++;
    pendingWrites.set(tag, { reqs: cmdReqs, deadline: Date.now() + o.requestTimeoutMs });
    stats.batches++;
    stats.commands += cmds.length;
    cmds = [];
    cmdReqs = [];
    cmdBytes = 0;
    let g = 0;
    if (multi && localGroups.length > 0) {
      g = localGroups[groupRr++ % localGroups.length]!;
      perGroup[g] = (perGroup[g] ?? 0) + 1;
    }
    ctx.send(ActorIds.raft(g), { t: 'propose', tag, data } satisfies RaftIn);
  }

  function flushReads(linearizable: boolean): void {
    const qs = linearizable ? linQ : staleQ;
    if (qs.length === 0 || ctx === null) return;
    const reqs = linearizable ? linReqs : staleReqs;
    const tag = nextTag++;
    pendingReads.set(tag, { reqs, deadline: Date.now() + o.requestTimeoutMs });
    stats.readBatches++;
    stats.reads += qs.length;
    if (linearizable) {
      linQ = [];
      linReqs = [];
    } else {
      staleQ = [];
      staleReqs = [];
    }
    ctx.send(ActorIds.kv, { t: 'read', tag, linearizable, queries: qs } satisfies KvIn);
  }

  function flush(): void {
    flushQueued = false;
    flushWrites();
    flushReads(true);
    flushReads(false);
  }

  function sweep(): void {
    const now = Date.now();
    for (const map of [pendingWrites, pendingReads]) {
      for (const [tag, p] of map) {
        if (p.deadline > now) break; // insertion order is deadline order
        map.delete(tag);
        for (const r of p.reqs) {
          stats.timeouts++;
          r.session.respond(r.id, { type: ResponseType.Retry, leader, address: o.addresses.get(leader) ?? '', reason: 'timeout' });
        }
      }
    }
  }

  function info(): ClientResponse {
    // Multi-Raft: "the leader" is where this client's writes should go: here if this replica leads
    // an instance, else a replica that does.
    const l = multi ? (localGroups.length > 0 ? o.self : redirectTarget()) : leader;
    return {
      type: ResponseType.Info,
      replica: o.self,
      leader: l,
      leaderAddress: o.addresses.get(l) ?? '',
      term,
      role,
      window: o.window,
      clusterId: o.clusterId,
    };
  }

  const handle: ClientActorHandle = {
    onRequest(session, id, req) {
      const r: Req = { session, id };
      if (req.type === RequestType.Write) {
        try {
          validateCommand(req.command);
        } catch (e) {
          stats.malformed++;
          session.respond(id, { type: ResponseType.Error, message: `malformed command: ${(e as Error).message}` });
          return;
        }
        // One command alone in a batch must fit in an entry (a batch adds a few header bytes).
        if (req.command.length + 32 > o.maxEntryBytes) {
          stats.malformed++;
          session.respond(id, { type: ResponseType.Error, message: `command of ${req.command.length} bytes exceeds the largest log entry (${o.maxEntryBytes} bytes)` });
          return;
        }
        if (!isLeader()) return elsewhere(r, 'not-leader', 0);
        if (cmdBytes + req.command.length > o.maxBatchBytes) flushWrites();
        cmds.push(req.command);
        cmdReqs.push(r);
        cmdBytes += req.command.length;
        if (cmds.length >= o.maxBatchCommands || cmdBytes >= o.maxBatchBytes) flushWrites();
        else scheduleFlush();
      } else if (req.type === RequestType.Read) {
        let c: Consistency;
        try {
          c = readQueryConsistency(req.query);
        } catch (e) {
          stats.malformed++;
          session.respond(id, { type: ResponseType.Error, message: `malformed query: ${(e as Error).message}` });
          return;
        }
        if (c === Consistency.Stale) {
          staleQ.push(req.query);
          staleReqs.push(r);
        } else {
          if (!multi && !isLeader()) return elsewhere(r, 'not-leader', 0);
          linQ.push(req.query);
          linReqs.push(r);
        }
        scheduleFlush();
      } else {
        session.respond(id, info());
      }
    },
    stats,
    leadership: () => ({ leader, term, role }),
    routes: () => ({ local: localGroups, leaders: leaderIds, batchesPerInstance: { ...perGroup } }),
  };

  const factory = (c: ActorContext): Actor => {
    ctx = c;
    c.setTimer('sweep', 250, { t: 'sweep' }, { repeat: true });
    return {
      receive(raw: unknown): void {
        const msg = raw as ClientIn | { t: 'sweep' };
        switch (msg.t) {
          case 'sweep':
            sweep();
            return;
          case 'results':
            for (let i = 0; i < msg.tags.length; i++) {
              const p = pendingWrites.get(msg.tags[i]!);
              if (!p) continue;
              pendingWrites.delete(msg.tags[i]!);
              const rs = msg.results[i]!;
              // A batch the state machine could not decode yields one result for all its commands.
              const oneForAll = rs.length !== p.reqs.length;
              for (let k = 0; k < p.reqs.length; k++) p.reqs[k]!.session.respond(p.reqs[k]!.id, ok(oneForAll ? rs[0]! : rs[k]!));
            }
            return;
          case 'dropped':
            for (const tag of msg.tags) {
              const p = pendingWrites.get(tag);
              if (!p) continue;
              pendingWrites.delete(tag);
              for (const r of p.reqs) {
                if (msg.reason === 'too-large') r.session.respond(r.id, { type: ResponseType.Error, message: 'the write does not fit in a log entry' });
                else elsewhere(r, msg.reason, msg.leader);
              }
            }
            return;
          case 'read-results': {
            const p = pendingReads.get(msg.tag);
            if (!p) return;
            pendingReads.delete(msg.tag);
            for (let k = 0; k < p.reqs.length; k++) p.reqs[k]!.session.respond(p.reqs[k]!.id, ok(msg.results[k]!));
            return;
          }
          case 'read-failed': {
            const p = pendingReads.get(msg.tag);
            if (!p) return;
            pendingReads.delete(msg.tag);
            for (const r of p.reqs) elsewhere(r, msg.reason, msg.leader);
            return;
          }
          case 'routes':
            localGroups = msg.local;
            leaderIds = msg.leaders;
            return;
          case 'leader':
            if (msg.group !== 0) return;
            leader = msg.leader;
            term = msg.term;
            role = msg.role;
            return;
        }
      },
    };
  };
  return { factory, handle };
}
