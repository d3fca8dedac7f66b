// The in-memory Raft log: one array of entries after a base index (the compaction point), plus the
// bookkeeping of what is durable (`stabled`), committed and handed out for applying.
//
// Index arithmetic: entry with index i lives at ents[i - base - 1]. `base` itself is a virtual
// entry whose term is `baseTerm` (the snapshot/compaction point), so termAt(base) is answerable.
import type { Entry, Snapshot } from '../api.js';
import { EMPTY_ENTRIES } from './messages.js';

export class RaftLog {
  base = 0;
  baseTerm = 0;
  ents: Entry[] = [];
  committed = 0;
  /** Highest index the host has applied (advanced). */
  applied = 0;
  /** Highest index handed out in Ready.committed (>= applied). */
  applying = 0;
  /** Highest index known durable on this replica. */
  stabled = 0;
  /** Highest index handed out in Ready.writes (>= stabled) while a Ready is outstanding. */
  inProgress = 0;
  /** A snapshot received from a leader that the host has not persisted yet. */
  unstableSnapshot: Snapshot | null = null;
  /** Set while unstableSnapshot has been handed out in an outstanding Ready. */
  snapshotInProgress = false;

  lastIndex(): number {
    return this.base + this.ents.length;
  }

  lastTerm(): number {
    const n = this.ents.length;
    return n === 0 ? this.baseTerm : this.ents[n - 1]!.term;
  }

  /** Term at index, or undefined when compacted away or beyond the end. */
  term(i: number): number | undefined {
    if (i === this.base) return this.baseTerm;
    if (i < this.base) return undefined;
    const e = this.ents[i - this.base - 1];
    return e === undefined ? undefined : e.term;
  }

  entry(i: number): Entry | undefined {
    return i > this.base ? this.ents[i - this.base - 1] : undefined;
  }

  matchTerm(i: number, t: number): boolean {
    return this.term(i) === t;
  }

  /** Entries with index in [lo, hi). Caller guarantees base < lo <= hi <= lastIndex+1. */
  slice(lo: number, hi: number): Entry[] {
    return this.ents.slice(lo - this.base - 1, hi - this.base - 1);
  }

  append(e: Entry): void {
    this.ents.push(e);
  }

  /** Drops every entry with index >= i (i > committed is the caller's responsibility). */
  truncateFrom(i: number): void {
    const keep = i - this.base - 1;
    if (keep < this.ents.length) this.ents.length = keep < 0 ? 0 : keep;
    if (this.stabled > i - 1) this.stabled = i - 1;
    if (this.inProgress > i - 1) this.inProgress = i - 1;
  }

  /** Drops entries up to and including i (i must be within the log). */
  compactTo(i: number): void {
    if (i <= this.base) return;
    const t = this.term(i);
    if (t === undefined) return;
    // slice copies only the retained tail; splice would also build an array of the dropped prefix.
    this.ents = this.ents.slice(i - this.base);
    this.base = i;
    this.baseTerm = t;
    if (this.stabled < i) this.stabled = i;
    if (this.inProgress < i) this.inProgress = i;
  }

  /** Replaces the whole log with a snapshot from the leader. */
  restore(s: Snapshot): void {
    this.ents = [];
    this.base = s.meta.index;
    this.baseTerm = s.meta.term;
    this.committed = s.meta.index;
    this.applied = s.meta.index;
    this.applying = s.meta.index;
    this.stabled = s.meta.index;
    this.inProgress = s.meta.index;
    this.unstableSnapshot = s;
    this.snapshotInProgress = false;
  }

  /**
   * The largest index j <= index whose term is <= term (terms never decrease along the log, so a
   * binary search suffices). Answers `base` when every held entry up to index has a larger term.
   */
  findConflictByTerm(index: number, term: number): number {
    const last = this.lastIndex();
    if (index > last) index = last;
    if (index <= this.base) return index < this.base ? index : this.base;
    let lo = this.base; // term(lo) <= term is assumed; checked below
    let hi = index;
    if (this.baseTerm > term) return this.base;
    if (this.ents[hi - this.base - 1]!.term <= term) return hi;
    // invariant: term(lo) <= term < term(hi)
    while (hi - lo > 1) {
      const mid = lo + ((hi - lo) >>> 1);
      if (this.ents[mid - this.base - 1]!.term <= term) lo = mid;
      else hi = mid;
    }
    return lo;
  }

  commitTo(i: number): boolean {
    if (i > this.committed) {
      this.committed = i;
      return true;
    }
    return false;
  }

  /** Entries neither durable nor already handed out for writing. */
  unstableEntries(): readonly Entry[] {
    const last = this.lastIndex();
    const from = this.inProgress > this.stabled ? this.inProgress : this.stabled;
    if (from >= last) return EMPTY_ENTRIES;
    return this.ents.slice(from - this.base, last - this.base);
  }

  hasUnstableEntries(): boolean {
    return this.lastIndex() > (this.inProgress > this.stabled ? this.inProgress : this.stabled);
  }

  /** The host persisted entries up to (index, term); ignored if the log changed there since. */
  stableTo(index: number, term: number): void {
    if (index > this.stabled && this.term(index) === term) this.stabled = index;
  }

  /** Committed entries not yet handed out for applying. */
  nextCommitted(): readonly Entry[] {
    if (this.committed <= this.applying) return EMPTY_ENTRIES;
    const lo = this.applying > this.base ? this.applying : this.base;
    return this.ents.slice(lo - this.base, this.committed - this.base);
  }

  hasNextCommitted(): boolean {
    return this.committed > this.applying;
  }
}
