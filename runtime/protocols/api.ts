// The replication-protocol contract shared by the simulator, the replica runtime and plug-ins.
//
// A protocol core is a pure, deterministic state machine in the style of etcd-io/raft:
//   - inputs:  step(msg), tick(), propose(data), readIndex(ctx), and a few admin calls;
//   - outputs: ready() returns everything the host must do (persist, send, apply, answer reads);
//   - advance(ready) tells the core the host has done what that Ready demanded.
// A core never touches sockets, files, timers, Date.now() or Math.random(). Time arrives as ticks;
// randomness from the injected Rng. Given the same inputs in the same order it produces the same
// outputs, which is what makes seeded simulation and replay of a failing seed possible.
//
// Single Raft has one consensus group (group 0). Multi-Raft exposes R groups behind one core; a
// plug-in may expose any number. Everything the host persists is keyed by group.

/** Replica identifier: a positive integer, unique within a cluster. 0 means "none". */
export type NodeId = number;
export const NONE: NodeId = 0;

/** Deterministic randomness source injected into a core. */
export interface Rng {
  /** A uniformly distributed unsigned 32-bit integer. */
  nextU32(): number;
}

export const EntryType = {
  /** A command for the state machine. */
  Normal: 0,
  /** Appended by a new leader (or for progress); carries no command. */
  Noop: 1,
  /** A membership change; data is the protocol's encoding of it. */
  Config: 2,
  /** Multi-Raft/Multi-Ring: stands for `data`-encoded count of skipped positions. */
  Skip: 3,
} as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

export interface Entry {
  readonly index: number;
  readonly term: number;
  readonly type: EntryType;
  /** Opaque bytes; the core never mutates them after they enter the log. */
  readonly data: Uint8Array;
}

/** The part of a group's state that must survive a crash besides the log. */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
}

export interface Membership {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
  /** Present while a joint configuration (C_old,new) is in effect. */
  readonly votersOutgoing?: readonly NodeId[];
}

export interface SnapshotMeta {
  /** Last log index covered by the snapshot (in the group's own index space). */
  readonly index: number;
  readonly term: number;
  readonly membership: Membership;
}

export interface Snapshot {
  readonly meta: SnapshotMeta;
  /** State-machine image as produced by the host's StateMachine.snapshot(). */
  readonly data: Uint8Array;
}

/** What the host durably holds for one group; a restarted core is rebuilt from exactly this. */
export interface GroupDurableState {
  readonly group: number;
  readonly hardState: HardState;
  /** The latest durable snapshot, or null. Entries start right after it. */
  readonly snapshot: Snapshot | null;
  /** Contiguous durable entries following the snapshot (or starting at index 1). */
  readonly entries: readonly Entry[];
}

/** Durable writes for one group that a Ready demands. */
export interface GroupWrite {
  readonly group: number;
  /** Replace the stored hard state; null when unchanged. */
  readonly hardState: HardState | null;
  /**
   * Append these entries. If entries[0].index is at or below the durable last index, the durable
   * log is first truncated so it ends at entries[0].index - 1 (a conflicting suffix is replaced).
   */
  readonly entries: readonly Entry[];
  /**
   * A snapshot received from the leader: persist it, drop all log entries it covers (and any that
   * conflict with it), and restore the state machine from it before applying `committed`.
   */
  readonly snapshot: Snapshot | null;
  /**
   * The core's own snapshot made by compact(): persist it as the group's latest snapshot (it is
   * what GroupDurableState.snapshot returns on restart); once it is durable (fsynced, even when
   * the Ready's mustSync is false) the host may drop the durable log entries it covers. Do NOT restore the state machine from it: the host already holds that
   * state or a later one. Absent or null when there is none.
   */
  readonly compacted?: Snapshot | null;
}

/** The answer to a readIndex request. */
export type ReadState =
  /** Serve the read once the host has applied the committed output up to `index`. */
  | { readonly ctx: number; readonly index: number }
  /** This replica cannot serve it; retry elsewhere (leader is a hint, NONE if unknown). */
  | { readonly ctx: number; readonly error: 'not-leader' | 'dropped'; readonly leader: NodeId };

/**
 * Everything the host must do. Order of obligations:
 *   1. `sendNow` may be sent immediately, in parallel with persisting (e.g. a leader's AppendEntries:
 *      the leader counts its own copy only after advance()).
 *   2. `writes` must be durable (fsync) before any of `sendAfterPersist` is sent. This covers votes,
 *      append acknowledgements and anything else that asserts durability (etcd's MustSync).
 *   3. `committed` must be applied in order, after `writes` are durable. Its `index` is the position
 *      in the protocol's output sequence (Raft: the log index; multi-Raft: the global merged log).
 *   4. `readStates` are answered once the host has applied up to their index.
 * Then call advance(ready) with this same object. Between ready() and advance() the host may keep
 * calling step/tick/propose/readIndex; it must not call ready() again until advance().
 */
export interface Ready<M> {
  readonly writes: readonly GroupWrite[];
  /** True iff `writes` contains a hard-state change or entries that must be fsynced. */
  readonly mustSync: boolean;
  readonly sendNow: readonly M[];
  readonly sendAfterPersist: readonly M[];
  readonly committed: readonly Entry[];
  readonly readStates: readonly ReadState[];
}

export type Role = 'leader' | 'follower' | 'candidate' | 'precandidate' | 'learner';

/** Read-only view of one consensus group, used by checkers, status and the controller. */
export interface GroupView {
  readonly group: number;
  readonly role: Role;
  readonly term: number;
  readonly leader: NodeId;
  readonly vote: NodeId;
  readonly commit: number;
  readonly membership: Membership;
  /** First index still held in the log (snapshot index + 1). */
  readonly firstIndex: number;
  readonly lastIndex: number;
  /** Term of the entry at `index`, or undefined when it is compacted or beyond lastIndex. The
   *  snapshot index itself answers with the snapshot term. */
  termAt(index: number): number | undefined;
  entryAt(index: number): Entry | undefined;
}

export type ProposeResult =
  | { readonly ok: true; /** Log index when this replica is the leader; undefined when forwarded. */ readonly index?: number }
  | {
      readonly ok: false;
      readonly error: 'not-leader' | 'no-leader' | 'too-large' | 'busy' | 'transferring' | 'not-member';
      /** Best known leader, NONE when unknown. */
      readonly leader: NodeId;
    };

export type MembershipChange =
  | { readonly type: 'add-learner'; readonly node: NodeId }
  | { readonly type: 'promote'; readonly node: NodeId }
  | { readonly type: 'add-voter'; readonly node: NodeId }
  | { readonly type: 'remove'; readonly node: NodeId };

/** Why a message or proposal was rejected. Counted in stats(); never thrown out of step(). */
export type RejectReason =
  | 'unknown-sender'
  | 'not-addressed-to-me'
  | 'stale-term'
  | 'malformed'
  | 'oversized-entry'
  | 'unknown-group'
  | 'unexpected';

export interface ProtocolStats {
  readonly rejected: Readonly<Partial<Record<RejectReason, number>>>;
  /** Free-form protocol counters (elections started, snapshots sent, ...). */
  readonly counters: Readonly<Record<string, number>>;
}

/** Every protocol message carries its sender and destination so hosts can route it. */
export interface Envelope {
  readonly from: NodeId;
  readonly to: NodeId;
}

export interface ProtocolCore<M extends Envelope> {
  readonly id: NodeId;
  /** A message from a peer. Invalid input is rejected and counted, never thrown. */
  step(msg: M): void;
  /** One unit of logical time. Election and heartbeat timeouts are counted in ticks. */
  tick(): void;
  /** Submit a command. On a follower it is forwarded to the leader when forwarding is on. */
  propose(data: Uint8Array): ProposeResult;
  /** Request a linearizable read point; answered through Ready.readStates with the same ctx. */
  readIndex(ctx: number): void;
  /** Whether ready() would return anything. Cheap; hosts poll it after every input. */
  hasReady(): boolean;
  ready(): Ready<M>;
  advance(ready: Ready<M>): void;
  /**
   * The host has durably stored a state-machine snapshot covering the committed output up to
   * `appliedIndex`. The core may compact its log(s) up to there and use `data` to catch up
   * followers that are too far behind.
   */
  compact(appliedIndex: number, data: Uint8Array): void;
  proposeMembership(change: MembershipChange): ProposeResult;
  transferLeadership(to: NodeId): boolean;
  groups(): readonly GroupView[];
  stats(): ProtocolStats;
  /**
   * Optional; for protocols whose snapshots wrap the state-machine image in protocol metadata
   * (multi-Raft: where the image stands in every instance's log). For a snapshot in
   * `Ready.writes[].snapshot` of a Ready this core returned: the image to restore the state machine
   * from, or null when the host must NOT restore (its state is already at or past that snapshot —
   * another instance's snapshot moved it further). Persist the write either way. Without this
   * method, restore from `snapshot.data`.
   */
  snapshotImage?(snapshot: Snapshot): Uint8Array | null;
  /**
   * Optional, same protocols: on restart, the image the host restores its state machine from before
   * applying committed output (null: start empty). Without this method, use the durable snapshot
   * of the lowest-numbered group that has one.
   */
  restartImage?(): Uint8Array | null;
}

/**
 * Optional capability of protocols with a variable number of consensus instances (multi-Raft):
 * the simulator and the controller change R through it while the protocol serves.
 */
export interface InstanceControl {
  /** R in force. */
  instances(): number;
  /** Ask for R = n; applied through the protocol's own log, at the same point on every replica. */
  proposeInstances(n: number): ProposeResult;
}

export function hasInstanceControl(core: object): core is InstanceControl {
  const c = core as Partial<InstanceControl>;
  return typeof c.instances === 'function' && typeof c.proposeInstances === 'function';
}

export interface CoreInit {
  readonly id: NodeId;
  /**
   * Bootstrap membership: the configuration in force before the first log entry. Used whenever the
   * durable state holds no snapshot, so pass the same value again on restart. A replica joining an
   * existing cluster may pass an empty membership and learn the configuration from the leader.
   */
  readonly membership: Membership;
  readonly rng: Rng;
  /** Durable state recovered by the host; empty for a fresh replica. */
  readonly durable: readonly GroupDurableState[];
}

/** Serialises a protocol's messages for the network transport. */
export interface MessageCodec<M> {
  encode(msg: M): Uint8Array;
  /** Throws a descriptive Error on malformed input; the transport counts and drops such frames. */
  decode(bytes: Uint8Array): M;
}

/**
 * What a plug-in protocol provides. The simulator, the replica runtime and the CLI accept any
 * ProtocolFactory; `verdant sim --protocol NAME` looks it up in the protocol registry.
 */
export interface ProtocolFactory<M extends Envelope, O = Record<string, unknown>> {
  readonly name: string;
  create(init: CoreInit, options?: Partial<O>): ProtocolCore<M>;
  readonly codec: MessageCodec<M>;
  /**
   * Optional: the deliberately broken variants `create(init, { bugs: [name] })` accepts, so tools
   * (`verdant sim --inject-bug`) can list and check names without building a core.
   */
  readonly bugs?: readonly string[];
  /** Optional: a one-line human-readable rendering of a message, for traces and logs. */
  describe?(msg: M): string;
}
