// What the outbound links and inbound connections share with the PeerTransport that owns them.
import type { Envelope, MessageCodec, NodeId } from '../protocols/api.js';
import type { BackoffOptions } from './backoff.js';
import type { RateLimitedLog } from './logger.js';
import type { FramingCounts, PeerCounters, PeerLinkState, ReasonCounts, RejectCounts } from './peer-stats.js';
import { DEFAULT_MAX_FRAME_BYTES } from './frame.js';

export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

export interface TransportLimits {
  /** Largest frame (kind byte + message) accepted or sent once authenticated. */
  readonly maxFrameBytes: number;
  /** Per-peer bound on queued outbound bytes; beyond it messages are dropped and counted. */
  readonly maxQueueBytes: number;
  /** Queued bytes at which a peer is reported congested (cleared at a quarter of it). */
  readonly congestionBytes: number;
  /** A batch this large is written at once instead of at the end of the event-loop turn. */
  readonly flushBytes: number;
  /** Dial + handshake must finish within this, or the attempt fails. */
  readonly handshakeTimeoutMs: number;
  /** Idle connections exchange a ping this often. */
  readonly pingIntervalMs: number;
  /** A connection that receives nothing (not even a ping) for this long is closed as dead. */
  readonly idleTimeoutMs: number;
  /** Unauthenticated inbound connections allowed at once; more are refused ('busy'). */
  readonly maxPendingHandshakes: number;
  readonly backoff: BackoffOptions;
}

export const DEFAULT_LIMITS: TransportLimits = {
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  maxQueueBytes: 32 * 1024 * 1024,
  congestionBytes: 4 * 1024 * 1024,
  flushBytes: 256 * 1024,
  handshakeTimeoutMs: 5_000,
  pingIntervalMs: 1_000,
  idleTimeoutMs: 10_000,
  maxPendingHandshakes: 64,
  backoff: { baseMs: 50, maxMs: 5_000 },
};

/**
 * Sizes the send queue from a protocol's in-flight limits: with at most `maxInflightMessages`
 * unacknowledged messages of at most `maxMessageBytes` per peer, a queue of twice that never drops
 * in normal operation, and congestion is signalled once one window is queued.
 */
export function limitsForInflight(maxInflightMessages: number, maxMessageBytes: number): Partial<TransportLimits> {
  const window = maxInflightMessages * (maxMessageBytes + 5);
  return {
    maxFrameBytes: Math.max(DEFAULT_MAX_FRAME_BYTES, maxMessageBytes + 1),
    congestionBytes: window,
    maxQueueBytes: 2 * window,
  };
}

export interface PeerTlsOptions {
  /** PEM private key and certificate of this replica; the certificate's CN must be `replica-<id>`. */
  readonly key: string | Buffer;
  readonly cert: string | Buffer;
  /** PEM CA certificate(s) that sign every replica's certificate. */
  readonly ca: string | Buffer;
}

export function certCommonNameFor(id: NodeId): string {
  return `replica-${id}`;
}

export interface PeerContext<M extends Envelope> {
  readonly id: NodeId;
  readonly clusterId: string;
  readonly secret: Buffer;
  readonly codec: MessageCodec<M>;
  readonly limits: TransportLimits;
  readonly tls: PeerTlsOptions | null;
  readonly batching: boolean;
  readonly log: RateLimitedLog;
  readonly refused: ReasonCounts;
  readonly dialRefused: ReasonCounts;
  readonly rejected: RejectCounts;
  readonly framing: FramingCounts;
  isKnownPeer(id: NodeId): boolean;
  countersOf(id: NodeId): PeerCounters | undefined;
  linkState(peer: NodeId, state: PeerLinkState): void;
  congestion(peer: NodeId, congested: boolean): void;
  deliver(msg: M, from: NodeId): void;
}
