// Internal messages between the coordinator (ActorRuntime, main thread) and executors.
//
// Data between executors travels in batches over one MessagePort per executor pair. A batch is a
// flat array of 4-slot records `to, from, seq, payload` (numbers are actor indices), so one
// postMessage carries many messages with no per-message wrapper object. `to = -1` marks a
// runtime record (an actor being handed over, or a link being closed).
import type { ActorKind, ActorStats, ExecutorStats, FaultReport, SpawnSpec } from './types.js';
import type { MessagePort } from 'node:worker_threads';

export const REC = 4;
export const CTL_RECORD = -1;
/** Sequence number of messages that need no pair ordering (timers, runtime-internal). */
export const NO_SEQ = -1;

export interface TimerSnap {
  readonly key: string;
  /** Absolute monoMs() deadline of the next firing. */
  readonly deadline: number;
  /** Repeat period in ms, 0 for one-shot. */
  readonly interval: number;
  readonly msg: unknown;
}

/** Everything an actor carries from one executor to another. */
export interface ActorSnap {
  readonly idx: number;
  readonly id: string;
  readonly kind: ActorKind;
  readonly args: unknown;
  readonly state: unknown;
  readonly hasState: boolean;
  readonly timers: readonly TimerSnap[];
  /** Undelivered messages, alternating sender index and payload. */
  readonly mailbox: readonly unknown[];
  readonly inSeq: readonly (readonly [number, number])[];
  readonly outSeq: readonly (readonly [number, number])[];
  /** Out-of-order messages held for FIFO: [from, seq, payload, isSkip]. */
  readonly held: readonly (readonly [number, number, unknown, boolean])[];
  readonly counters: CellCounters;
  readonly detachedAt: number;
}

export interface CellCounters {
  msgsIn: number;
  msgsOut: number;
  handlerMs: number;
  faults: number;
  restarts: number;
  migrations: number;
  restartTimes: number[];
}

export type DataCtl =
  | { readonly t: 'adopt'; readonly snap: ActorSnap; readonly from: number }
  | { readonly t: 'fin'; readonly from: number }
  /** A message that could not be cloned: consume its sequence number, deliver nothing. */
  | { readonly t: 'skip'; readonly to: number; readonly from: number; readonly seq: number };

export interface DirEntry {
  readonly idx: number;
  readonly id: string;
  readonly executor: number;
}

/** Coordinator → executor requests; every one gets exactly one reply. */
export type CtlRequest =
  | { readonly t: 'link'; readonly peer: number; readonly port: MessagePort }
  | { readonly t: 'dir'; readonly entries: readonly DirEntry[] }
  | { readonly t: 'gone'; readonly idx: readonly number[] }
  | { readonly t: 'route'; readonly entries: readonly (readonly [number, number])[] }
  | { readonly t: 'create'; readonly idx: number; readonly spec: SpawnSpec }
  | { readonly t: 'preload'; readonly kinds: readonly ActorKind[] }
  | { readonly t: 'expect'; readonly idx: number; readonly kind: ActorKind | null }
  | { readonly t: 'migrate'; readonly idx: number; readonly to: number }
  | { readonly t: 'stop'; readonly idx: number }
  | { readonly t: 'pin'; readonly cpus: readonly number[] | null }
  | { readonly t: 'fin-to'; readonly peer: number }
  | { readonly t: 'await-fins'; readonly from: readonly number[] }
  | { readonly t: 'unlink'; readonly peer: number }
  | { readonly t: 'stats' }
  | { readonly t: 'info' };

export interface PinReply {
  readonly ok: boolean;
  readonly error?: string;
  readonly cpusAllowed: string | null;
}

export interface InfoReply {
  readonly index: number;
  readonly threadId: number;
  readonly tid: number | null;
  readonly cpusAllowed: string | null;
  readonly actors: readonly number[];
}

export interface StatsReply {
  readonly executor: ExecutorStats;
  readonly actors: readonly ActorStats[];
}

/** Executor → coordinator events, outside the request/reply flow. */
export type CtlEvent =
  | { readonly t: 'adopted'; readonly idx: number; readonly pauseMs: number; readonly from: number }
  | { readonly t: 'fault'; readonly idx: number; readonly report: FaultReport };

export type WorkerInbound = { readonly rid: number; readonly req: CtlRequest };
export type WorkerOutbound =
  | { readonly rid: number; readonly ok: true; readonly value: unknown }
  | { readonly rid: number; readonly ok: false; readonly error: string }
  | { readonly ev: CtlEvent }
  | { readonly ready: InfoReply & { readonly pin: PinReply } };
