// peer: the transport between replicas. Owns the PeerTransport (sockets: pinned to the main
// thread) and only moves bytes: consensus actors hand it encoded messages, and it hands received
// ones to raft/<group> without decoding them, batched per group and event-loop turn.
//
// Multi-Raft creates instances while running: a group is delivered to only once addGroup() said its
// actor exists (until then its messages are dropped and counted; Raft retransmits).
//
// Congestion (a peer's send queue past its threshold) is passed on to every consensus actor, which
// then stops sending that peer new appends until it drains; the transport's hard bound drops what
// still does not fit, and Raft retransmits.
import type { Actor, ActorContext } from '../actors/index.js';
import type { NodeId } from '../protocols/api.js';
import type { PeerTransport } from '../net/index.js';
import { ActorIds, type PeerIn, type RaftIn } from './messages.js';
import type { PeerEnvelope } from './peer-envelope.js';

export interface PeerActorHandle {
  /** Wire the transport in once it is listening (messages before that are dropped). */
  attach(t: PeerTransport<PeerEnvelope>): void;
  /** The transport's onMessage. */
  onMessage(env: PeerEnvelope): void;
  /** The transport's onCongestion. */
  onCongestion(peer: NodeId, congested: boolean): void;
  /** raft/<group> exists from now on (multi-Raft instances created at run time). */
  addGroup(group: number): void;
  readonly stats: { sent: number; received: number; unknownGroup: number; sendFailures: Record<string, number> };
}

export function createPeerActor(self: NodeId, groups: number): { factory: (ctx: ActorContext) => Actor; handle: PeerActorHandle } {
  let transport: PeerTransport<PeerEnvelope> | null = null;
  let ctx: ActorContext | null = null;
  const inbox: Uint8Array[][] = Array.from({ length: groups }, () => []);
  const known: boolean[] = Array.from({ length: groups }, () => true);
  let flushQueued = false;
  const stats = { sent: 0, received: 0, unknownGroup: 0, sendFailures: {} as Record<string, number> };

  const flush = (): void => {
    flushQueued = false;
    if (ctx === null) return;
    for (let g = 0; g < inbox.length; g++) {
      const data = inbox[g];
      if (data === undefined || data.length === 0) continue;
      inbox[g] = [];
      ctx.send(ActorIds.raft(g), { t: 'in', data } satisfies RaftIn);
    }
  };

  const handle: PeerActorHandle = {
    attach(t) {
      transport = t;
    },
    onMessage(env) {
      stats.received++;
      if (known[env.group] !== true) {
        stats.unknownGroup++;
        return;
      }
      inbox[env.group]!.push(env.data);
      if (!flushQueued) {
        flushQueued = true;
        setImmediate(flush);
      }
    },
    onCongestion(peer, congested) {
      if (ctx === null) return;
      for (let g = 0; g < known.length; g++) if (known[g]) ctx.send(ActorIds.raft(g), { t: 'congestion', peer, congested } satisfies RaftIn);
    },
    addGroup(group) {
      known[group] = true;
      inbox[group] ??= [];
    },
    stats,
  };

  const factory = (c: ActorContext): Actor => {
    ctx = c;
    return {
      receive(raw: unknown): void {
        const msg = raw as PeerIn;
        if (msg.t !== 'out') return;
        const t = transport;
        for (let i = 0; i < msg.to.length; i++) {
          if (t === null) {
            stats.sendFailures['not-started'] = (stats.sendFailures['not-started'] ?? 0) + 1;
            continue;
          }
          const r = t.send({ group: msg.group, from: self, to: msg.to[i]!, data: msg.data[i]! });
          if (r === 'sent') stats.sent++;
          else stats.sendFailures[r] = (stats.sendFailures[r] ?? 0) + 1;
        }
      },
    };
  };
  return { factory, handle };
}
