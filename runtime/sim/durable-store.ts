// What one simulated replica holds on disk, per consensus group: hard state, latest snapshot and
// the log after it. Only writes the host has "fsynced" reach it; a crash discards everything else.
// It also checks that the core's writes respect the contract (contiguous log, snapshots only
// forward), and reports a violation otherwise.
import type { Entry, GroupDurableState, GroupWrite, HardState, Snapshot } from '../protocols/api.js';

interface GroupStore {
  hard: HardState;
  snapshot: Snapshot | null;
  /** Durable entries are log[head..]; compaction advances head and trims the array lazily. */
  log: Entry[];
  head: number;
}

const base = (s: GroupStore): number => (s.snapshot ? s.snapshot.meta.index : 0);
const count = (s: GroupStore): number => s.log.length - s.head;

export class DurableStore {
  private readonly groups = new Map<number, GroupStore>();
  /**
   * Writes of Readys with mustSync false, which the host did not fsync: they become durable with
   * the next fsynced write (one file, as in the replica's WAL), and a crash before that loses them.
   */
  private unsynced: GroupWrite[] = [];

  /** Holds a write that was not fsynced. */
  applyUnsynced(w: GroupWrite): void {
    this.unsynced.push(w);
  }

  /** A crash: what was written without an fsync since the last one is gone. Returns how many writes. */
  dropUnsynced(): number {
    const n = this.unsynced.length;
    this.unsynced = [];
    return n;
  }

  /** Persists one group's fsynced writes, after any unsynced ones written before them. */
  applySynced(w: GroupWrite): string | null {
    let problem: string | null = null;
    for (const u of this.unsynced) problem ??= this.apply(u);
    this.unsynced = [];
    return problem ?? this.apply(w);
  }

  private group(g: number): GroupStore {
    let s = this.groups.get(g);
    if (!s) this.groups.set(g, (s = { hard: { term: 0, vote: 0, commit: 0 }, snapshot: null, log: [], head: 0 }));
    return s;
  }

  /** Persists one group's writes. Returns a contract problem, or null. */
  apply(w: GroupWrite): string | null {
    const s = this.group(w.group);
    if (w.snapshot) {
      const problem = this.installSnapshot(s, w.snapshot);
      if (problem) return `group ${w.group}: ${problem}`;
    }
    const ents = w.entries;
    if (ents.length > 0) {
      const first = ents[0]!.index;
      const b = base(s);
      const last = b + count(s);
      if (first <= b) return `group ${w.group}: write of entry ${first} at or below the snapshot index ${b}`;
      if (first > last + 1) return `group ${w.group}: write of entry ${first} leaves a gap after durable index ${last}`;
      // Truncate a conflicting suffix only when there is one (length writes are not free).
      const keep = s.head + (first - b - 1);
      if (keep < s.log.length) s.log.length = keep;
      const log = s.log;
      for (let i = 0; i < ents.length; i++) {
        const e = ents[i]!;
        if (e.index !== first + i) return `group ${w.group}: entries not contiguous at ${e.index}`;
        log.push(e);
      }
    }
    if (w.hardState) s.hard = w.hardState;
    const c = w.compacted;
    if (c) {
      const b = base(s);
      if (c.meta.index > b) {
        if (c.meta.index > b + count(s)) return `group ${w.group}: compaction at ${c.meta.index} beyond durable index ${b + count(s)}`;
        this.dropFront(s, c.meta.index - b);
        s.snapshot = c;
      }
    }
    return null;
  }

  private dropFront(s: GroupStore, n: number): void {
    s.head += n;
    if (s.head > 1024 && s.head * 2 > s.log.length) {
      s.log = s.log.slice(s.head);
      s.head = 0;
    }
  }

  private installSnapshot(s: GroupStore, snap: Snapshot): string | null {
    const b = base(s);
    const idx = snap.meta.index;
    if (idx <= b) return `snapshot at ${idx} is not newer than the durable snapshot at ${b}`;
    // Keep the suffix only if it continues the snapshot (same term at its index).
    const at = idx - b <= count(s) ? s.log[s.head + idx - b - 1] : undefined;
    if (at && at.term === snap.meta.term) this.dropFront(s, idx - b);
    else {
      s.log = [];
      s.head = 0;
    }
    s.snapshot = snap;
    return null;
  }

  isEmpty(): boolean {
    for (const s of this.groups.values()) {
      if (s.hard.term !== 0 || s.snapshot !== null || count(s) > 0) return false;
    }
    return true;
  }

  /** Exactly what a restarted core is rebuilt from. */
  durableState(): GroupDurableState[] {
    return [...this.groups.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([group, s]) => ({ group, hardState: s.hard, snapshot: s.snapshot, entries: s.log.slice(s.head) }));
  }

  snapshot(group: number): Snapshot | null {
    return this.groups.get(group)?.snapshot ?? null;
  }
}
