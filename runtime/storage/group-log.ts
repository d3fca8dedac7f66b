// What the store knows about one consensus group's log without holding its entries: hard state,
// snapshot, last index, and the terms of the entries as runs. Both the live append path and
// recovery drive this same class, so a write that was accepted replays to the same state, and a
// write that replay would reject is refused before it reaches the disk.
import type { HardState } from '../protocols/api.js';
import type { LogShape, SnapshotRef } from './wal-format.js';

export const ZERO_HARD_STATE: HardState = Object.freeze({ term: 0, vote: 0, commit: 0 });

/** appendEntry: the entry is covered by the snapshot and was skipped. */
export const SKIPPED = 1;
/** appendEntry: the entry was appended (after truncating a suffix if its index was <= last). */
export const APPENDED = 0;

export type SnapshotOutcome = 'kept-suffix' | 'dropped-log' | 'repointed' | 'ignored';

export class GroupLog {
  /** Mutable only so the store can pool scratch instances. */
  group: number;
  hardState: HardState = ZERO_HARD_STATE;
  snapshot: SnapshotRef | null = null;
  snapIndex = 0;
  snapTerm = 0;
  lastIndex = 0;
  // Entries (snapIndex, lastIndex] as runs of equal term: run k starts at runStart[k].
  readonly runStart: number[] = [];
  readonly runTerm: number[] = [];

  constructor(group: number) {
    this.group = group;
  }

  reset(group: number): void {
    this.group = group;
    this.hardState = ZERO_HARD_STATE;
    this.snapshot = null;
    this.snapIndex = 0;
    this.snapTerm = 0;
    this.lastIndex = 0;
    this.runStart.length = 0;
    this.runTerm.length = 0;
  }

  copyFrom(o: GroupLog): void {
    this.group = o.group;
    this.hardState = o.hardState;
    this.snapshot = o.snapshot;
    this.snapIndex = o.snapIndex;
    this.snapTerm = o.snapTerm;
    this.lastIndex = o.lastIndex;
    const n = o.runStart.length;
    this.runStart.length = n;
    this.runTerm.length = n;
    for (let i = 0; i < n; i++) {
      this.runStart[i] = o.runStart[i]!;
      this.runTerm[i] = o.runTerm[i]!;
    }
  }

  /** Term of the entry at `index`; the snapshot index answers with the snapshot term. */
  termAt(index: number): number | undefined {
    if (index === this.snapIndex) return this.snapTerm;
    if (index < this.snapIndex || index > this.lastIndex) return undefined;
    // Lookups are almost always near the tail, where the newest run is.
    for (let k = this.runStart.length - 1; k >= 0; k--) if (this.runStart[k]! <= index) return this.runTerm[k];
    return undefined;
  }

  private truncateFrom(index: number): void {
    while (this.runStart.length > 0 && this.runStart[this.runStart.length - 1]! >= index) {
      this.runStart.pop();
      this.runTerm.pop();
    }
    this.lastIndex = index - 1;
  }

  /**
   * Appends one entry with the contract's semantics: an index at or below the last one first
   * truncates the log to index-1. Returns APPENDED, SKIPPED (covered by the snapshot) or a reason
   * the entry cannot be accepted.
   */
  appendEntry(index: number, term: number): number | string {
    if (!Number.isSafeInteger(index) || index < 1 || !Number.isSafeInteger(term) || term < 0) {
      return `entry index ${index} / term ${term} is not a valid non-negative integer`;
    }
    if (index <= this.snapIndex) return SKIPPED;
    if (index > this.lastIndex + 1) return `entry ${index} leaves a gap after the last index ${this.lastIndex}`;
    if (index <= this.lastIndex) {
      const existing = this.termAt(index)!;
      if (index <= this.hardState.commit && existing !== term) {
        return `entry ${index} (term ${term}) would overwrite committed entry ${index} (term ${existing}); commit index is ${this.hardState.commit}`;
      }
      this.truncateFrom(index);
    }
    const prevTerm = this.termAt(index - 1) ?? 0;
    if (term < prevTerm) return `entry ${index} has term ${term}, lower than the term ${prevTerm} of entry ${index - 1}`;
    const n = this.runTerm.length;
    if (n === 0 || this.runTerm[n - 1] !== term) {
      this.runStart.push(index);
      this.runTerm.push(term);
    }
    this.lastIndex = index;
    return APPENDED;
  }

  setHardState(hs: HardState): string | null {
    const ok = (v: number): boolean => Number.isSafeInteger(v) && v >= 0;
    if (!ok(hs.term) || !ok(hs.commit) || !Number.isInteger(hs.vote) || hs.vote < 0 || hs.vote > 0xffffffff) {
      return `hard state ${JSON.stringify(hs)} has a field that is not a valid non-negative integer`;
    }
    if (hs.term < this.hardState.term) return `hard state term went backwards (${this.hardState.term} -> ${hs.term})`;
    this.hardState = hs;
    return null;
  }

  /**
   * Installs a snapshot. `mode` says where it comes from:
   *  - 'local'    taken by this replica: must not be older than the current one and must agree
   *               with the log's term at its index; the following entries are kept.
   *  - 'compacted' the core's own compaction snapshot (GroupWrite.compacted): like 'local', but one
   *               that is not newer than the current snapshot is ignored (a leader's snapshot may
   *               have overtaken it).
   *  - 'received' from a leader: a stale one is ignored; the log suffix is kept only when the
   *               log holds the snapshot's last entry with the same term.
   *  - 'replay'   re-reading the WAL: the same rules, and an older snapshot is damage.
   * Either way a snapshot may not contradict committed entries.
   */
  applySnapshot(ref: SnapshotRef, mode: 'local' | 'compacted' | 'received' | 'replay'): SnapshotOutcome | string {
    if (ref.index < this.snapIndex || (ref.index === this.snapIndex && (mode === 'received' || mode === 'compacted'))) {
      if (mode === 'received' || mode === 'compacted') return 'ignored';
      return `snapshot at index ${ref.index} is older than the current snapshot at ${this.snapIndex}`;
    }
    if (ref.index === this.snapIndex) {
      if (ref.term !== this.snapTerm && this.snapIndex !== 0) {
        return `snapshot at index ${ref.index} has term ${ref.term}, but the current snapshot there has term ${this.snapTerm}`;
      }
      this.snapshot = ref;
      this.snapTerm = ref.term;
      return 'repointed';
    }
    const existing = this.termAt(ref.index);
    const keep = existing === ref.term;
    if ((mode === 'local' || mode === 'compacted') && !keep) {
      return `local snapshot at index ${ref.index} (term ${ref.term}) does not match the log (term there: ${existing ?? 'none'}, last index ${this.lastIndex})`;
    }
    if (!keep && existing !== undefined && ref.index <= this.hardState.commit) {
      return `snapshot at index ${ref.index} (term ${ref.term}) contradicts committed entry ${ref.index} (term ${existing})`;
    }
    this.snapshot = ref;
    this.snapIndex = ref.index;
    this.snapTerm = ref.term;
    if (keep) {
      // Drop runs that end at or before the snapshot index; clip the first remaining one.
      let drop = 0;
      while (drop + 1 < this.runStart.length && this.runStart[drop + 1]! <= ref.index + 1) drop++;
      this.runStart.splice(0, drop);
      this.runTerm.splice(0, drop);
      if (this.lastIndex === ref.index) {
        this.runStart.length = 0;
        this.runTerm.length = 0;
      } else if (this.runStart.length > 0) this.runStart[0] = ref.index + 1;
      return 'kept-suffix';
    }
    this.runStart.length = 0;
    this.runTerm.length = 0;
    this.lastIndex = ref.index;
    return 'dropped-log';
  }

  /** The log's shape, as restated in segment checkpoints. */
  get shape(): LogShape {
    return this;
  }

  /**
   * Replay began at a checkpoint: adopt the shape it restates (entries before it were in segments
   * compaction deleted). Only valid on a log that holds no entries yet.
   */
  adoptShape(shape: LogShape): string | null {
    if (this.runStart.length > 0 || this.lastIndex !== this.snapIndex) return 'log-state restated for a log that already has entries';
    if (shape.lastIndex < this.snapIndex) return `log-state last index ${shape.lastIndex} is below the snapshot index ${this.snapIndex}`;
    const n = shape.runStart.length;
    if ((n === 0) !== (shape.lastIndex === this.snapIndex)) return 'log-state runs do not match its last index';
    let prevTerm = this.snapTerm;
    for (let i = 0; i < n; i++) {
      const st = shape.runStart[i]!;
      const te = shape.runTerm[i]!;
      if ((i === 0 && st !== this.snapIndex + 1) || (i > 0 && st <= shape.runStart[i - 1]!) || st > shape.lastIndex || te < prevTerm) {
        return 'log-state runs are not a valid term sequence';
      }
      prevTerm = te;
    }
    for (let i = 0; i < n; i++) {
      this.runStart.push(shape.runStart[i]!);
      this.runTerm.push(shape.runTerm[i]!);
    }
    this.lastIndex = shape.lastIndex;
    return null;
  }

  sameShape(shape: LogShape): boolean {
    const n = this.runStart.length;
    if (shape.lastIndex !== this.lastIndex || shape.runStart.length !== n) return false;
    for (let i = 0; i < n; i++) if (shape.runStart[i] !== this.runStart[i] || shape.runTerm[i] !== this.runTerm[i]) return false;
    return true;
  }

  /** The check that closes every write and every replayed batch. */
  checkCommit(): string | null {
    const top = Math.max(this.lastIndex, this.snapIndex);
    if (this.hardState.commit > top) return `hard state commit index ${this.hardState.commit} is beyond the log's last index ${top}`;
    return null;
  }
}
