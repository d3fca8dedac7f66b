// Messages between the actors of one replica process. All plain data (numbers, strings, arrays,
// Uint8Array), so they cross threads with the runtime's msgpack codec when actors are remapped.
//
// Write:  client ─propose→ raft/<g> ─append→ wal ─appended→ raft/<g> ─committed→ sequencer
//         ─apply→ kv ─results→ client
//         raft/<g> ─out→ peer ─(network)→ peer ─in→ raft/<g>
// Read:   client ─read→ kv ─read-index→ raft/<g> ─read-state→ sequencer ─read-state→ kv ─read-results→ client
import type { Entry, GroupWrite, HardState, Membership, NodeId, Role, SnapshotMeta } from '../protocols/api.js';
import type { InstanceInfo } from '../protocols/multiraft/index.js';

export const ActorIds = {
  wal: 'wal',
  peer: 'peer',
  client: 'client',
  sequencer: 'sequencer',
  kv: 'kv',
  /** Multi-Raft: creates raft/<g> actors when the global log asks for a new instance (main thread). */
  instances: 'instances',
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
  /**
   * The service stored a snapshot covering this group's log up to `index`. `shared`: multi-Raft's
   * single snapshot, the same image for `groups` instances; the log writer stores it once.
   */
  | { readonly t: 'compact'; readonly index: number; readonly data: Uint8Array; readonly shared?: SharedSnapshot }
  | { readonly t: 'congestion'; readonly peer: NodeId; readonly congested: boolean }
  | { readonly t: 'snapshot-saved'; readonly index: number; readonly error?: string }
  | { readonly t: 'status'; readonly replyTo: string }
  | { readonly t: 'transfer'; readonly to: NodeId; readonly replyTo?: string }
  | InstanceRequest;

/**
 * Multi-Raft: what the sequencer actor's coordinator asks of an instance (runtime/protocols/
 * multiraft/coordinator.ts, InstancePort). The instance re-checks that it may (leadership) and
 * counts each request in its next view report (`handled`).
 */
export type InstanceRequest =
  /** Leader only: `count` empty Noop entries (Niagara's progress no-ops). */
  | { readonly t: 'mr-noops'; readonly count: number }
  /** Leader only: one Noop (control record) or Skip entry. */
  | { readonly t: 'mr-entry'; readonly type: 1 | 3; readonly data: Uint8Array }
  /** An empty command forwarded to the instance's leader by Raft (a read nudge). */
  | { readonly t: 'mr-forward'; readonly data: Uint8Array }
  /** Leader only: propose a seal/join record unless the log holds it at or after `from`. */
  | { readonly t: 'mr-record'; readonly kind: 'seal' | 'join'; readonly epoch: number; readonly from: number }
  /** Leader only: the next single-server step towards `target`. */
  | { readonly t: 'mr-converge'; readonly target: Membership; readonly voters: readonly NodeId[] };

export interface SharedSnapshot {
  /** Unique per compaction on this replica. */
  readonly id: number;
  /** How many instances were asked to compact with this image. */
  readonly groups: number;
}

// ---------------------------------------------------------------- to wal

export type WalIn =
  /** Persist; answer `appended` with the same seq to `replyTo` once durable. */
  | { readonly t: 'append'; readonly seq: number; readonly replyTo: string; readonly writes: readonly GroupWrite[] }
  /** Store a local snapshot image (streamed to a file; does not hold up appends). */
  | { readonly t: 'save-snapshot'; readonly replyTo: string; readonly group: number; readonly meta: SnapshotMeta; readonly data: Uint8Array; readonly shared?: SharedSnapshot }
  /** Multi-Raft: this instance will not store the shared snapshot `shared.id` (it ignored the compaction). */
  | { readonly t: 'snapshot-skip'; readonly shared: SharedSnapshot };

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
  | { readonly t: 'snapshot-taken'; readonly index: number; readonly data: Uint8Array; readonly point?: number }
  /** The service wants to snapshot: the sequencer notes a point and answers (KvIn 'snapshot-point'). */
  | { readonly t: 'snapshot-point' }
  /** Multi-Raft: an instance's state as the coordinator needs it (sent when it changes). */
  | ({ readonly t: 'view' } & InstanceReport);

/** The coordinator's view of an instance, as its raft/<g> actor reports it. */
export interface InstanceReport extends InstanceInfo {
  readonly group: number;
  /** InstanceRequests handled so far (the sequencer counts what it sent). */
  readonly handled: number;
}

// ---------------------------------------------------------------- to kv

export type KvIn =
  /** Globally indexed committed entries (tags as in SequencerIn.committed). */
  | { readonly t: 'apply'; readonly entries: readonly Entry[]; readonly tags: readonly number[] }
  | { readonly t: 'restore'; readonly index: number; readonly data: Uint8Array }
  /** Queries (query envelopes). Linearizable ones wait for a read index first. */
  | { readonly t: 'read'; readonly tag: number; readonly linearizable: boolean; readonly queries: readonly Uint8Array[] }
  | { readonly t: 'read-state'; readonly ctx: number; readonly index: number; readonly error?: string; readonly leader?: NodeId }
  | { readonly t: 'status'; readonly replyTo: string }
  | { readonly t: 'take-snapshot'; readonly replyTo?: string }
  /** Capture the snapshot now (everything sent before this has been applied); `point` goes back in snapshot-taken. */
  | { readonly t: 'snapshot-point'; readonly point: number };

// ---------------------------------------------------------------- to client

export type ClientIn =
  /** Results of a proposed batch, in command order. */
  | { readonly t: 'results'; readonly tags: readonly number[]; readonly results: readonly (readonly Uint8Array[])[] }
  /** The batch could not be proposed or was lost to a leader change: tell its clients to retry. */
  | { readonly t: 'dropped'; readonly tags: readonly number[]; readonly reason: string; readonly leader: NodeId }
  | { readonly t: 'read-results'; readonly tag: number; readonly results: readonly Uint8Array[] }
  | { readonly t: 'read-failed'; readonly tag: number; readonly reason: string; readonly leader: NodeId }
  /** Leadership as raft/<g> sees it (sent on every change). */
  | { readonly t: 'leader'; readonly group: number; readonly leader: NodeId; readonly term: number; readonly role: Role }
  /**
   * Multi-Raft, from the sequencer: the open instances this replica leads (where its client
   * commands go, round-robin) and the replicas leading open instances (redirect targets).
   */
  | { readonly t: 'routes'; readonly local: readonly number[]; readonly leaders: readonly NodeId[] };

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
