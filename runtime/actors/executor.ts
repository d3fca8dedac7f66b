// An executor runs actors on one thread (a worker thread, or the main thread as executor 0).
//
// Routing: every executor holds the directory (actor id → index) and a location table (index →
// executor). A message to an actor on this thread goes straight into its mailbox; otherwise it is
// appended to the outgoing batch for the executor the table names, and batches are flushed once
// per microtask checkpoint (so a whole scheduling slice goes out as one postMessage per peer).
//
// Exactly-once FIFO per sender–receiver pair: each sender numbers its messages per receiver and
// each receiver delivers them in number order, holding early arrivals back and dropping repeats.
// Messages may then take any path — direct, forwarded by an executor the receiver has left,
// parked at the destination until the receiver arrives — and still arrive once and in order. The
// counters move with the actors, so this holds while senders, receivers or both migrate.
import { performance } from 'node:perf_hooks';
import type { MessagePort, TransferListItem } from 'node:worker_threads';
import { threadId as nodeThreadId } from 'node:worker_threads';
import { Packr, Unpackr } from 'msgpackr';
import { monoMs } from './clock.js';
import { kindName, loadDefinition } from './define.js';
import { Fifo } from './fifo.js';
import { pinCurrentThread, readCpusAllowed, readThreadCpuMs } from './pinning.js';
import type { Actor, ActorContext, ActorDefinition, ActorKind, ActorStats, ExecutorStats, FaultReport, SpawnSpec, Transfer } from './types.js';
import { CTL_RECORD, NO_SEQ, REC } from './wire.js';
import type { ActorSnap, CellCounters, CtlEvent, CtlRequest, DataCtl, DirEntry, InfoReply, PinReply, StatsReply, TimerSnap } from './wire.js';

/**
 * Stands in for a message that could not be cloned: it consumes its sequence number so the pair
 * does not stall on a gap, and is never delivered. Identity-compared, so it never leaves a thread
 * as an object: across threads it travels as a `skip` runtime record.
 */
const SKIP: object = Object.freeze({ skip: true });

/** Messages a cell handles before the scheduler moves to the next one. */
const BURST = 256;
/** A scheduling slice yields to the event loop (I/O, timers, incoming batches) after this long. */
const SLICE_MS = 4;
/** Flush an outgoing batch early once it holds this many slots (REC per message). */
const MAX_BATCH_SLOTS = 4096 * REC;

interface TimerEntry {
  deadline: number;
  interval: number;
  msg: unknown;
  handle: NodeJS.Timeout;
}

/** A locally defined actor (inline factory), only ever on the main thread. */
export interface LocalFactory {
  readonly create: (ctx: ActorContext) => Actor;
  readonly def: ActorDefinition;
}

class Cell {
  actor!: Actor;
  ctx!: ActorContext;
  readonly mailbox = new Fifo<unknown>();
  busy = false;
  queued = false;
  gone = false;
  stopRequested = false;
  migrateTo = -1;
  migrateDone: ((ok: boolean) => void) | null = null;
  outSeq = new Map<number, number>();
  inSeq = new Map<number, number>();
  held = new Map<number, Map<number, unknown>>();
  heldCount = 0;
  timers = new Map<string, TimerEntry>();
  counters: CellCounters = { msgsIn: 0, msgsOut: 0, handlerMs: 0, faults: 0, restarts: 0, migrations: 0, restartTimes: [] };

  constructor(
    readonly idx: number,
    readonly id: string,
    readonly kind: ActorKind | null,
    readonly args: unknown,
    readonly def: ActorDefinition,
  ) {}
}

/**
 * How batches cross threads. `clone`: postMessage structured clone (exact structured-clone
 * semantics, SharedArrayBuffer shared, transfer lists honoured). `msgpack`: the batch is encoded
 * with msgpackr into one buffer that is transferred, not copied; faster for plain-data messages,
 * but Map arrives as a plain object and SharedArrayBuffer does not survive, so a batch that carries
 * a transfer list, or that msgpackr cannot encode, falls back to `clone`.
 */
export type BatchCodec = 'clone' | 'msgpack';

export interface ExecutorHooks {
  /** Sends an event to the coordinator. */
  emit(ev: CtlEvent): void;
  /** Local (inline) actor factories, main thread only. */
  localFactory?(idx: number): LocalFactory | undefined;
}

export class ExecutorCore {
  private readonly cells = new Map<number, Cell>();
  private readonly dir = new Map<string, number>();
  private readonly names: string[] = [];
  private readonly loc: number[] = [];
  /** Messages that arrived for an actor on its way here: from, seq, payload triples. */
  private readonly parked = new Map<number, unknown[]>();
  private readonly links = new Map<number, MessagePort>();
  private readonly out = new Map<number, unknown[]>();
  private readonly outTransfer = new Map<number, Transfer[]>();
  private readonly defs = new Map<string, ActorDefinition>();
  private readonly runQueue = new Fifo<Cell>();
  private drainScheduled = false;
  private flushScheduled = false;
  /** Executors that promised to send nothing more on their link to this one. */
  private readonly finsFrom = new Set<number>();
  private finWaiter: { from: readonly number[]; resolve: () => void } | null = null;
  private stopped = false;
  private running: Cell | null = null;
  private readonly stats = { msgsIn: 0, msgsOut: 0, forwarded: 0, heldBack: 0, deadLetters: 0, duplicatesDropped: 0, unsendable: 0, batchesOut: 0 };
  private readonly eluStart = performance.eventLoopUtilization();
  private eluPrev = performance.eventLoopUtilization();
  private util1s = 0;
  private readonly eluTimer: NodeJS.Timeout;
  private readonly packr = new Packr({ useRecords: true, moreTypes: true });
  private readonly unpackr = new Unpackr({ useRecords: true, moreTypes: true });

  constructor(
    readonly index: number,
    readonly tid: number | null,
    private readonly hooks: ExecutorHooks,
    private readonly codec: BatchCodec = 'clone',
  ) {
    this.eluTimer = setInterval(() => {
      const now = performance.eventLoopUtilization();
      this.util1s = performance.eventLoopUtilization(now, this.eluPrev).utilization;
      this.eluPrev = now;
    }, 1000);
    this.eluTimer.unref();
  }

  // ---------------------------------------------------------------- sending

  /** Sends on behalf of actor `fromIdx`, which must live here. */
  sendFrom(fromIdx: number, to: string, msg: unknown, transfer?: readonly Transfer[]): void {
    const cell = this.cells.get(fromIdx);
    if (!cell) throw new Error(`actor index ${fromIdx} does not live on executor ${this.index}`);
    this.sendFromCell(cell, to, msg, transfer);
  }

  private sendFromCell(cell: Cell, to: string, msg: unknown, transfer?: readonly Transfer[]): void {
    const idx = this.dir.get(to);
    if (idx === undefined || this.loc[idx] === -1) {
      this.stats.deadLetters++;
      return;
    }
    const seq = cell.outSeq.get(idx) ?? 0;
    cell.outSeq.set(idx, seq + 1);
    cell.counters.msgsOut++;
    this.stats.msgsOut++;
    this.route(idx, cell.idx, seq, msg, transfer);
  }

  private route(to: number, from: number, seq: number, payload: unknown, transfer?: readonly Transfer[]): void {
    const e = this.loc[to];
    if (e === this.index) {
      this.deliverHere(to, from, seq, payload);
    } else if (e === undefined || e < 0) {
      this.stats.deadLetters++;
    } else {
      this.append(e, to, from, seq, payload, transfer);
    }
  }

  private append(e: number, to: number, from: number, seq: number, payload: unknown, transfer?: readonly Transfer[]): void {
    let buf = this.out.get(e);
    if (!buf) this.out.set(e, (buf = []));
    buf.push(to, from, seq, payload);
    if (transfer && transfer.length > 0) {
      let tl = this.outTransfer.get(e);
      if (!tl) this.outTransfer.set(e, (tl = []));
      for (const t of transfer) tl.push(t);
    }
    if (buf.length >= MAX_BATCH_SLOTS) this.flushTo(e);
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(this.flushAll);
    }
  }

  private readonly flushAll = (): void => {
    this.flushScheduled = false;
    for (const e of this.out.keys()) this.flushTo(e);
  };

  private flushTo(e: number): void {
    const buf = this.out.get(e);
    if (!buf || buf.length === 0) return;
    const port = this.links.get(e);
    if (!port) {
      // No link yet (an executor still starting): keep the batch until the link arrives.
      return;
    }
    this.out.set(e, []);
    const tl = this.outTransfer.get(e);
    if (tl && tl.length > 0) {
      // A SharedArrayBuffer listed by the sender only forces structured clone (which shares it);
      // it is not transferable itself.
      this.outTransfer.set(e, []);
      const transfer = tl.filter((t): t is TransferListItem => !(t instanceof SharedArrayBuffer));
      this.postClone(port, buf, transfer.length > 0 ? transfer : undefined);
    } else if (this.codec === 'msgpack' && !hasRuntimeRecord(buf)) {
      let bytes: ArrayBuffer | null = null;
      try {
        const u8 = this.packr.pack(buf);
        bytes = u8.buffer.slice(u8.byteOffset, u8.byteOffset + u8.byteLength) as ArrayBuffer;
      } catch {
        bytes = null; // something msgpackr cannot encode: send this batch by structured clone
      }
      if (bytes) port.postMessage(bytes, [bytes]);
      else this.postClone(port, buf);
    } else {
      this.postClone(port, buf);
    }
    this.stats.batchesOut++;
  }

  /**
   * Posts a batch by structured clone. A payload that cannot be cloned (a function, a class with
   * private slots, ...) must not take the thread down: it is replaced by a `skip` record that
   * keeps the pair's sequence intact, and its sender faults (its fault policy decides what next).
   */
  private postClone(port: MessagePort, buf: unknown[], tl?: TransferListItem[]): void {
    try {
      port.postMessage(buf, tl);
      return;
    } catch (err) {
      if (!(err instanceof Error) || err.name !== 'DataCloneError') throw err;
    }
    for (let i = 0; i < buf.length; i += REC) {
      const to = buf[i] as number;
      if (to === CTL_RECORD) continue;
      try {
        structuredClone(buf[i + 3]);
        continue;
      } catch (err) {
        const from = buf[i + 1] as number;
        const seq = buf[i + 2] as number;
        buf[i] = CTL_RECORD;
        buf[i + 3] = { t: 'skip', to, from, seq } satisfies DataCtl;
        this.stats.unsendable++;
        const cell = this.cells.get(from);
        const why = new Error(`message to '${this.names[to] ?? `#${to}`}' is not structured-cloneable: ${err instanceof Error ? err.message : String(err)}`);
        // Not synchronously: the sender may be in the middle of its receive().
        if (cell) queueMicrotask(() => this.fault(cell, why));
      }
    }
    try {
      port.postMessage(buf, tl);
    } catch {
      // Still refused (a transfer list problem): skip every message of the batch, keep the
      // runtime records.
      for (let i = 0; i < buf.length; i += REC) {
        if (buf[i] === CTL_RECORD) continue;
        buf[i + 3] = { t: 'skip', to: buf[i] as number, from: buf[i + 1] as number, seq: buf[i + 2] as number } satisfies DataCtl;
        buf[i] = CTL_RECORD;
        this.stats.unsendable++;
      }
      port.postMessage(buf);
    }
  }

  // ---------------------------------------------------------------- receiving

  private readonly onBatch = (data: unknown[] | ArrayBuffer): void => {
    const batch = data instanceof ArrayBuffer ? (this.unpackr.unpack(new Uint8Array(data)) as unknown[]) : data;
    for (let i = 0; i < batch.length; i += REC) {
      const to = batch[i] as number;
      if (to === CTL_RECORD) this.onDataCtl(batch[i + 3] as DataCtl);
      else this.deliverHere(to, batch[i + 1] as number, batch[i + 2] as number, batch[i + 3]);
    }
    // Run the receivers now rather than on the next turn: the batch's objects die young, and the
    // replies go out in the same flush. drain() is time-sliced, so this cannot starve the loop.
    if (this.runQueue.length > 0 && this.running === null) this.drain();
  };

  private deliverHere(to: number, from: number, seq: number, payload: unknown): void {
    const cell = this.cells.get(to);
    if (cell) {
      this.accept(cell, from, seq, payload);
      return;
    }
    const park = this.parked.get(to);
    if (park) {
      park.push(from, seq, payload);
      return;
    }
    const e = this.loc[to];
    if (e !== undefined && e >= 0 && e !== this.index) {
      this.stats.forwarded++;
      if (payload === SKIP) this.append(e, CTL_RECORD, this.index, NO_SEQ, { t: 'skip', to, from, seq } satisfies DataCtl);
      else this.append(e, to, from, seq, payload);
    } else {
      this.stats.deadLetters++;
    }
  }

  private accept(cell: Cell, from: number, seq: number, payload: unknown): void {
    if (seq === NO_SEQ) {
      this.enqueue(cell, from, payload);
      return;
    }
    const expected = cell.inSeq.get(from) ?? 0;
    if (seq === expected) {
      cell.inSeq.set(from, expected + 1);
      this.enqueue(cell, from, payload);
      if (cell.heldCount > 0) this.releaseHeld(cell, from);
    } else if (seq > expected) {
      let h = cell.held.get(from);
      if (!h) cell.held.set(from, (h = new Map()));
      if (h.has(seq)) this.stats.duplicatesDropped++;
      else {
        h.set(seq, payload);
        cell.heldCount++;
        this.stats.heldBack++;
      }
    } else {
      this.stats.duplicatesDropped++;
    }
  }

  private releaseHeld(cell: Cell, from: number): void {
    const h = cell.held.get(from);
    if (!h) return;
    let next = cell.inSeq.get(from) ?? 0;
    while (h.has(next)) {
      const p = h.get(next);
      h.delete(next);
      cell.heldCount--;
      this.enqueue(cell, from, p);
      next++;
    }
    cell.inSeq.set(from, next);
    if (h.size === 0) cell.held.delete(from);
  }

  private enqueue(cell: Cell, from: number, payload: unknown): void {
    if (payload === SKIP) return;
    cell.mailbox.push(from);
    cell.mailbox.push(payload);
    this.stats.msgsIn++;
    this.schedule(cell);
  }

  private schedule(cell: Cell): void {
    if (cell.queued || cell.busy || cell.gone) return;
    cell.queued = true;
    this.runQueue.push(cell);
    if (!this.drainScheduled) {
      this.drainScheduled = true;
      setImmediate(this.drain);
    }
  }

  // ---------------------------------------------------------------- scheduling

  private readonly drain = (): void => {
    this.drainScheduled = false;
    const t0 = performance.now();
    let cell: Cell | undefined;
    while ((cell = this.runQueue.shift()) !== undefined) {
      cell.queued = false;
      if (cell.gone || cell.busy) continue;
      this.runCell(cell);
      if (!cell.gone && !cell.busy && !cell.queued && cell.mailbox.length > 0) {
        cell.queued = true;
        this.runQueue.push(cell);
      }
      if (performance.now() - t0 > SLICE_MS) break;
    }
    if (this.runQueue.length > 0 && !this.drainScheduled) {
      this.drainScheduled = true;
      setImmediate(this.drain);
    }
  };

  private runCell(cell: Cell): void {
    const start = performance.now();
    const mb = cell.mailbox;
    this.running = cell;
    for (let n = 0; n < BURST && mb.length > 0; n++) {
      if (cell.stopRequested || cell.migrateTo >= 0) break;
      const from = mb.shift() as number;
      const payload = mb.shift();
      cell.counters.msgsIn++;
      let r: void | Promise<void>;
      try {
        r = cell.actor.receive(payload, this.names[from] ?? `#${from}`);
      } catch (err) {
        this.running = null;
        cell.counters.handlerMs += performance.now() - start;
        this.fault(cell, err);
        return;
      }
      if (r !== undefined && typeof (r as Promise<void>).then === 'function') {
        cell.busy = true;
        (r as Promise<void>).then(
          () => this.afterAsync(cell),
          (err: unknown) => {
            cell.busy = false;
            this.fault(cell, err);
          },
        );
        break;
      }
    }
    this.running = null;
    cell.counters.handlerMs += performance.now() - start;
    this.afterRun(cell);
  }

  private afterAsync(cell: Cell): void {
    cell.busy = false;
    if (cell.gone) return;
    this.afterRun(cell);
    if (!cell.gone && cell.mailbox.length > 0) this.schedule(cell);
  }

  /** Carries out a stop or migration requested while the actor was running. */
  private afterRun(cell: Cell): void {
    if (cell.busy || cell.gone) return;
    if (cell.stopRequested) this.stopCell(cell);
    else if (cell.migrateTo >= 0) this.detach(cell);
  }

  // ---------------------------------------------------------------- actors

  private makeContext(cell: Cell): ActorContext {
    const exec = this;
    return {
      id: cell.id,
      executor: this.index,
      send(to, msg, transfer) {
        if (cell.gone) throw new Error(`actor ${cell.id} is no longer on this thread; it cannot send from a stale context`);
        exec.sendFromCell(cell, to, msg, transfer);
      },
      setTimer(key, delayMs, msg, opts) {
        if (cell.gone) return;
        exec.armTimer(cell, key, monoMs() + Math.max(0, delayMs), opts?.repeat ? Math.max(1, delayMs) : 0, msg);
      },
      cancelTimer(key) {
        const t = cell.timers.get(key);
        if (!t) return false;
        clearTimeout(t.handle);
        cell.timers.delete(key);
        return true;
      },
      now: monoMs,
      stopSelf() {
        cell.stopRequested = true;
        if (!cell.busy && !exec.isRunning(cell)) exec.stopCell(cell);
      },
    };
  }

  private isRunning(cell: Cell): boolean {
    return this.running === cell;
  }

  private armTimer(cell: Cell, key: string, deadline: number, interval: number, msg: unknown): void {
    const old = cell.timers.get(key);
    if (old) clearTimeout(old.handle);
    const entry: TimerEntry = { deadline, interval, msg, handle: undefined as unknown as NodeJS.Timeout };
    const fire = (): void => {
      if (cell.gone || cell.timers.get(key) !== entry) return;
      if (entry.interval > 0) {
        entry.deadline += entry.interval;
        entry.handle = setTimeout(fire, Math.max(0, entry.deadline - monoMs()));
      } else {
        cell.timers.delete(key);
      }
      this.enqueue(cell, cell.idx, entry.msg);
    };
    entry.handle = setTimeout(fire, Math.max(0, deadline - monoMs()));
    cell.timers.set(key, entry);
  }

  private clearTimers(cell: Cell): TimerSnap[] {
    const snaps: TimerSnap[] = [];
    for (const [key, t] of cell.timers) {
      clearTimeout(t.handle);
      snaps.push({ key, deadline: t.deadline, interval: t.interval, msg: t.msg });
    }
    cell.timers.clear();
    return snaps;
  }

  private instantiate(cell: Cell): void {
    cell.ctx = this.makeContext(cell);
    if (cell.kind === null) {
      const lf = this.hooks.localFactory?.(cell.idx);
      if (!lf) throw new Error(`no local factory for actor ${cell.id}`);
      cell.actor = lf.create(cell.ctx);
    } else {
      cell.actor = cell.def.create(cell.ctx, cell.args);
    }
  }

  private definitionFor(kind: ActorKind | null, idx: number): ActorDefinition {
    if (kind === null) {
      const lf = this.hooks.localFactory?.(idx);
      if (!lf) throw new Error(`actor index ${idx} is local to the main thread`);
      return lf.def;
    }
    const def = this.defs.get(kindName(kind));
    if (!def) throw new Error(`actor kind ${kindName(kind)} is not loaded on executor ${this.index}`);
    return def;
  }

  private async preload(kinds: readonly ActorKind[]): Promise<void> {
    for (const k of kinds) {
      const name = kindName(k);
      if (!this.defs.has(name)) this.defs.set(name, await loadDefinition(k));
    }
  }

  private create(idx: number, spec: SpawnSpec): void {
    const def = this.definitionFor(spec.kind.module === '' ? null : spec.kind, idx);
    const cell = new Cell(idx, spec.id, spec.kind.module === '' ? null : spec.kind, spec.args, def);
    this.instantiate(cell);
    this.install(cell);
  }

  private install(cell: Cell): void {
    this.cells.set(cell.idx, cell);
    this.loc[cell.idx] = this.index;
    const park = this.parked.get(cell.idx);
    this.parked.delete(cell.idx);
    if (park) for (let i = 0; i < park.length; i += 3) this.accept(cell, park[i] as number, park[i + 1] as number, park[i + 2]);
    if (cell.mailbox.length > 0) this.schedule(cell);
  }

  private stopCell(cell: Cell): void {
    if (cell.gone) return;
    cell.gone = true;
    this.clearTimers(cell);
    try {
      cell.actor.onStop?.();
    } catch {
      /* an actor that fails while stopping is stopped anyway */
    }
    this.stats.deadLetters += cell.mailbox.length / 2 + cell.heldCount;
    this.cells.delete(cell.idx);
    this.loc[cell.idx] = -1;
    cell.migrateDone?.(false);
    cell.migrateDone = null;
  }

  private fault(cell: Cell, err: unknown): void {
    cell.counters.faults++;
    const error = err instanceof Error ? err.message : String(err);
    const stack = err instanceof Error ? err.stack : undefined;
    const policy = cell.def.options.faults ?? { kind: 'escalate' as const };
    if (policy.kind === 'restart' && !cell.gone) {
      const now = monoMs();
      const windowMs = policy.windowMs ?? 10_000;
      const max = policy.maxRestarts ?? 3;
      cell.counters.restartTimes = cell.counters.restartTimes.filter((t) => now - t < windowMs);
      if (cell.counters.restartTimes.length < max) {
        cell.counters.restartTimes.push(now);
        cell.counters.restarts++;
        this.clearTimers(cell);
        try {
          cell.actor.onStop?.();
        } catch {
          /* replaced anyway */
        }
        try {
          this.instantiate(cell);
          this.reportFault(cell, error, stack, 'restarted');
          if (cell.stopRequested) this.stopCell(cell);
          else if (cell.migrateTo >= 0) this.detach(cell);
          else if (cell.mailbox.length > 0) this.schedule(cell);
          return;
        } catch (err2) {
          this.stopCell(cell);
          this.reportFault(cell, `${error}; restart failed: ${err2 instanceof Error ? err2.message : String(err2)}`, stack, 'stopped');
          return;
        }
      }
    }
    this.stopCell(cell);
    this.reportFault(cell, error, stack, 'stopped');
  }

  private reportFault(cell: Cell, error: string, stack: string | undefined, action: FaultReport['action']): void {
    const report: FaultReport = { kind: 'actor', actor: cell.id, executor: this.index, error, ...(stack ? { stack } : {}), action };
    this.hooks.emit({ t: 'fault', idx: cell.idx, report });
  }

  // ---------------------------------------------------------------- migration

  private detach(cell: Cell): void {
    const to = cell.migrateTo;
    cell.migrateTo = -1;
    const detachedAt = monoMs();
    let state: unknown;
    let hasState = false;
    try {
      if (cell.actor.snapshot) {
        state = cell.actor.snapshot();
        hasState = true;
      }
    } catch (err) {
      // A snapshot that throws is a fault of the actor; it stays here.
      const done = cell.migrateDone;
      cell.migrateDone = null;
      this.fault(cell, err);
      done?.(false);
      return;
    }
    const timers = this.clearTimers(cell);
    try {
      cell.actor.onStop?.();
    } catch {
      /* leaving anyway */
    }
    cell.gone = true;
    const held: [number, number, unknown, boolean][] = [];
    for (const [from, h] of cell.held) for (const [seq, p] of h) held.push(p === SKIP ? [from, seq, null, true] : [from, seq, p, false]);
    cell.counters.migrations++;
    const snap: ActorSnap = {
      idx: cell.idx,
      id: cell.id,
      kind: cell.kind!,
      args: cell.args,
      state,
      hasState,
      timers,
      mailbox: cell.mailbox.drain(),
      inSeq: [...cell.inSeq],
      outSeq: [...cell.outSeq],
      held,
      counters: cell.counters,
      detachedAt,
    };
    this.cells.delete(cell.idx);
    this.loc[cell.idx] = to;
    this.append(to, CTL_RECORD, this.index, NO_SEQ, { t: 'adopt', snap, from: this.index } satisfies DataCtl);
    this.flushTo(to);
    const done = cell.migrateDone;
    cell.migrateDone = null;
    done?.(true);
  }

  private adopt(snap: ActorSnap, from: number): void {
    const def = this.definitionFor(snap.kind, snap.idx);
    const cell = new Cell(snap.idx, snap.id, snap.kind, snap.args, def);
    // Rebuild with the literal's shape: a structured-cloned object has another hidden class, and
    // the per-message counter updates would turn polymorphic (and deoptimise) after every move.
    const c = snap.counters;
    cell.counters = { msgsIn: c.msgsIn, msgsOut: c.msgsOut, handlerMs: c.handlerMs, faults: c.faults, restarts: c.restarts, migrations: c.migrations, restartTimes: c.restartTimes };
    cell.inSeq = new Map(snap.inSeq);
    cell.outSeq = new Map(snap.outSeq);
    for (const [f, seq, p, skip] of snap.held) {
      let h = cell.held.get(f);
      if (!h) cell.held.set(f, (h = new Map()));
      h.set(seq, skip ? SKIP : p);
      cell.heldCount++;
    }
    for (let i = 0; i < snap.mailbox.length; i++) cell.mailbox.push(snap.mailbox[i]);
    try {
      this.instantiate(cell);
      if (snap.hasState) cell.actor.restore?.(snap.state);
    } catch (err) {
      this.cells.set(cell.idx, cell);
      this.loc[cell.idx] = this.index;
      this.parked.delete(cell.idx);
      this.fault(cell, err);
      this.hooks.emit({ t: 'adopted', idx: snap.idx, pauseMs: monoMs() - snap.detachedAt, from });
      return;
    }
    for (const t of snap.timers) this.armTimer(cell, t.key, t.deadline, t.interval, t.msg);
    this.install(cell);
    this.hooks.emit({ t: 'adopted', idx: snap.idx, pauseMs: monoMs() - snap.detachedAt, from });
  }

  private onDataCtl(c: DataCtl): void {
    if (c.t === 'adopt') this.adopt(c.snap, c.from);
    else if (c.t === 'skip') this.deliverHere(c.to, c.from, c.seq, SKIP);
    else {
      this.finsFrom.add(c.from);
      this.checkFins();
    }
  }

  private checkFins(): void {
    const w = this.finWaiter;
    if (w && w.from.every((e) => this.finsFrom.has(e))) {
      this.finWaiter = null;
      this.flushAll();
      w.resolve();
    }
  }

  // ---------------------------------------------------------------- control

  async handle(req: CtlRequest): Promise<unknown> {
    switch (req.t) {
      case 'link': {
        this.links.set(req.peer, req.port);
        this.finsFrom.delete(req.peer);
        req.port.on('message', this.onBatch);
        this.flushTo(req.peer);
        return true;
      }
      case 'unlink': {
        const port = this.links.get(req.peer);
        this.links.delete(req.peer);
        this.out.delete(req.peer);
        this.outTransfer.delete(req.peer);
        this.finsFrom.delete(req.peer);
        port?.close();
        return true;
      }
      case 'dir': {
        for (const d of req.entries) this.addDir(d);
        return true;
      }
      case 'gone': {
        for (const idx of req.idx) {
          if (this.cells.has(idx)) continue;
          this.loc[idx] = -1;
          const id = this.names[idx];
          if (id !== undefined && this.dir.get(id) === idx) this.dir.delete(id);
          const park = this.parked.get(idx);
          if (park) this.stats.deadLetters += park.length / 3;
          this.parked.delete(idx);
        }
        return true;
      }
      case 'route': {
        for (const [idx, e] of req.entries) {
          if (this.cells.has(idx) || this.parked.has(idx)) continue;
          this.loc[idx] = e;
        }
        return true;
      }
      case 'preload':
        await this.preload(req.kinds);
        return true;
      case 'create':
        if (req.spec.kind.module !== '') await this.preload([req.spec.kind]);
        this.create(req.idx, req.spec);
        return true;
      case 'expect': {
        if (req.kind) await this.preload([req.kind]);
        // Park what arrives here for it until it does, but keep routing local sends to where it
        // still runs: pointing them here would stall its input for the whole hand-over.
        if (!this.parked.has(req.idx)) this.parked.set(req.idx, []);
        return true;
      }
      case 'migrate':
        return this.requestMigration(req.idx, req.to);
      case 'stop': {
        const cell = this.cells.get(req.idx);
        if (!cell) return false;
        cell.stopRequested = true;
        if (!cell.busy && this.running !== cell) this.stopCell(cell);
        return true;
      }
      case 'pin': {
        const r: PinReply = await pinCurrentThread(req.cpus, this.tid);
        return r;
      }
      case 'fin-to': {
        this.append(req.peer, CTL_RECORD, this.index, NO_SEQ, { t: 'fin', from: this.index } satisfies DataCtl);
        this.flushTo(req.peer);
        return true;
      }
      case 'await-fins':
        await new Promise<void>((resolve) => {
          this.finWaiter = { from: req.from, resolve };
          this.checkFins();
        });
        return true;
      case 'stats':
        return this.collectStats();
      case 'info':
        return this.info();
    }
  }

  private addDir(d: DirEntry): void {
    const old = this.dir.get(d.id);
    if (old !== undefined && old !== d.idx && !this.cells.has(old)) this.loc[old] = -1;
    this.dir.set(d.id, d.idx);
    this.names[d.idx] = d.id;
    if (d.executor === this.index) {
      if (!this.cells.has(d.idx) && !this.parked.has(d.idx)) this.parked.set(d.idx, []);
      this.loc[d.idx] = this.index;
    } else if (!this.cells.has(d.idx) && !this.parked.has(d.idx)) {
      this.loc[d.idx] = d.executor;
    }
  }

  private requestMigration(idx: number, to: number): Promise<boolean> {
    const cell = this.cells.get(idx);
    if (!cell || cell.gone) return Promise.resolve(false);
    if (to === this.index) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      cell.migrateTo = to;
      cell.migrateDone = resolve;
      if (!cell.busy && this.running !== cell) this.detach(cell);
    });
  }

  info(): InfoReply {
    return {
      index: this.index,
      threadId: nodeThreadId,
      tid: this.tid,
      cpusAllowed: readCpusAllowed(this.tid),
      actors: [...this.cells.values()].filter((c) => !isInternalId(c.id)).map((c) => c.idx),
    };
  }

  collectStats(): StatsReply {
    let depth = 0;
    const actors: ActorStats[] = [];
    let hosted = 0;
    for (const c of this.cells.values()) {
      if (isInternalId(c.id)) continue;
      hosted++;
      const d = c.mailbox.length / 2 + c.heldCount;
      depth += d;
      actors.push({
        id: c.id,
        executor: this.index,
        msgsIn: c.counters.msgsIn,
        msgsOut: c.counters.msgsOut,
        handlerMs: c.counters.handlerMs,
        mailboxDepth: d,
        timersArmed: c.timers.size,
        faults: c.counters.faults,
        restarts: c.counters.restarts,
        migrations: c.counters.migrations,
      });
    }
    for (const p of this.parked.values()) depth += p.length / 3;
    const executor: ExecutorStats = {
      index: this.index,
      tid: this.tid,
      actors: hosted,
      ...this.stats,
      mailboxDepth: depth,
      utilization: performance.eventLoopUtilization(this.eluStart).utilization,
      utilization1s: this.util1s,
      threadCpuMs: readThreadCpuMs(this.tid),
    };
    return { executor, actors };
  }

  /** Clears timers and drops every link; used when the runtime shuts down. */
  shutdown(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.eluTimer);
    for (const c of [...this.cells.values()]) this.stopCell(c);
    for (const p of this.links.values()) p.close();
    this.links.clear();
  }
}

/** Runtime records (actor hand-over, link close) always travel by structured clone. */
function hasRuntimeRecord(buf: unknown[]): boolean {
  for (let i = 0; i < buf.length; i += REC) if (buf[i] === CTL_RECORD) return true;
  return false;
}

/** Ids starting with `$` belong to the runtime (`$external`, `$ask/N`) and are not reported. */
export function isInternalId(id: string): boolean {
  return id.startsWith('$');
}
