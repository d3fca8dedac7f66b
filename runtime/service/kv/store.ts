// The KV store: a hash map for point operations, a B+ tree (sorted-btree) for ordered scans, and
// values in a chunked arena. Keys are latin1 strings (one char per byte), so JavaScript's string
// order is bytewise key order and both structures use native string hashing and comparison.
//
// Both structures map a key to the same mutable Slot. Overwrites only replace slot.rec, so the tree
// is touched only when keys are created or deleted.
//
// Consistent snapshots while applies continue (multi-version slots + copy-on-write tree):
//   - snapshot() clones the tree in O(1) (sorted-btree shares nodes and copies them on write) and
//     takes a new epoch number S; records written afterwards carry a larger epoch.
//   - A write keeps the replaced record in `prev` only while some open snapshot may still need it,
//     so a slot's chain holds at most one record per open snapshot (plus the current one).
//   - The snapshot walks its tree clone and, per slot, reads the newest record with epoch ≤ S.
// Records are immutable apart from their placement, which the arena cleaner may move (same bytes).
import btree from 'sorted-btree';
import { bulkLoad } from 'sorted-btree/extended/bulkLoad.js';
import { ValueArena, type Chunk, type Holder, type Placement } from './arena.js';

const BTree = btree.default;
type Tree = InstanceType<typeof BTree<string, Slot>>;
const NODE_SIZE = 64;

export const compareKeys = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * One version of a key. `chunk === null` marks a deletion. Immutable while any snapshot view may
 * read it; with no view open, put() updates the current version in place to save an allocation.
 */
export class Version implements Placement {
  constructor(
    public chunk: Chunk | null,
    public off: number,
    public len: number,
    readonly create: number,
    public mod: number,
    public version: number,
    public epoch: number,
    public prev: Version | null,
  ) {}

  get deleted(): boolean {
    return this.chunk === null;
  }

  /** A copy of the value bytes. */
  value(): Buffer {
    const c = this.chunk;
    if (c === null) throw new Error('value() of a deleted version');
    return Uint8Array.prototype.slice.call(c.buf, this.off, this.off + this.len) as Buffer;
  }
}

const TOMBSTONE = new Version(null, 0, 0, 0, 0, 0, 0, null);

export class Slot implements Holder {
  constructor(
    readonly key: string,
    public rec: Version,
  ) {}
}

/** A consistent read-only view of the store as of one moment. */
export interface StoreView {
  readonly epoch: number;
  readonly revision: number;
  readonly keys: number;
  readonly valueBytes: number;
  /** (key, version) pairs in key order. */
  entries(): Generator<[string, Version]>;
  /** Stop holding old versions for this view. Idempotent. */
  close(): void;
}

/** The parts of a store built elsewhere (snapshot restore). */
interface StoreParts {
  readonly map: Map<string, Slot>;
  readonly tree: Tree;
  readonly arena: ValueArena;
  readonly revision: number;
}

export class KvStore {
  private readonly map: Map<string, Slot>;
  private readonly tree: Tree;
  readonly arena: ValueArena;
  revision: number;
  private epoch = 1;
  /** Epochs of open views, ascending. */
  private readonly open: number[] = [];
  /** Slots whose record started a chain while views were open; unlinked when the last one closes. */
  private chained: Slot[] = [];

  constructor(arenaChunkSize?: number, parts?: StoreParts) {
    this.map = parts?.map ?? new Map();
    this.tree = parts?.tree ?? new BTree<string, Slot>(undefined, compareKeys, NODE_SIZE);
    this.arena = parts?.arena ?? new ValueArena(arenaChunkSize);
    this.revision = parts?.revision ?? 0;
  }

  get size(): number {
    return this.map.size;
  }

  get valueBytes(): number {
    return this.arena.liveBytes;
  }

  get(key: string): Version | undefined {
    return this.map.get(key)?.rec;
  }

  /** What the successor of `slot`'s current record should point back to. */
  private link(slot: Slot): Version | null {
    const open = this.open;
    if (open.length === 0) return null;
    const old = slot.rec;
    if (old.epoch > open[open.length - 1]!) return old.prev;
    // Every open view reads `old` or something newer, so anything older is unreachable.
    if (old.prev !== null && old.epoch <= open[0]!) old.prev = null;
    this.chained.push(slot);
    return old;
  }

  private unlinkAll(): void {
    for (const slot of this.chained) slot.rec.prev = null;
    this.chained = [];
  }

  /** Store src[start, start+len) under `key`. Versions obtained earlier are invalid afterwards. */
  put(key: string, src: Buffer, start: number, len: number): void {
    const rev = ++this.revision;
    const arena = this.arena;
    const slot = this.map.get(key);
    if (slot === undefined) {
      const fresh = new Slot(key, TOMBSTONE);
      const chunk = arena.store(src, start, len, fresh);
      fresh.rec = new Version(chunk, arena.lastOff, len, rev, rev, 1, this.epoch, null);
      this.map.set(key, fresh);
      this.tree.set(key, fresh);
      return;
    }
    const old = slot.rec;
    if (this.open.length === 0) {
      // No snapshot can see `old`: reuse it rather than allocate (most writes take this path).
      // Mark it not-live first so the cleaner, which may run inside store(), does not move it.
      arena.release(old);
      old.chunk = null;
      old.chunk = arena.store(src, start, len, slot);
      old.off = arena.lastOff;
      old.len = len;
      old.mod = rev;
      old.version++;
      old.epoch = this.epoch;
      old.prev = null;
      return;
    }
    // `old` stays live until the new value is placed (the cleaner may move it meanwhile; release
    // then uses its new placement).
    const chunk = arena.store(src, start, len, slot);
    slot.rec = new Version(chunk, arena.lastOff, len, old.create, rev, old.version + 1, this.epoch, this.link(slot));
    arena.release(old);
  }

  /** Delete `key`; false when absent (the revision is then unchanged). */
  delete(key: string): boolean {
    const slot = this.map.get(key);
    if (slot === undefined) return false;
    const rev = ++this.revision;
    const old = slot.rec;
    const prev = this.link(slot);
    slot.rec = prev === null ? TOMBSTONE : new Version(null, 0, 0, 0, rev, 0, this.epoch, prev);
    this.arena.release(old);
    this.map.delete(key);
    this.tree.delete(key);
    return true;
  }

  /** Whether `v`'s value equals src[start, start+len). */
  static valueEquals(v: Version, src: Buffer, start: number, len: number): boolean {
    if (v.len !== len || v.chunk === null) return false;
    if (len === 0) return true;
    return v.chunk.buf.compare(src, start, start + len, v.off, v.off + len) === 0;
  }

  /**
   * Visit keys in [start, end) in order (end undefined: no bound) until `visit` returns false.
   */
  scan(start: string, end: string | undefined, visit: (key: string, v: Version) => boolean): void {
    const it = this.tree.entries(start);
    for (let r = it.next(); !r.done; r = it.next()) {
      const [key, slot] = r.value;
      if (end !== undefined && key >= end) return;
      if (!visit(key, slot.rec)) return;
    }
  }

  /** Capture the current state; see the file comment for how it stays consistent. */
  view(): StoreView {
    const epoch = this.epoch++;
    this.open.push(epoch);
    const tree = this.tree.clone();
    const store = this;
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      const i = store.open.indexOf(epoch);
      if (i >= 0) store.open.splice(i, 1);
      if (store.open.length === 0) store.unlinkAll();
    };
    return {
      epoch,
      revision: this.revision,
      keys: this.map.size,
      valueBytes: this.arena.liveBytes,
      *entries(): Generator<[string, Version]> {
        const pair: [string, Version] = ['', TOMBSTONE];
        for (const [key, slot] of tree.entries()) {
          let v: Version | null = slot.rec;
          while (v !== null && v.epoch > epoch) v = v.prev;
          if (v === null || v.chunk === null) continue;
          pair[0] = key;
          pair[1] = v;
          yield pair;
        }
      },
      close,
    };
  }

  /** Number of snapshot views not yet closed. */
  get openViews(): number {
    return this.open.length;
  }

  stats(): Record<string, number> {
    const a = this.arena.stats();
    return {
      keys: this.map.size,
      revision: this.revision,
      valueBytes: a.liveBytes,
      arenaBytes: a.totalBytes,
      arenaChunks: a.chunks,
      arenaCleanings: a.cleanings,
      arenaRelocatedBytes: a.relocatedBytes,
      openSnapshotViews: this.open.length,
    };
  }
}

/** Builds a store from sorted entries (snapshot restore), without touching any live store. */
export class KvStoreBuilder {
  private readonly keys: string[] = [];
  private readonly slots: Slot[] = [];
  private readonly arena: ValueArena;
  private last: string | undefined;

  constructor(private readonly arenaChunkSize?: number) {
    this.arena = new ValueArena(arenaChunkSize);
  }

  get count(): number {
    return this.keys.length;
  }

  get lastKey(): string | undefined {
    return this.last;
  }

  /** Add the next entry; keys must be strictly increasing (checked by the caller). */
  add(key: string, src: Buffer, start: number, len: number, create: number, mod: number, version: number): void {
    const slot = new Slot(key, TOMBSTONE);
    const chunk = this.arena.store(src, start, len, slot);
    slot.rec = new Version(chunk, this.arena.lastOff, len, create, mod, version, 0, null);
    this.keys.push(key);
    this.slots.push(slot);
    this.last = key;
  }

  build(revision: number): KvStore {
    const tree = bulkLoad(this.keys, this.slots, NODE_SIZE, compareKeys) as unknown as Tree;
    const map = new Map<string, Slot>();
    for (let i = 0; i < this.keys.length; i++) map.set(this.keys[i]!, this.slots[i]!);
    return new KvStore(this.arenaChunkSize, { map, tree, arena: this.arena, revision });
  }
}
