// What one simulated replica holds on disk, per consensus group: hard state, latest snapshot and
// the log after it. Only writes the host has "fsynced" reach it; a crash discards everything else.
// It also checks that the core's writes respect the contract (contiguous log, snapshot first), and
// reports a violation otherwise.
import type { Entry, GroupDurableState, GroupWrite, HardState, Snapshot } from '../protocols/api.js';

interface GroupStore {
  hard: HardState;
  snapshot: Snapshot | null;
  entries: Entry[];
}

export class DurableStore {
  private readonly groups = new Map<number, GroupStore>();

  private group(g: number): GroupStore {
    let s = this.groups.get(g);
    if (!s) this.groups.set(g, (s = { hard: { term: 0, vote: 0, commit: 0 }, snapshot: null, entries: [] }));
    return s;
  }

  /** Persists one group's writes. Returns a contract problem, or null. */
  apply(w: GroupWrite): string | null {
    const s = this.group(w.group);
    if (w.snapshot) {
      const problem = this.installSnapshot(s, w.snapshot);
      if (problem) return `group ${w.group}: ${problem}`;
    }
    if (w.entries.length > 0) {
      const first = w.entries[0]!.index;
      const base = s.snapshot ? s.snapshot.meta.index : 0;
      const last = base + s.entries.length;
      if (first <= base) return `group ${w.group}: write of entry ${first} at or below the snapshot index ${base}`;
      if (first > last + 1) return `group ${w.group}: write of entry ${first} leaves a gap after durable index ${last}`;
      // Truncate a conflicting suffix only when there is one (length writes are not free).
      if (first - base - 1 < s.entries.length) s.entries.length = first - base - 1;
      for (let i = 0; i < w.entries.length; i++) {
        const e = w.entries[i]!;
        if (e.index !== first + i) return `group ${w.group}: entries not contiguous at ${e.index}`;
        s.entries.push(e);
      }
    }
    if (w.hardState) s.hard = w.hardState;
    if (w.compacted) {
      const c = w.compacted;
      const base = s.snapshot ? s.snapshot.meta.index : 0;
      if (c.meta.index > base) {
        const drop = Math.min(c.meta.index - base, s.entries.length);
        if (c.meta.index > base + s.entries.length) return `group ${w.group}: compaction at ${c.meta.index} beyond durable index ${base + s.entries.length}`;
        s.entries.splice(0, drop);
        s.snapshot = c;
      }
    }
    return null;
  }

  private installSnapshot(s: GroupStore, snap: Snapshot): string | null {
    const base = s.snapshot ? s.snapshot.meta.index : 0;
    const idx = snap.meta.index;
    if (idx <= base) return `snapshot at ${idx} is not newer than the durable snapshot at ${base}`;
    // Keep the suffix only if it continues the snapshot (same term at its index).
    const at = s.entries[idx - base - 1];
    if (at && at.term === snap.meta.term) s.entries = s.entries.slice(idx - base);
    else s.entries = [];
    s.snapshot = snap;
    return null;
  }

  isEmpty(): boolean {
    for (const s of this.groups.values()) {
      if (s.hard.term !== 0 || s.snapshot !== null || s.entries.length > 0) return false;
    }
    return true;
  }

  /** Exactly what a restarted core is rebuilt from. */
  durableState(): GroupDurableState[] {
    return [...this.groups.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([group, s]) => ({ group, hardState: s.hard, snapshot: s.snapshot, entries: s.entries.slice() }));
  }

  /** Latest snapshot across groups' output space is the host's business; this is per group. */
  snapshot(group: number): Snapshot | null {
    return this.groups.get(group)?.snapshot ?? null;
  }
}
