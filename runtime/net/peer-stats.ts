// Counters exposed by the peer transport. Plain numbers in plain objects: cheap to bump on hot
// paths, trivially serialised for status output and Prometheus collectors.
import type { NodeId } from '../protocols/api.js';
import { RefuseReason } from './handshake.js';

export type PeerLinkState = 'idle' | 'connecting' | 'handshaking' | 'connected' | 'backoff' | 'closed';

export type ReasonCounts = Record<RefuseReason, number>;

export function zeroReasons(): ReasonCounts {
  const out = {} as ReasonCounts;
  for (const k of Object.keys(RefuseReason) as RefuseReason[]) out[k] = 0;
  return out;
}

/** Per-peer counters; they survive reconnects. */
export interface PeerCounters {
  /** Successful outbound handshakes (first connect included). */
  connects: number;
  /** Outbound connections lost after they were established. */
  disconnects: number;
  /** Failed dial attempts (refused, unreachable, timed out). */
  dialFailures: number;
  sentMessages: number;
  /** Frame bytes accepted into the send queue (headers included). */
  sentBytes: number;
  receivedMessages: number;
  /** Frame bytes received on authenticated inbound connections (headers included). */
  receivedBytes: number;
  droppedDisconnected: number;
  droppedQueueFull: number;
  droppedTooLarge: number;
  encodeErrors: number;
  congestionEvents: number;
}

export function zeroPeerCounters(): PeerCounters {
  return {
    connects: 0,
    disconnects: 0,
    dialFailures: 0,
    sentMessages: 0,
    sentBytes: 0,
    receivedMessages: 0,
    receivedBytes: 0,
    droppedDisconnected: 0,
    droppedQueueFull: 0,
    droppedTooLarge: 0,
    encodeErrors: 0,
    congestionEvents: 0,
  };
}

export interface PeerStats extends PeerCounters {
  readonly state: PeerLinkState;
  readonly inboundConnected: boolean;
  readonly queuedBytes: number;
  readonly congested: boolean;
  /** socket.write calls on the outbound connection since it was established. */
  readonly batches: number;
}

/** Inbound traffic rejected after authentication. */
export interface RejectCounts {
  /** `from` differed from the authenticated peer. */
  spoofed: number;
  /** `to` was not this replica. */
  misaddressed: number;
  /** The codec could not decode the frame body. */
  malformed: number;
  /** The onMessage handler threw (a host bug; logged). */
  handlerErrors: number;
}

/** Connections closed because of the byte stream itself. */
export interface FramingCounts {
  /** A length field above the limit (the handshake limit before authentication). */
  oversize: number;
  /** A zero length field. */
  empty: number;
  /** A frame kind not allowed in the connection's state. */
  unexpectedKind: number;
  /** No bytes (not even pings) for idleTimeoutMs. */
  idleTimeouts: number;
}

export interface TransportStats {
  readonly id: NodeId;
  /** Inbound handshakes this replica refused, by reason. */
  readonly refused: ReasonCounts;
  /** This replica's dials that failed the handshake, by reason (refused by the peer or failing our checks of it). */
  readonly dialRefused: ReasonCounts;
  readonly rejected: RejectCounts;
  readonly framing: FramingCounts;
  /** Inbound connections that completed the handshake. */
  readonly inboundAccepted: number;
  /** Inbound connections closed by the remote side before the handshake finished. */
  readonly abandonedHandshakes: number;
  /** send() calls naming a replica that is not a peer. */
  readonly unknownPeerSends: number;
  readonly peers: Readonly<Record<NodeId, PeerStats>>;
}
