// The state-machine contract between the replica (or the simulator) and a replicated service.
//
// Two layers:
//   - StateMachine: what the replica and the simulator call. It takes committed log entries as they
//     come out of any protocol (single Raft: log index; multi-Raft: the sequencer's merged global
//     index), plus opaque query bytes, and produces opaque result bytes. It owns the generic parts:
//     batch decoding, client sessions (exactly-once writes), the snapshot container and checksums.
//   - Service: what a user implements to plug in their own service (the KV store is one). It sees
//     one command body at a time, already deduplicated, and writes a result body.
// `ServiceStateMachine` (service-state-machine.ts) turns any Service into a StateMachine.
import type { EntryType } from '../protocols/api.js';
import type { ByteReader, ByteWriter } from '../common/bytes.js';

/** A committed entry as the protocol core delivers it. `Entry` from protocols/api.ts fits as is. */
export interface CommittedEntry {
  /** Position in the protocol's output sequence; strictly increasing across apply calls. */
  readonly index: number;
  /** Ignored by the state machine; present so protocol Entries pass as they are. */
  readonly term?: number;
  readonly type: EntryType;
  /** For Normal entries: a command batch (envelope.ts). Other types carry no command. */
  readonly data: Uint8Array;
}

/** The result of one client command inside a committed entry. */
export interface CommandOutcome {
  /** Output index of the entry that carried the command. */
  readonly index: number;
  /** Position of the command within its entry's batch (0-based). */
  readonly position: number;
  /** The command's client id (0 for session-less commands and OpenSession). */
  readonly client: number;
  /** The command's sequence number (a nonce for session-less commands and OpenSession). */
  readonly seq: number;
  /** Encoded result envelope (envelope.ts: decodeResult). */
  readonly result: Uint8Array;
  /** True when this is a retry answered from the session cache: nothing was applied. */
  readonly duplicate: boolean;
}

export const Consistency = {
  /** Serve only after a ReadIndex round confirmed the read point (the replica's job). */
  Linearizable: 0,
  /** Serve from whatever this replica has applied; may be behind. */
  Stale: 1,
} as const;
export type Consistency = (typeof Consistency)[keyof typeof Consistency];

/** A stream of snapshot bytes that also says which output index it covers. */
export interface SnapshotStream extends AsyncIterable<Uint8Array> {
  /** The state machine's appliedIndex when snapshot() was called: the image is of that state. */
  readonly index: number;
}

export interface RestoreInfo {
  readonly index: number;
  readonly bytes: number;
  readonly service: string;
}

export interface StateMachineStats {
  readonly appliedIndex: number;
  readonly sessions: number;
  /** Deterministic clock: the largest batch timestamp applied (ms since the epoch, or 0). */
  readonly clockMs: number;
  readonly counters: Readonly<Record<string, number>>;
  readonly service: Readonly<Record<string, number>>;
}

/**
 * What the replica and the simulator call.
 *
 * Threading: single-threaded; apply/query/snapshot are synchronous (snapshot() captures the image
 * synchronously and streams it lazily). Never call apply() while restore() is pending.
 *
 * Determinism: the outcome of apply() and the snapshot bytes depend only on the sequence of
 * entries applied (and restored snapshots), never on clocks, randomness or chunking.
 */
export interface StateMachine {
  /** Highest output index applied (0 for a fresh state machine). */
  readonly appliedIndex: number;

  /**
   * Apply committed entries in order. Entries at or below appliedIndex are ignored (counted as
   * `staleEntries`). Non-Normal entries and Normal entries with empty data only advance
   * appliedIndex. A Normal entry must hold a command batch; a malformed batch is not applied and
   * yields one outcome with position -1 and a Malformed result (all replicas agree on that).
   * Returns one outcome per command, in log order.
   */
  apply(entries: readonly CommittedEntry[]): CommandOutcome[];

  /**
   * Execute a read against the applied state. `q` is a query envelope (envelope.ts); its
   * consistency byte is for the replica's routing (readQueryConsistency): the state machine just
   * answers. Never throws on bad input: returns a Malformed result.
   */
  query(q: Uint8Array): Uint8Array;

  /**
   * Like query(), but the result is a view into an internal buffer, valid only until the next
   * call to query, queryView or apply. Saves an allocation and a copy when the caller copies the
   * answer into an outgoing frame right away (a 1 KB get result is an off-heap allocation).
   */
  queryView(q: Uint8Array): Uint8Array;

  /**
   * Capture the current state now (synchronously) and stream it. Applies made while the stream is
   * being consumed do not change its content. Consume it to the end or call `return()` on its
   * iterator; an abandoned stream costs memory until then.
   */
  snapshot(): SnapshotStream;

  /**
   * Replace the whole state with a snapshot's. The input may be chunked arbitrarily. The stream is
   * verified (checksums, structure) while it is read; on any error the current state is left
   * untouched and the promise rejects with SnapshotError naming the byte offset.
   */
  restore(stream: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<RestoreInfo>;

  /** A fingerprint of the replicated state (SHA-256 of the snapshot bytes). Equal on replicas that
   *  applied the same entries. For checkers and tests; O(state size). */
  digest(): Promise<string>;

  stats(): StateMachineStats;
}

/** Per-command context handed to Service.apply. Reused between calls: do not keep it. */
export interface ApplyContext {
  readonly index: number;
  readonly position: number;
  /** The batch's leader-assigned timestamp (deterministic; the same on every replica). */
  readonly timestampMs: number;
  readonly client: number;
  readonly seq: number;
}

/** A service snapshot image: records produced lazily from a view captured at snapshot() time. */
export type ServiceSnapshotRecords = Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

/** Rebuilds a service from the records its snapshot produced, aside from the live state. */
export interface ServiceRestorer {
  /** One record exactly as the snapshot yielded it. Throw (DecodeError or Error) if invalid. */
  push(record: Uint8Array): void | Promise<void>;
  /** Called after the last record; throw if the image is incomplete. */
  finish(): void;
  /** Make the rebuilt state live. Called only after the whole stream has been verified. */
  commit(): void;
}

/**
 * A pluggable replicated service. Implementations must be deterministic: the same commands in the
 * same order give the same state and results on every replica (no clocks, randomness, iteration
 * over unordered hash-seeded structures, or floating-point differences across platforms).
 */
export interface Service {
  /** Written into snapshots; restore refuses a snapshot of another service. */
  readonly name: string;

  /**
   * Apply one command body (already deduplicated by the session layer) and write the result body
   * into `out`. On malformed input throw a DecodeError *before* changing any state: the command is
   * then answered with a Malformed result and not applied. Any other exception is treated as a bug
   * and propagates: the replica must stop, since replicas may now disagree.
   */
  apply(cmd: ByteReader<Buffer>, out: ByteWriter, ctx: ApplyContext): void;

  /** Answer a read. Throw DecodeError on malformed input. Must not change state. */
  query(q: ByteReader<Buffer>, out: ByteWriter): void;

  /** Capture a consistent image now and return its records (each ≤ 64 MiB). */
  snapshot(): ServiceSnapshotRecords;

  /** Start rebuilding from a snapshot. */
  restorer(): ServiceRestorer;

  /** Numbers for status pages and the controller. */
  stats(): Record<string, number>;
}
