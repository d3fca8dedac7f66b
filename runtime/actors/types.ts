import type { TransferListItem } from 'node:worker_threads';

// The actor contract and the shapes the runtime, its control API and the controller share.
//
// An actor is a unit of state that talks only by messages. It never learns which thread it runs
// on: senders address actor ids and the router finds the executor. That is what lets the
// controller remap actors across threads while they serve traffic.

/** What a send may list to move (or, for SharedArrayBuffer, to share) instead of copy. */
export type Transfer = TransferListItem | SharedArrayBuffer;

/** Actor ids are strings chosen by whoever spawns the actor (e.g. `raft/3`, `kv`, `wal`). */
export type ActorId = string;

/**
 * Where a worker thread finds an actor's code: an absolute file path or `file:` URL of an ES
 * module, and the name of an export made with `defineActor`. A worker `import()`s it, so the
 * code must not rely on state set up by the main thread.
 */
export interface ActorKind {
  readonly module: string;
  readonly export: string;
}

/** The runtime services an actor may use. A fresh context is handed over after every move. */
export interface ActorContext<M = unknown> {
  readonly id: ActorId;
  /** Index of the executor currently running the actor (0 = main thread). Informational only. */
  readonly executor: number;
  /**
   * Sends `msg` to actor `to`, wherever it lives. Delivery is exactly-once and FIFO per
   * sender-receiver pair, also while either side migrates. `msg` must be structured-cloneable;
   * `transfer` lists ArrayBuffers/ports to move instead of copy when the message crosses threads
   * (a transferred buffer is unusable by the sender afterwards, but stays usable when delivery
   * is local). List a SharedArrayBuffer there too when the message carries one: that makes the
   * batch go by structured clone, which shares it, also under the `msgpack` codec.
   */
  send(to: ActorId, msg: unknown, transfer?: readonly Transfer[]): void;
  /**
   * Arms timer `key` (replacing one with the same key): after `delayMs`, `msg` is delivered to
   * this actor's `receive` with `from` equal to its own id. Repeats every `delayMs` when `repeat`.
   * Timers move with the actor and fire exactly once per period, never on two threads.
   */
  setTimer(key: string, delayMs: number, msg: M, opts?: { readonly repeat?: boolean }): void;
  /** Disarms timer `key`; true when one was armed. */
  cancelTimer(key: string): boolean;
  /** Monotonic milliseconds, comparable across all threads of the process. */
  now(): number;
  /** Stops this actor after the current message; later messages to it become dead letters. */
  stopSelf(): void;
}

/**
 * One actor instance. `receive` may return a promise: the runtime then delivers the actor's next
 * message only after it settles, and migration waits for it too.
 */
export interface Actor<M = unknown, S = unknown> {
  receive(msg: M, from: ActorId): void | Promise<void>;
  /** State to carry to another thread; structured-cloneable. Without it the actor moves empty. */
  snapshot?(): S;
  /** Called right after construction on the destination thread with what snapshot() returned. */
  restore?(state: S): void;
  /** Called when the actor is stopped or before it leaves this thread: release local resources. */
  onStop?(): void;
}

/**
 * What happens when `receive` throws or rejects:
 *   - `escalate` (default): the actor is stopped and the runtime's `onFault` handler runs; the
 *     default handler logs the error and shuts the whole process down with exit code 70.
 *   - `restart`: the actor is re-created from its constructor args (fresh state, timers cleared)
 *     and keeps its id and mailbox; the message that threw is dropped. More than `maxRestarts`
 *     within `windowMs` escalates.
 */
export type FaultPolicy =
  | { readonly kind: 'escalate' }
  | { readonly kind: 'restart'; readonly maxRestarts?: number; readonly windowMs?: number };

export interface ActorOptions {
  /**
   * `main` pins the actor to the main thread: plans that move it are rejected. Use it for actors
   * that own sockets or other libuv handles, which cannot cross threads in Node.
   */
  readonly pinned?: 'main';
  readonly faults?: FaultPolicy;
}

export const ACTOR_DEFINITION = Symbol.for('verdant.actor-definition');

export interface ActorDefinition<A = unknown, M = unknown, S = unknown> {
  readonly [ACTOR_DEFINITION]: true;
  readonly create: (ctx: ActorContext<M>, args: A) => Actor<M, S>;
  readonly options: ActorOptions;
}

/** Everything needed to create an actor on any executor. */
export interface SpawnSpec<A = unknown> {
  readonly id: ActorId;
  readonly kind: ActorKind;
  /** Constructor args; structured-cloneable. */
  readonly args?: A;
  /** Executor index; default 0 (main thread). */
  readonly executor?: number;
}

/**
 * A remap request. Executor 0 is the main thread and always exists; `workers` worker-thread
 * executors are numbered 1..workers.
 */
export interface Plan {
  readonly workers: number;
  /**
   * CPU set per executor index ("0".."workers"). An executor left out keeps its current CPU set;
   * `null` unpins it (all online CPUs).
   */
  readonly cpus?: Readonly<Record<string, readonly number[] | null>>;
  /** Executor index per actor. Actors left out stay where they are (their executor must survive). */
  readonly placement?: Readonly<Record<ActorId, number>>;
}

export interface PinningCapability {
  readonly supported: boolean;
  /** Why pinning is not available (no koffi/libc, EPERM, ...). */
  readonly reason?: string;
}

export interface ExecutorInfo {
  readonly index: number;
  /** worker_threads threadId (0 for the main thread). */
  readonly threadId: number;
  /** Kernel thread id, or null when it cannot be read. */
  readonly tid: number | null;
  /** CPU set this runtime asked for; null = unpinned. */
  readonly cpus: readonly number[] | null;
  /** What the kernel reports (`Cpus_allowed_list`), or null when unknown. */
  readonly cpusAllowed: string | null;
  readonly pinned: boolean;
  readonly actors: readonly ActorId[];
}

export interface Topology {
  readonly pid: number;
  readonly onlineCpus: readonly number[];
  readonly pinning: PinningCapability;
  readonly executors: readonly ExecutorInfo[];
  readonly actors: Readonly<Record<ActorId, { readonly executor: number; readonly kind: string; readonly pinned: boolean }>>;
  readonly planVersion: number;
}

export interface ActorStats {
  readonly id: ActorId;
  readonly executor: number;
  readonly msgsIn: number;
  readonly msgsOut: number;
  /** Time spent inside receive() on the executor thread, ms (wall time while the handler runs). */
  readonly handlerMs: number;
  /** Messages waiting: mailbox plus out-of-order messages held back for FIFO. */
  readonly mailboxDepth: number;
  readonly timersArmed: number;
  readonly faults: number;
  readonly restarts: number;
  readonly migrations: number;
}

export interface ExecutorStats {
  readonly index: number;
  readonly tid: number | null;
  readonly actors: number;
  readonly msgsIn: number;
  readonly msgsOut: number;
  /** Messages that arrived for an actor that had moved on and were forwarded. */
  readonly forwarded: number;
  /** Messages that overtook an earlier one from the same sender and waited for it (FIFO). */
  readonly heldBack: number;
  readonly deadLetters: number;
  readonly duplicatesDropped: number;
  /** Messages that could not be cloned across threads (their senders faulted). */
  readonly unsendable: number;
  readonly batchesOut: number;
  readonly mailboxDepth: number;
  /** Event-loop utilisation (0..1) since the executor started and over the last second. */
  readonly utilization: number;
  readonly utilization1s: number;
  /** Kernel-accounted CPU time of the executor thread (utime+stime), ms; null when unknown. */
  readonly threadCpuMs: number | null;
}

export interface MigrationRecord {
  readonly actor: ActorId;
  readonly from: number;
  readonly to: number;
  /** From the moment the source stopped running the actor until the destination resumed it. */
  readonly pauseMs: number;
}

export interface RuntimeStats {
  readonly at: number;
  readonly executors: readonly ExecutorStats[];
  readonly actors: readonly ActorStats[];
  readonly migrations: { readonly total: number; readonly recent: readonly MigrationRecord[] };
  readonly faults: number;
}

export interface FaultReport {
  /** `actor`: a receive() threw; `executor`: a worker thread died (all its actors are lost). */
  readonly kind: 'actor' | 'executor';
  /** The actor that failed; for executor failures the first of the actors it hosted, or ''. */
  readonly actor: ActorId;
  readonly actors?: readonly ActorId[];
  readonly executor: number;
  readonly error: string;
  readonly stack?: string;
  /** What the runtime did: restarted the actor or stopped it and escalated. */
  readonly action: 'restarted' | 'stopped';
}
