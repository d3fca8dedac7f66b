// What a leader knows about one member: how far its log matches, what to send next, and the flow
// control window of AppendEntries in flight (a ring buffer, no allocation per message).
import type { NodeId, Snapshot } from '../api.js';

export const ProgressState = { Probe: 0, Replicate: 1, Snapshot: 2 } as const;
export type ProgressState = (typeof ProgressState)[keyof typeof ProgressState];

/** Ring buffer of (last index, bytes) of the AppendEntries sent but not acknowledged. */
export class Inflights {
  private readonly idx: Float64Array;
  private readonly sizes: Float64Array;
  private start = 0;
  count = 0;
  bytes = 0;

  constructor(
    private readonly capacity: number,
    private readonly maxBytes: number,
  ) {
    this.idx = new Float64Array(capacity);
    this.sizes = new Float64Array(capacity);
  }

  full(): boolean {
    return this.count >= this.capacity || (this.maxBytes > 0 && this.bytes >= this.maxBytes);
  }

  add(lastIndex: number, bytes: number): void {
    let p = this.start + this.count;
    if (p >= this.capacity) p -= this.capacity;
    this.idx[p] = lastIndex;
    this.sizes[p] = bytes;
    this.count++;
    this.bytes += bytes;
  }

  /** Frees every message whose last index is <= index. */
  freeLE(index: number): void {
    while (this.count > 0 && this.idx[this.start]! <= index) {
      this.bytes -= this.sizes[this.start]!;
      this.start++;
      if (this.start === this.capacity) this.start = 0;
      this.count--;
    }
    if (this.count === 0) {
      this.start = 0;
      this.bytes = 0;
    }
  }

  freeFirstOne(): void {
    if (this.count > 0) this.freeLE(this.idx[this.start]!);
  }

  reset(): void {
    this.start = 0;
    this.count = 0;
    this.bytes = 0;
  }
}

export class Progress {
  match = 0;
  next = 1;
  state: ProgressState = ProgressState.Probe;
  /** Probe state: an AppendEntries is outstanding; wait for its answer or a heartbeat response. */
  probeSent = false;
  /** Snapshot state: index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** Heard from within the current check-quorum period. */
  recentActive = true;
  isLearner = false;
  /** Highest read-confirmation sequence this member acknowledged in the current term. */
  readAck = 0;
  /** Commit index last sent to this member (to skip redundant empty AppendEntries). */
  sentCommit = 0;
  readonly inflight: Inflights;

  // Snapshot transfer in chunks.
  snap: Snapshot | null = null;
  snapSent = 0;
  snapAcked = 0;
  snapFinalSent = false;
  snapStallBeats = 0;

  constructor(
    readonly id: NodeId,
    maxInflightMsgs: number,
    maxInflightBytes: number,
  ) {
    this.inflight = new Inflights(maxInflightMsgs, maxInflightBytes);
  }

  paused(): boolean {
    switch (this.state) {
      case ProgressState.Probe:
        return this.probeSent;
      case ProgressState.Replicate:
        return this.inflight.full();
      default:
        return true;
    }
  }

  becomeProbe(): void {
    if (this.state === ProgressState.Snapshot) {
      this.next = Math.max(this.match + 1, this.pendingSnapshot + 1);
    } else {
      this.next = this.match + 1;
    }
    this.resetState(ProgressState.Probe);
  }

  becomeReplicate(): void {
    this.next = this.match + 1;
    this.resetState(ProgressState.Replicate);
  }

  becomeSnapshot(snap: Snapshot): void {
    this.resetState(ProgressState.Snapshot);
    this.pendingSnapshot = snap.meta.index;
    this.snap = snap;
  }

  private resetState(s: ProgressState): void {
    this.state = s;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.inflight.reset();
    this.snap = null;
    this.snapSent = 0;
    this.snapAcked = 0;
    this.snapFinalSent = false;
    this.snapStallBeats = 0;
  }

  /** A successful append acknowledgement up to n; false if stale. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    if (this.next < n + 1) this.next = n + 1;
    return updated;
  }

  /**
   * A rejection of prev index `rejected` with the follower's hint; false if stale. Stale means: at or
   * below the match index (a follower never loses what it acknowledged as durable), or not for an
   * append this progress sent (replicate: prev index below next; probe: exactly next-1), as in etcd.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (rejected <= this.match) return false;
    if (this.state === ProgressState.Replicate) {
      if (rejected >= this.next) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** Fresh leader state for this member. */
  resetForLeader(lastIndex: number): void {
    this.match = 0;
    this.next = lastIndex + 1;
    this.resetState(ProgressState.Probe);
    this.recentActive = true;
    this.readAck = 0;
    this.sentCommit = 0;
  }
}
