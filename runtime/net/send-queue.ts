// A bounded, coalescing outbound queue for one socket.
//
// Frames are encoded straight into a pending ByteWriter. The first frame of a batch schedules a
// flush on setImmediate, so everything sent during one turn of the event loop leaves in a single
// socket.write. Writers are pooled and handed back when their write completes, so steady state
// allocates nothing per batch either.
//
// Bounds: `queuedBytes` = pending bytes + bytes handed to the socket whose write has not completed
// (they sit in Node's or the kernel's buffers). A frame that would push it past `maxQueueBytes` is
// refused (the caller counts the drop). When socket.write() returns false the queue stops writing
// until 'drain' and keeps accumulating (bounded) in the pending writer. Congestion is reported with
// hysteresis: on at `congestionBytes`, off again at a quarter of it.
import type { Socket } from 'node:net';
import { ByteWriter } from '../common/bytes.js';
import { FRAME_HEADER_BYTES, beginFrame } from './frame.js';

export interface SendQueueOptions {
  /** Hard bound on queued bytes; frames beyond it are refused. */
  readonly maxQueueBytes: number;
  /** Queued bytes at which the queue reports congestion. */
  readonly congestionBytes: number;
  /** Largest `length` field (kind + body) of one frame. */
  readonly maxFrameBytes: number;
  /** Flush right away once a batch reaches this many bytes instead of waiting for setImmediate. */
  readonly flushBytes: number;
  /** false: one socket.write per frame (the naive way; kept for side-by-side benchmarks). */
  readonly batching: boolean;
  readonly onCongestion?: (congested: boolean) => void;
}

export type CommitResult = 'ok' | 'too-large' | 'full';

const POOL_MAX = 4;

export class SendQueue {
  private pending: ByteWriter;
  private readonly pool: ByteWriter[] = [];
  private inFlight = 0;
  private needDrain = false;
  private flushScheduled = false;
  private closed = false;
  private congestedNow = false;
  private frameStart = -1;
  /** Batches written (socket.write calls). */
  writes = 0;
  lastWriteAt = 0;

  constructor(
    private readonly socket: Socket,
    private readonly opts: SendQueueOptions,
  ) {
    this.pending = new ByteWriter(Math.min(64 * 1024, opts.flushBytes));
    socket.on('drain', () => {
      this.needDrain = false;
      if (this.pending.pos > 0) this.flush();
    });
  }

  get queuedBytes(): number {
    return this.inFlight + this.pending.pos;
  }

  /** True when not even an empty frame would fit: callers may skip encoding. */
  get full(): boolean {
    return this.closed || this.queuedBytes + FRAME_HEADER_BYTES + 1 > this.opts.maxQueueBytes;
  }

  get congested(): boolean {
    return this.congestedNow;
  }

  /**
   * Starts a frame and returns the writer to encode its body into. Must be followed by commit()
   * before any other call on this queue.
   */
  begin(kind: number): ByteWriter {
    if (this.frameStart !== -1) throw new Error('SendQueue.begin() while a frame is open');
    this.frameStart = beginFrame(this.pending, kind);
    return this.pending;
  }

  /** Ends the frame begun by begin(): keeps it, or rolls it back if it is too large or the queue is full. */
  commit(): CommitResult {
    const start = this.frameStart;
    this.frameStart = -1;
    const w = this.pending;
    const len = w.pos - start - FRAME_HEADER_BYTES;
    if (len > this.opts.maxFrameBytes) {
      w.pos = start;
      return 'too-large';
    }
    if (this.closed || this.inFlight + w.pos > this.opts.maxQueueBytes) {
      w.pos = start;
      return 'full';
    }
    w.patchU32(start, len);
    if (!this.opts.batching) {
      this.writeUnbatched();
    } else if (w.pos >= this.opts.flushBytes) {
      if (!this.needDrain) this.flush();
    } else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushFromImmediate);
    }
    this.updateCongestion();
    return 'ok';
  }

  /** Abandons a frame begun with begin() (e.g. the codec threw). */
  abort(): void {
    if (this.frameStart === -1) return;
    this.pending.pos = this.frameStart;
    this.frameStart = -1;
  }

  private readonly flushFromImmediate = (): void => {
    this.flushScheduled = false;
    if (!this.needDrain) this.flush();
  };

  /** Writes the pending batch now (unless the socket asked us to wait for 'drain'). */
  flush(): void {
    if (this.closed || this.needDrain || this.pending.pos === 0) return;
    const w = this.pending;
    const n = w.pos;
    this.pending = this.pool.pop() ?? new ByteWriter(Math.min(64 * 1024, this.opts.flushBytes));
    this.inFlight += n;
    this.writes++;
    this.lastWriteAt = Date.now();
    const ok = this.socket.write(w.view(), () => {
      if (this.closed) return;
      this.inFlight -= n;
      w.reset();
      if (this.pool.length < POOL_MAX && w.capacity <= 4 * this.opts.flushBytes) this.pool.push(w);
      this.updateCongestion();
    });
    if (!ok) this.needDrain = true;
  }

  /** The naive path: a fresh buffer and a socket.write for every frame. Still bounded. */
  private writeUnbatched(): void {
    const bytes = this.pending.toBytes();
    this.pending.reset();
    const n = bytes.length;
    this.inFlight += n;
    this.writes++;
    this.lastWriteAt = Date.now();
    const ok = this.socket.write(bytes, () => {
      if (this.closed) return;
      this.inFlight -= n;
      this.updateCongestion();
    });
    if (!ok) this.needDrain = true;
  }

  private updateCongestion(): void {
    const q = this.queuedBytes;
    if (!this.congestedNow && q >= this.opts.congestionBytes) {
      this.congestedNow = true;
      this.opts.onCongestion?.(true);
    } else if (this.congestedNow && (q <= this.opts.congestionBytes / 4 || this.closed)) {
      this.congestedNow = false;
      this.opts.onCongestion?.(false);
    }
  }

  /** Stops accepting frames and forgets what is pending (the socket is being torn down). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pending.reset();
    this.inFlight = 0;
    this.updateCongestion();
  }
}
