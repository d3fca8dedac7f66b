// PeerTransport<M>: authenticated, framed, batched, bounded message transport between replicas.
//
//   const t = await PeerTransport.start({ id: 1, clusterId, secret, codec, peers, onMessage });
//   t.send(msg)            // routes by msg.to; never blocks, never buffers unboundedly
//   t.isCongested(peer)    // stop feeding a peer until onCongestion(peer, false)
//   t.stats()              // counters: refusals, drops, rejects, per-peer traffic
//   await t.close()
//
// Delivery is best effort, in order per connection: messages to a disconnected or congested-to-
// the-limit peer are dropped and counted (Raft retransmits). Every connection is authenticated
// (HMAC challenge over the cluster secret, optionally inside mutual TLS) before any message flows,
// and every received message must name the authenticated peer as its sender.
import net from 'node:net';
import tls from 'node:tls';
import type { Envelope, MessageCodec, NodeId } from '../protocols/api.js';
import { encodeMessageInto } from './codec.js';
import { FRAME_HEADER_BYTES, FrameKind } from './frame.js';
import { MAX_CLUSTER_ID_BYTES, normaliseSecret } from './handshake.js';
import { RateLimitedLog, stderrLogger, type NetLogger } from './logger.js';
import { InboundConnection, type InboundHost } from './peer-acceptor.js';
import {
  DEFAULT_LIMITS,
  type PeerAddress,
  type PeerContext,
  type PeerTlsOptions,
  type TransportLimits,
} from './peer-context.js';
import { OutboundLink } from './peer-dialer.js';
import { listenOn } from './listen.js';
import {
  zeroPeerCounters,
  zeroReasons,
  type FramingCounts,
  type PeerCounters,
  type PeerLinkState,
  type PeerStats,
  type ReasonCounts,
  type RejectCounts,
  type TransportStats,
} from './peer-stats.js';

export type { PeerAddress, PeerTlsOptions, TransportLimits } from './peer-context.js';
export { DEFAULT_LIMITS, limitsForInflight, certCommonNameFor } from './peer-context.js';

export interface PeerTransportOptions<M extends Envelope> {
  /** This replica's id (positive integer). */
  readonly id: NodeId;
  /** Peers refuse connections that name another cluster (at most 64 UTF-8 bytes). */
  readonly clusterId: string;
  /** Shared cluster secret, at least 16 bytes (a string is taken as its UTF-8 bytes). */
  readonly secret: Uint8Array | string;
  readonly codec: MessageCodec<M>;
  /**
   * The other replicas. Only these ids may connect to us; we dial each one that has an address
   * (null: accept its connections, but do not dial it yet).
   */
  readonly peers: ReadonlyMap<NodeId, PeerAddress | null> | Readonly<Record<number, PeerAddress | null>>;
  /** Where to listen. Defaults to 127.0.0.1 and an ephemeral port: bind wider only deliberately. */
  readonly listen?: { readonly host?: string; readonly port?: number };
  /** Called for every accepted message, with the authenticated sender id (== msg.from). */
  readonly onMessage: (msg: M, from: NodeId) => void;
  readonly onPeerState?: (peer: NodeId, state: PeerLinkState) => void;
  /** Congestion transitions of a peer's send queue (true: stop feeding it). */
  readonly onCongestion?: (peer: NodeId, congested: boolean) => void;
  readonly limits?: Partial<TransportLimits>;
  /** Mutual TLS around every peer connection (the HMAC handshake still runs inside it). */
  readonly tls?: PeerTlsOptions;
  /** false: one socket.write per message (for comparison benchmarks only). */
  readonly batching?: boolean;
  readonly log?: NetLogger;
}

export type SendOutcome = 'sent' | 'unknown-peer' | 'disconnected' | 'queue-full' | 'too-large' | 'encode-error';

function toPeerMap(p: PeerTransportOptions<Envelope>['peers']): Map<NodeId, PeerAddress | null> {
  if (p instanceof Map) return new Map(p);
  return new Map(Object.entries(p).map(([k, v]) => [Number(k), v]));
}

function validateId(id: NodeId, what: string): void {
  if (!Number.isInteger(id) || id <= 0 || id > 0xffff_ffff) throw new RangeError(`${what} must be an integer in 1..2^32-1, got ${id}`);
}

export class PeerTransport<M extends Envelope> {
  private readonly ctx: PeerContext<M>;
  private readonly host: InboundHost<M>;
  private readonly server: net.Server;
  private readonly links = new Map<NodeId, OutboundLink<M>>();
  private readonly counters = new Map<NodeId, PeerCounters>();
  private readonly inbound = new Map<NodeId, InboundConnection<M>>();
  private readonly pending = new Set<InboundConnection<M>>();
  private readonly allInbound = new Set<InboundConnection<M>>();
  private housekeepingTimer: NodeJS.Timeout | null = null;
  private inboundAccepted = 0;
  private abandonedHandshakes = 0;
  private unknownPeerSends = 0;
  private shutDown = false;
  private bound: PeerAddress | null = null;

  /** Listens, then starts dialling every peer with an address. */
  static async start<M extends Envelope>(opts: PeerTransportOptions<M>): Promise<PeerTransport<M>> {
    const t = new PeerTransport(opts);
    await t.listen();
    t.dialAll();
    return t;
  }

  private constructor(private readonly opts: PeerTransportOptions<M>) {
    validateId(opts.id, 'replica id');
    if (Buffer.byteLength(opts.clusterId) === 0 || Buffer.byteLength(opts.clusterId) > MAX_CLUSTER_ID_BYTES) {
      throw new RangeError(`cluster id must be 1..${MAX_CLUSTER_ID_BYTES} UTF-8 bytes`);
    }
    const limits: TransportLimits = { ...DEFAULT_LIMITS, ...opts.limits };
    if (limits.maxQueueBytes < limits.maxFrameBytes + FRAME_HEADER_BYTES) {
      // Otherwise a maximal message could never be queued.
      throw new RangeError(`maxQueueBytes (${limits.maxQueueBytes}) must be at least maxFrameBytes + 4 (${limits.maxFrameBytes + 4})`);
    }
    const self = this;
    const refused: ReasonCounts = zeroReasons();
    const dialRefused: ReasonCounts = zeroReasons();
    const rejected: RejectCounts = { spoofed: 0, misaddressed: 0, malformed: 0, handlerErrors: 0 };
    const framing: FramingCounts = { oversize: 0, empty: 0, unexpectedKind: 0, idleTimeouts: 0 };
    this.ctx = {
      id: opts.id,
      clusterId: opts.clusterId,
      secret: normaliseSecret(opts.secret),
      codec: opts.codec,
      limits,
      tls: opts.tls ?? null,
      batching: opts.batching ?? true,
      log: new RateLimitedLog(opts.log ?? stderrLogger),
      refused,
      dialRefused,
      rejected,
      framing,
      isKnownPeer: (id) => self.counters.has(id),
      countersOf: (id) => self.counters.get(id),
      linkState: (peer, state) => opts.onPeerState?.(peer, state),
      congestion: (peer, congested) => opts.onCongestion?.(peer, congested),
      deliver: opts.onMessage,
    };
    this.host = {
      ctx: this.ctx,
      authenticated: (c) => this.onAuthenticated(c),
      closed: (c) => this.onInboundClosed(c),
    };
    for (const [id, addr] of toPeerMap(opts.peers as PeerTransportOptions<Envelope>['peers'])) this.addPeer(id, addr);

    const onSocket = (sock: net.Socket) => this.accept(sock);
    if (this.ctx.tls) {
      const t = this.ctx.tls;
      const server = tls.createServer(
        { key: t.key, cert: t.cert, ca: t.ca, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' },
        onSocket,
      );
      server.on('tlsClientError', (err, sock) => {
        refused['tls-failed']++;
        this.ctx.log.warn('refused:tls-failed', { remote: `${sock.remoteAddress}:${sock.remotePort}`, detail: err.message }, 'refused a peer TLS handshake');
      });
      this.server = server;
    } else {
      this.server = net.createServer(onSocket);
    }
  }

  private addPeer(id: NodeId, addr: PeerAddress | null): void {
    validateId(id, 'peer id');
    if (id === this.opts.id) throw new RangeError(`peer list contains this replica's own id ${id}`);
    const counters = this.counters.get(id) ?? zeroPeerCounters();
    this.counters.set(id, counters);
    this.links.set(id, new OutboundLink(id, addr, counters, this.ctx));
  }

  private async listen(): Promise<void> {
    this.bound = await listenOn(this.server, this.opts.listen, 'for peers', (e) => this.ctx.log.log.error({ error: e.message }, 'peer listener error'));
  }

  private dialAll(): void {
    for (const link of this.links.values()) link.start();
    const tick = Math.max(10, Math.min(this.ctx.limits.pingIntervalMs, this.ctx.limits.idleTimeoutMs) / 2);
    this.housekeepingTimer = setInterval(() => this.housekeeping(), tick);
    this.housekeepingTimer.unref();
  }

  private housekeeping(): void {
    const now = Date.now();
    for (const l of this.links.values()) l.housekeeping(now);
    for (const c of this.allInbound) c.housekeeping(now);
  }

  /** The address the peer listener is bound to. */
  get address(): PeerAddress {
    if (!this.bound) throw new Error('transport is not listening');
    return this.bound;
  }

  get id(): NodeId {
    return this.opts.id;
  }

  /**
   * Queues `msg` for msg.to. Never throws for network conditions: the outcome says whether it was
   * queued or dropped (and every drop is counted). Throws only if msg.from is not this replica.
   */
  send(msg: M): SendOutcome {
    if (msg.from !== this.opts.id) throw new Error(`send: msg.from is ${msg.from}, this replica is ${this.opts.id}`);
    const link = this.links.get(msg.to);
    if (!link) {
      this.unknownPeerSends++;
      return 'unknown-peer';
    }
    const c = link.counters;
    const q = link.queue;
    if (q === null) {
      c.droppedDisconnected++;
      return 'disconnected';
    }
    if (q.full) {
      c.droppedQueueFull++;
      return 'queue-full';
    }
    const w = q.begin(FrameKind.PeerMessage);
    const start = w.pos;
    try {
      encodeMessageInto(this.ctx.codec, msg, w);
    } catch (e) {
      q.abort();
      c.encodeErrors++;
      this.ctx.log.log.error({ peer: msg.to, error: (e as Error).message }, 'codec failed to encode a message');
      return 'encode-error';
    }
    const bytes = w.pos - start + 1 + FRAME_HEADER_BYTES;
    const r = q.commit();
    if (r === 'ok') {
      c.sentMessages++;
      c.sentBytes += bytes;
      return 'sent';
    }
    if (r === 'full') {
      c.droppedQueueFull++;
      return 'queue-full';
    }
    c.droppedTooLarge++;
    this.ctx.log.warn(`too-large:${msg.to}`, { peer: msg.to, bytes: bytes - FRAME_HEADER_BYTES, limit: this.ctx.limits.maxFrameBytes }, 'dropped a message larger than the frame limit');
    return 'too-large';
  }

  /** Writes every peer's pending batch now instead of at the end of this event-loop turn. */
  flush(): void {
    for (const l of this.links.values()) l.queue?.flush();
  }

  isConnected(peer: NodeId): boolean {
    return this.links.get(peer)?.state === 'connected';
  }

  isCongested(peer: NodeId): boolean {
    return this.links.get(peer)?.queue?.congested ?? false;
  }

  queuedBytes(peer: NodeId): number {
    return this.links.get(peer)?.queue?.queuedBytes ?? 0;
  }

  peerState(peer: NodeId): PeerLinkState | undefined {
    return this.links.get(peer)?.state;
  }

  peerIds(): NodeId[] {
    return [...this.links.keys()];
  }

  /** Adds a peer, or changes its address (reconnecting). null: accept it, do not dial. */
  setPeer(id: NodeId, addr: PeerAddress | null): void {
    if (this.shutDown) return;
    const link = this.links.get(id);
    if (link) {
      link.retarget(addr);
      return;
    }
    this.addPeer(id, addr);
    if (this.housekeepingTimer) this.links.get(id)!.start();
  }

  /** Forgets a peer: closes both directions and refuses its future connections. */
  async removePeer(id: NodeId): Promise<void> {
    const link = this.links.get(id);
    this.links.delete(id);
    this.counters.delete(id);
    this.inbound.get(id)?.close();
    this.inbound.delete(id);
    await link?.close();
  }

  private accept(sock: net.Socket): void {
    if (this.shutDown) {
      sock.destroy();
      return;
    }
    if (this.pending.size >= this.ctx.limits.maxPendingHandshakes) {
      this.ctx.refused.busy++;
      this.ctx.log.warn('refused:busy', { remote: `${sock.remoteAddress}:${sock.remotePort}` }, 'too many unauthenticated peer connections; refusing');
      sock.destroy();
      return;
    }
    const conn = new InboundConnection(sock, this.host);
    this.pending.add(conn);
    this.allInbound.add(conn);
  }

  private onAuthenticated(conn: InboundConnection<M>): void {
    this.pending.delete(conn);
    this.inboundAccepted++;
    // A restarted peer reconnects before we notice its old connection died: keep the newest.
    const old = this.inbound.get(conn.peer);
    this.inbound.set(conn.peer, conn);
    if (old && old !== conn) old.close();
  }

  private onInboundClosed(conn: InboundConnection<M>): void {
    if (this.pending.delete(conn) && !conn.wasRefused) this.abandonedHandshakes++;
    this.allInbound.delete(conn);
    if (conn.peer !== 0 && this.inbound.get(conn.peer) === conn) this.inbound.delete(conn.peer);
  }

  stats(): TransportStats {
    const peers: Record<NodeId, PeerStats> = {};
    for (const [id, c] of this.counters) {
      const link = this.links.get(id);
      peers[id] = {
        ...c,
        state: link?.state ?? 'closed',
        inboundConnected: this.inbound.get(id)?.isOpen ?? false,
        queuedBytes: link?.queue?.queuedBytes ?? 0,
        congested: link?.queue?.congested ?? false,
        batches: link?.batches ?? 0,
      };
    }
    return {
      id: this.opts.id,
      refused: { ...this.ctx.refused },
      dialRefused: { ...this.ctx.dialRefused },
      rejected: { ...this.ctx.rejected },
      framing: { ...this.ctx.framing },
      inboundAccepted: this.inboundAccepted,
      abandonedHandshakes: this.abandonedHandshakes,
      unknownPeerSends: this.unknownPeerSends,
      peers,
    };
  }

  /** Flushes queued messages, closes every connection and the listener. */
  async close(): Promise<void> {
    if (this.shutDown) return;
    this.shutDown = true;
    if (this.housekeepingTimer) clearInterval(this.housekeepingTimer);
    const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const c of this.allInbound) c.close();
    await Promise.all([...this.links.values()].map((l) => l.close()));
    await serverClosed;
  }
}
