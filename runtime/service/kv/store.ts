// The KV store: a hash map for point operations, a B+ tree (sorted-btree) for ordered scans, and
// values in a chunked arena. Keys are latin1 strings (one char per byte), so JavaScript's string
// order is bytewise key order and both structures use native string hashing and comparison.
//
// Both structures map a key to the same mutable Slot, which holds the key's current version in its
// own fields. An overwrite updates the slot in place: the tree is touched only when keys are
// created or deleted, and a put follows one pointer after the hash lookup.
//
// Consistent snapshots while applies continue (multi-version slots + copy-on-write tree):
//   - view() clones the tree in O(1) (sorted-btree shares nodes and copies them on write) and
//     takes a new epoch number S; writes afterwards stamp a larger epoch.
//   - Before a write replaces a version that an open view may still read, it copies that version
//     into the slot's `prev` chain, which therefore holds at most one version per open view.
//   - The view walks its tree clone and, per slot, reads the newest version with epoch ≤ S.
//   - When the last view closes, every kept version is released.
import btree from 'sorted-btree';
import { bulkLoad } from 'sorted-btree/extended/bulkLoad.js';
import { ValueArena, type Chunk, type Placement } from './arena.js';

const BTree = btree.default;
type Tree = InstanceType<typeof BTree<string, Slot>>;
const NODE_SIZE = 64;

export const compareKeys = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** What a reader sees of one version of a key. `chunk === null` marks a deletion. */
export interface VersionView {
  readonly chunk: Chunk | null;
  readonly off: number;
  readonly len: number;
  readonly create: number;
  readonly mod: number;
  readonly version: number;
  readonly epoch: number;
}

/** A copy of the value bytes of `v`. */
export function valueOf(v: VersionView): Buffer {
  const c = v.chunk;
  if (c === null) throw new Error('valueOf() a deleted version');
  return Uint8Array.prototype.slice.call(c.buf, v.off, v.off + v.len) as Buffer;
}

/** An older version kept for open views. Immutable. */
export class Version implements VersionView {
  constructor(
    readonly chunk: Chunk | null,
    readonly off: number,
    readonly len: number,
    readonly create: number,
    readonly mod: number,
    readonly version: number,
    readonly epoch: number,
    public prev: Version | null,
  ) {}
}

/**
 * A key and its current version. The arena cleaner may move the value (chunk, off) behind it;
 * everything else changes only through the store.
 */
export class Slot implements VersionView, Placement {
  constructor(
    readonly key: string,
    public chunk: Chunk | null,
    public off: number,
    public len: number,
    public create: number,
    public mod: number,
    public version: number,
    public epoch: number,
    public prev: Version | null,
  ) {}
}

/** A consistent read-only view of the store as of one moment. */
export interface StoreView {
  readonly epoch: number;
  readonly revision: number;
  readonly keys: number;
  readonly valueBytes: number;
  /** (key, version) pairs in key order. The pair array is reused between steps. */
  entries(): Generator<[string, VersionView]>;
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
  /** Slots given a kept version while views were open; released when the last one closes. */
  private chained: Slot[] = [];

  constructor(arenaChunkSize?: number, parts?: StoreParts) {
    this.map = parts?.map ?? new Map();
    this.tree = parts?.tree ?? new BTree<string, Slot>(undefined, compareKeys, NODE_SIZE);
    this.arena = parts?.arena ?? new ValueArena(arenaChunkSize);
    this.arena.canRecycle = () => this.open.length === 0;
    this.revision = parts?.revision ?? 0;
  }

  get size(): number {
    return this.map.size;
  }

  get valueBytes(): number {
    return this.arena.liveBytes;
  }

  /** The current version of `key`; valid until the next write. */
  get(key: string): VersionView | undefined {
    return this.map.get(key);
  }

  /** Before `slot` changes: keep its current version if an open view may still read it. */
  private keepForViews(slot: Slot): void {
    const open = this.open;
    if (open.length === 0) {
      slot.prev = null;
      return;
    }
    if (slot.epoch > open[open.length - 1]!) return; // written after every open view began
    // Views older than the current version read further down the chain; if there are none, the
    // chain below it is unreachable.
    const below = slot.epoch > open[0]! ? slot.prev : null;
    slot.prev = new Version(slot.chunk, slot.off, slot.len, slot.create, slot.mod, slot.version, slot.epoch, below);
    this.chained.push(slot);
  }

  /** Store src[start, start+len) under `key`. */
  put(key: string, src: Buffer, start: number, len: number): void {
    const rev = ++this.revision;
    const arena = this.arena;
    const slot = this.map.get(key);
    if (slot === undefined) {
      const fresh = new Slot(key, null, 0, len, rev, rev, 1, this.epoch, null);
      fresh.chunk = arena.store(src, start, len, fresh);
      fresh.off = arena.lastOff;
      this.map.set(key, fresh);
      this.tree.set(key, fresh);
      return;
    }
    this.keepForViews(slot);
    // Mark the old value not-live before placing the new one, so the cleaner (which may run inside
    // store()) does not move it. A kept Version still points at the old bytes, which stay intact:
    // chunks are never rewritten while a view is open.
    arena.release(slot);
    slot.chunk = null;
    slot.len = len;
    slot.chunk = arena.store(src, start, len, slot);
    slot.off = arena.lastOff;
    slot.mod = rev;
    slot.version++;
    slot.epoch = this.epoch;
  }

  /** Delete `key`; false when absent (the revision is then unchanged). */
  delete(key: string): boolean {
    const slot = this.map.get(key);
    if (slot === undefined) return false;
    const rev = ++this.revision;
    this.keepForViews(slot);
    this.arena.release(slot);
    // The slot leaves the map and the live tree; an open view's tree clone may still hold it and
    // then finds the deletion (chunk null, a newer epoch) and reads its kept version instead.
    slot.chunk = null;
    slot.len = 0;
    slot.mod = rev;
    slot.epoch = this.epoch;
    this.map.delete(key);
    this.tree.delete(key);
    return true;
  }

  /** Whether `v`'s value equals src[start, start+len). */
  static valueEquals(v: VersionView, src: Buffer, start: number, len: number): boolean {
    if (v.len !== len || v.chunk === null) return false;
    if (len === 0) return true;
    return v.chunk.buf.compare(src, start, start + len, v.off, v.off + len) === 0;
  }

  /** Visit keys in [start, end) in order (end undefined: no bound) until `visit` returns false. */
  scan(start: string, end: string | undefined, visit: (key: string, v: VersionView) => boolean): void {
    const it = this.tree.entries(start);
    for (let r = it.next(); !r.done; r = it.next()) {
      const [key, slot] = r.value;
      if (end !== undefined && key >= end) return;
      if (!visit(key, slot)) return;
    }
  }

  /** Capture the current state; see the file comment for how it stays consistent. */
  view(): StoreView {
    const epoch = this.epoch++;
    this.open.push(epoch);
    const tree = this.tree.clone();
    const store = this;
    let closed = false;
    return {
      epoch,
      revision: this.revision,
      keys: this.map.size,
      valueBytes: this.arena.liveBytes,
      *entries(): Generator<[string, VersionView]> {
        const pair: [string, VersionView] = ['', EMPTY_VERSION];
        for (const [key, slot] of tree.entries()) {
          let v: VersionView | null = slot;
          if (slot.epoch > epoch) {
            let p = slot.prev;
            while (p !== null && p.epoch > epoch) p = p.prev;
            v = p;
          }
          if (v === null || v.chunk === null) continue;
          pair[0] = key;
          pair[1] = v;
          yield pair;
        }
      },
      close(): void {
        if (closed) return;
        closed = true;
        const i = store.open.indexOf(epoch);
        if (i >= 0) store.open.splice(i, 1);
        if (store.open.length === 0) {
          for (const slot of store.chained) slot.prev = null;
          store.chained = [];
        }
      },
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
      arenaRecycledChunks: a.recycledChunks,
      openSnapshotViews: this.open.length,
    };
  }
}

const EMPTY_VERSION = new Version(null, 0, 0, 0, 0, 0, 0, null);

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
    const slot = new Slot(key, null, 0, len, create, mod, version, 0, null);
    slot.chunk = this.arena.store(src, start, len, slot);
    slot.off = this.arena.lastOff;
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
