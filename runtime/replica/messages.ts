// Messages between the actors of one replica process. All plain data (numbers, strings, arrays,
// Uint8Array), so they cross threads with the runtime's msgpack codec when actors are remapped.
//
// Write:  client ─propose→ raft/<g> ─append→ wal ─appended→ raft/<g> ─committed→ sequencer
//         ─apply→ kv ─results→ client
//         raft/<g> ─out→ peer ─(network)→ peer ─in→ raft/<g>
// Read:   client ─read→ kv ─read-index→ raft/<g> ─read-state→ sequencer ─read-state→ kv ─read-results→ client
import type { Entry, GroupWrite, HardState, NodeId, Role, SnapshotMeta } from '../protocols/api.js';

export const ActorIds = {
  wal: 'wal',
  peer: 'peer',
  client: 'client',
  sequencer: 'sequencer',
  kv: 'kv',
  raft: (group: number) => `raft/${group}`,
} as const;

// ---------------------------------------------------------------- to raft/<g>

export type RaftIn =
  | { readonly t: 'tick' }
  /** Encoded protocol messages received from peers (zero-copy views are fine: decode copies). */
  | { readonly t: 'in'; readonly data: readonly Uint8Array[] }
  /** A batch of client commands (one service batch envelope) to put into one log entry. */
  | { readonly t: 'propose'; readonly tag: number; readonly data: Uint8Array }
  | { readonly t: 'appended'; readonly seq: number; readonly error?: string }
  | { readonly t: 'read-index'; readonly ctx: number }
  /** The service stored a snapshot covering this group's log up to `index`. */
  | { readonly t: 'compact'; readonly index: number; readonly data: Uint8Array }
  | { readonly t: 'congestion'; readonly peer: NodeId; readonly congested: boolean }
  | { readonly t: 'snapshot-saved'; readonly index: number; readonly error?: string }
  | { readonly t: 'status'; readonly replyTo: string }
  | { readonly t: 'transfer'; readonly to: NodeId; readonly replyTo?: string };

// ---------------------------------------------------------------- to wal

export type WalIn =
  /** Persist; answer `appended` with the same seq to `replyTo` once durable. */
  | { readonly t: 'append'; readonly seq: number; readonly replyTo: string; readonly writes: readonly GroupWrite[] }
  /** Store a local snapshot image (streamed to a file; does not hold up appends). */
  | { readonly t: 'save-snapshot'; readonly replyTo: string; readonly group: number; readonly meta: SnapshotMeta; readonly data: Uint8Array };

// ---------------------------------------------------------------- to peer

export type PeerIn =
  /** Encoded messages of `group`, to[i] receives data[i]. */
  { readonly t: 'out'; readonly group: number; readonly to: readonly NodeId[]; readonly data: readonly Uint8Array[] };

// ---------------------------------------------------------------- to sequencer (from raft/<g>)

export type SequencerIn =
  /**
   * Committed entries of one group, in group order. tags[i] is non-zero when entries[i] was
   * proposed by this replica's client actor (its batch tag): results go back to it.
   */
  | { readonly t: 'committed'; readonly group: number; readonly entries: readonly Entry[]; readonly tags: readonly number[] }
  /** Replace the service state with a snapshot (received from a leader, or found at startup). */
  | { readonly t: 'restore'; readonly group: number; readonly index: number; readonly data: Uint8Array }
  /** A linearizable read point of a group (or why there is none). */
  | { readonly t: 'read-state'; readonly group: number; readonly ctx: number; readonly index: number; readonly error?: string; readonly leader?: NodeId }
  /** The service made a snapshot at global index `index`; the sequencer tells each group. */
  | { readonly t: 'snapshot-taken'; readonly index: number; readonly data: Uint8Array };

// ---------------------------------------------------------------- to kv

export type KvIn =
  /** Globally indexed committed entries (tags as in SequencerIn.committed). */
  | { readonly t: 'apply'; readonly entries: readonly Entry[]; readonly tags: readonly number[] }
  | { readonly t: 'restore'; readonly index: number; readonly data: Uint8Array }
  /** Queries (query envelopes). Linearizable ones wait for a read index first. */
  | { readonly t: 'read'; readonly tag: number; readonly linearizable: boolean; readonly queries: readonly Uint8Array[] }
  | { readonly t: 'read-state'; readonly ctx: number; readonly index: number; readonly error?: string; readonly leader?: NodeId }
  | { readonly t: 'status'; readonly replyTo: string }
  | { readonly t: 'take-snapshot'; readonly replyTo?: string };

// ---------------------------------------------------------------- to client

export type ClientIn =
  /** Results of a proposed batch, in command order. */
  | { readonly t: 'results'; readonly tags: readonly number[]; readonly results: readonly (readonly Uint8Array[])[] }
  /** The batch could not be proposed or was lost to a leader change: tell its clients to retry. */
  | { readonly t: 'dropped'; readonly tags: readonly number[]; readonly reason: string; readonly leader: NodeId }
  | { readonly t: 'read-results'; readonly tag: number; readonly results: readonly Uint8Array[] }
  | { readonly t: 'read-failed'; readonly tag: number; readonly reason: string; readonly leader: NodeId }
  /** Leadership as raft/<g> sees it (sent on every change). */
  | { readonly t: 'leader'; readonly group: number; readonly leader: NodeId; readonly term: number; readonly role: Role };

export interface RaftStatus {
  readonly group: number;
  readonly role: Role;
  readonly term: number;
  readonly leader: NodeId;
  readonly commit: number;
  readonly lastIndex: number;
  readonly firstIndex: number;
  readonly snapshotIndex: number;
  readonly hardState: HardState | null;
  readonly counters: Readonly<Record<string, number>>;
  readonly rejected: Readonly<Record<string, number>>;
  readonly readyLoops: number;
  readonly appendsHeldBack: number;
}

export interface KvStatus {
  readonly applied: number;
  readonly snapshotIndex: number;
  readonly snapshots: number;
  readonly stats: Readonly<Record<string, unknown>>;
}
