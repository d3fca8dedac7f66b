// The open-loop runner for one generator thread. Arrival times come from the profile alone
// (PoissonArrivals); a request is sent at its arrival time whether or not earlier ones have been
// answered, and its latency runs from that intended time. A slow server therefore shows up as
// latency and backlog, never as a politely lower offered rate (no coordinated omission).
import type { Histogram } from './hist.js';
import { newHistogram, recordUs } from './hist.js';
import { PoissonArrivals } from './arrivals.js';
import type { IntervalBucket } from './interval.js';
import { errorCode, newBucket } from './interval.js';
import type { OperationKind, Profile } from './profile/profile.js';
import { OPERATION_KINDS } from './profile/profile.js';
import type { LoadTarget } from './target.js';
import { SeededRng } from '../../runtime/protocols/rng.js';
import type { PlannedOp } from './workload.js';
import { Workload } from './workload.js';

export interface OpStats {
  count: number;
  errors: number;
  /** Errors of this operation by code, so a kind a target cannot do is named in the report. */
  errorCodes: Record<string, number>;
  hist: Histogram;
}

export interface EngineFinal {
  byOp: Record<OperationKind, OpStats>;
  /** How late requests left relative to their intended time (µs): the generator's own delay. */
  sendLag: Histogram;
  offered: number;
  sent: number;
  completed: number;
  /** Unanswered or never sent when the run stopped (only after an interrupt or a drain timeout). */
  abandoned: number;
  maxInFlight: number;
  maxQueued: number;
}

export interface EngineOptions {
  worker: number;
  workers: number;
  /** Wall-clock start of second 0 (ms since the epoch), shared by every thread. */
  startEpochMs: number;
  /** Receives each finished second; a second may be reported more than once (merge by index). */
  onInterval: (b: IntervalBucket) => void;
  /** After the last arrival, how long to wait for replies before giving up on them. */
  drainMs?: number;
}

const epochNowMs = () => performance.timeOrigin + performance.now();

export class OpenLoopEngine {
  private readonly profile: Profile;
  private readonly target: LoadTarget;
  private readonly opts: EngineOptions;
  private readonly arrivals: PoissonArrivals;
  private readonly workload: Workload;
  private readonly scanEnd: Buffer;
  private readonly buckets = new Map<number, IntervalBucket>();
  private readonly byOp: Record<OperationKind, OpStats>;
  private readonly sendLag = newHistogram();
  private readonly maxInFlight: number;
  private readonly maxQueue: number;
  // FIFO of intended times (s) waiting for a free in-flight slot.
  private queue = new Float64Array(1024);
  private qHead = 0;
  private qLen = 0;
  private inFlight = 0;
  private offered = 0;
  private sent = 0;
  private completed = 0;
  private peakInFlight = 0;
  private peakQueued = 0;
  private nextArrival: number | undefined;
  private flushedThrough = -1;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private finish: (() => void) | undefined;

  constructor(profile: Profile, target: LoadTarget, opts: EngineOptions) {
    this.profile = profile;
    this.target = target;
    this.opts = opts;
    const arrivalRng = new SeededRng((profile.seed ^ 0x5bd1e995) >>> 0);
    for (let i = 0; i < opts.worker; i++) arrivalRng.fork();
    this.arrivals = new PoissonArrivals(profile.phases, arrivalRng.fork(), 1 / opts.workers);
    this.workload = new Workload(profile, opts.worker, opts.workers);
    this.scanEnd = this.workload.keys.scanEnd();
    this.maxInFlight = profile.concurrency.max_in_flight;
    this.maxQueue = profile.concurrency.max_queue;
    this.byOp = Object.fromEntries(OPERATION_KINDS.map((k) => [k, { count: 0, errors: 0, errorCodes: {}, hist: newHistogram() }])) as Record<
      OperationKind,
      OpStats
    >;
  }

  get inFlightCount(): number {
    return this.inFlight + this.qLen;
  }

  private now(): number {
    return (epochNowMs() - this.opts.startEpochMs) / 1000;
  }

  private bucket(second: number): IntervalBucket {
    let b = this.buckets.get(second);
    if (!b) {
      b = newBucket(second);
      this.buckets.set(second, b);
    }
    return b;
  }

  /**
   * Stops scheduling new arrivals; run() then waits up to drainMs for replies and resolves. Calls
   * before run() has started make it end at once.
   */
  stop(drainMs?: number): void {
    if (drainMs !== undefined) this.stopDrainMs = drainMs;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.unsent += this.qLen; // queued arrivals were never sent: they are not waited for
    this.qLen = 0;
    this.maybeFinish();
  }

  async run(): Promise<EngineFinal> {
    const wait = this.opts.startEpochMs - epochNowMs();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    this.nextArrival = this.arrivals.next();
    const done = new Promise<void>((resolve) => {
      this.finish = resolve;
    });
    this.tick();
    if (this.stopped) this.maybeFinish();
    await done;
    // Whatever is still unanswered (or never left the queue) after the drain is abandoned, not
    // counted as an error: the report shows it separately.
    const abandoned = this.inFlight + this.qLen + this.unsent;
    this.flush(Number.POSITIVE_INFINITY);
    return {
      byOp: this.byOp,
      sendLag: this.sendLag,
      offered: this.offered,
      sent: this.sent,
      completed: this.completed,
      abandoned,
      maxInFlight: this.peakInFlight,
      maxQueued: this.peakQueued,
    };
  }

  private tick = (): void => {
    this.timer = undefined;
    if (this.stopped) return;
    const now = this.now();
    // Send everything that is due (a timer wakes us at most ~1 ms late; the lag is recorded).
    let next = this.nextArrival;
    while (next !== undefined && next <= now) {
      this.arrive(next);
      next = this.arrivals.next();
    }
    this.nextArrival = next;
    this.flush(next === undefined ? now : Math.min(now, next));
    if (next === undefined) {
      this.stopped = true;
      this.maybeFinish();
      return;
    }
    this.timer = setTimeout(this.tick, Math.max(0, (next - this.now()) * 1000 - 0.5));
  };

  private arrive(t: number): void {
    this.offered++;
    this.bucket(Math.floor(t)).offered++;
    if (this.inFlight < this.maxInFlight) {
      this.start(t);
      return;
    }
    if (this.qLen >= this.maxQueue) {
      // The generator's own backlog is full: record it as a failed request, visibly.
      this.fail(t, 'CLIENT_QUEUE_FULL', undefined);
      return;
    }
    if (this.qLen === this.queue.length) {
      const bigger = new Float64Array(this.queue.length * 2);
      for (let i = 0; i < this.qLen; i++) bigger[i] = this.queue[(this.qHead + i) % this.queue.length]!;
      this.queue = bigger;
      this.qHead = 0;
    }
    this.queue[(this.qHead + this.qLen) % this.queue.length] = t;
    this.qLen++;
    if (this.qLen > this.peakQueued) this.peakQueued = this.qLen;
  }

  private start(intended: number): void {
    const op = this.workload.next();
    const sentAt = this.now();
    recordUs(this.sendLag, (sentAt - intended) * 1e6);
    this.inFlight++;
    this.sent++;
    if (this.inFlight > this.peakInFlight) this.peakInFlight = this.inFlight;
    let p: Promise<unknown>;
    try {
      p = this.execute(op);
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      (outcome) => this.done(intended, op, outcome),
      (err: unknown) => this.fail(intended, errorCode(err), op),
    );
  }

  private execute(op: PlannedOp): Promise<unknown> {
    const t = this.target;
    switch (op.kind) {
      case 'read':
        return t.get(op.key, op.consistency);
      case 'write':
      case 'insert':
        return t.put(op.key, op.value!);
      case 'cas':
        // Read-modify-write (YCSB F): the value read is what the compare expects.
        return t.get(op.key, 'linearizable').then((cur) => t.cas(op.key, cur, op.value!));
      case 'scan':
        return t.scan(op.key, this.scanEnd, op.scanLength, op.consistency);
      case 'delete':
        return t.delete(op.key);
    }
  }

  private done(intended: number, op: PlannedOp, outcome: unknown): void {
    const now = this.now();
    const b = this.bucket(Math.floor(now));
    const us = (now - intended) * 1e6;
    recordUs(b.hist, us);
    b.completed++;
    if (op.kind === 'read' && outcome === undefined) b.notFound++;
    if (op.kind === 'cas' && outcome === false) b.casFailed++;
    const s = this.byOp[op.kind];
    s.count++;
    recordUs(s.hist, us);
    this.completeOne();
  }

  private fail(intended: number, code: string, op: PlannedOp | undefined): void {
    const now = this.now();
    const b = this.bucket(Math.floor(Math.max(now, intended)));
    b.completed++;
    b.errors++;
    b.errorCodes[code] = (b.errorCodes[code] ?? 0) + 1;
    if (op) {
      const s = this.byOp[op.kind];
      s.count++;
      s.errors++;
      s.errorCodes[code] = (s.errorCodes[code] ?? 0) + 1;
      this.completeOne();
    }
  }

  private completeOne(): void {
    this.inFlight--;
    this.completed++;
    if (this.qLen > 0) {
      // A slot is free: the oldest waiting arrival goes out; its latency still counts from its
      // intended time. (stop() empties the queue, so an interrupted run sends nothing more.)
      const t = this.queue[this.qHead]!;
      this.qHead = (this.qHead + 1) % this.queue.length;
      this.qLen--;
      this.start(t);
    }
    this.maybeFinish();
  }

  private drainTimer: NodeJS.Timeout | undefined;
  private stopDrainMs: number | undefined;
  private unsent = 0;

  private maybeFinish(): void {
    if (!this.stopped || !this.finish) return;
    if (this.inFlight === 0 && this.qLen === 0) {
      if (this.drainTimer) clearTimeout(this.drainTimer);
      const f = this.finish;
      this.finish = undefined;
      f();
      return;
    }
    if (!this.drainTimer) {
      const drainMs = this.stopDrainMs ?? this.opts.drainMs ?? this.profile.timeoutMs + 1000;
      this.drainTimer = setTimeout(() => {
        const f = this.finish;
        this.finish = undefined;
        f?.();
      }, drainMs);
    }
  }

  /** Reports every second that can no longer change (all its arrivals pulled, time passed). */
  private flush(through: number): void {
    const last = Number.isFinite(through) ? Math.floor(through) - 1 : Number.POSITIVE_INFINITY;
    if (last <= this.flushedThrough && Number.isFinite(last)) return;
    const keys = [...this.buckets.keys()].filter((s) => s <= last).sort((a, b) => a - b);
    for (const s of keys) {
      this.opts.onInterval(this.buckets.get(s)!);
      this.buckets.delete(s);
    }
    if (Number.isFinite(last)) this.flushedThrough = last;
  }
}
