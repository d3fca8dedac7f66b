// Value storage for the KV store: values are copied into large append-only chunks instead of one
// ArrayBuffer each. V8 makes every ArrayBuffer an external allocation with its own bookkeeping and
// GC cost: keeping 1 KB values as separate buffers ran at ~0.2-0.5 M puts/s here, versus ~2 M/s
// when copying into 4 MiB chunks (see docs/service.md).
//
// Chunks are never written below their fill mark, so the bytes a Placement points at never change
// while anything references the chunk: snapshot views can keep reading old placements safely, and
// the GC frees a chunk once nothing points at it.
//
// Space is reclaimed by cleaning (log-structured memory): when garbage exceeds the live bytes, the
// live values of chunks that are less than half full are copied to the current chunk and their
// placements updated; the old chunks are dropped. Memory therefore stays below about twice the
// live bytes plus a few chunks, and the copying costs at most one extra write per overwrite.

/** Where a value lives. `chunk` and `off` change when the cleaner moves the value. */
export interface Placement {
  chunk: Chunk | null;
  off: number;
  readonly len: number;
}

/** Whoever owns a placement: the cleaner follows `rec` to decide whether a value is still live. */
export interface Holder {
  readonly rec: Placement;
}

export class Chunk {
  readonly buf: Buffer;
  used = 0;
  /** Bytes of current values held here. */
  live = 0;
  dead = false;
  /** Who was given space here, and where (parallel arrays), for relocation by the cleaner. */
  owners: Holder[] = [];
  offs: number[] = [];
  constructor(size: number) {
    this.buf = Buffer.allocUnsafeSlow(size);
  }
}

/** Zero-length values live here; it is never cleaned. */
export const EMPTY_CHUNK = new Chunk(0);

const FIRST_CHUNK = 64 * 1024;

export interface ArenaStats {
  readonly chunks: number;
  readonly totalBytes: number;
  readonly liveBytes: number;
  readonly cleanings: number;
  readonly relocatedBytes: number;
}

export class ValueArena {
  readonly chunkSize: number;
  private readonly largeThreshold: number;
  private chunks = new Set<Chunk>();
  private current: Chunk;
  totalBytes = 0;
  liveBytes = 0;
  cleanings = 0;
  relocatedBytes = 0;
  private cleaning = false;
  /** Offset of the last store(); returned this way to avoid allocating a pair per value. */
  lastOff = 0;

  constructor(chunkSize = 4 * 1024 * 1024) {
    if (!Number.isSafeInteger(chunkSize) || chunkSize < 1024) throw new RangeError(`chunk size must be ≥ 1024, got ${chunkSize}`);
    this.chunkSize = chunkSize;
    this.largeThreshold = chunkSize >>> 2;
    // Start small and double up to chunkSize, so small stores (tests, the simulator) stay small.
    this.current = this.addChunk(Math.min(chunkSize, FIRST_CHUNK));
  }

  private addChunk(size: number): Chunk {
    const c = new Chunk(size);
    this.chunks.add(c);
    this.totalBytes += size;
    return c;
  }

  /** Copy src[start, start+len) into the arena for `owner`; returns the chunk, offset in lastOff. */
  store(src: Buffer, start: number, len: number, owner: Holder): Chunk {
    if (len === 0) {
      this.lastOff = 0;
      return EMPTY_CHUNK;
    }
    let c = this.current;
    if (c.used + len > c.buf.length) c = len > this.largeThreshold ? this.addChunk(len) : this.rollover(len);
    const off = c.used;
    src.copy(c.buf, off, start, start + len);
    c.used = off + len;
    c.live += len;
    c.owners.push(owner);
    c.offs.push(off);
    this.liveBytes += len;
    this.lastOff = off;
    return c;
  }

  /** The value at `p` stopped being current (overwritten or deleted). */
  release(p: Placement): void {
    const c = p.chunk;
    if (c === null || c === EMPTY_CHUNK || p.len === 0) return;
    c.live -= p.len;
    this.liveBytes -= p.len;
    if (c.live === 0 && c !== this.current) this.drop(c);
  }

  private drop(c: Chunk): void {
    if (c.dead) return;
    c.dead = true;
    this.chunks.delete(c);
    this.totalBytes -= c.buf.length;
    // The chunk's bytes stay valid for any old placement still pointing here; the owner lists are
    // not needed any more.
    c.owners = [];
    c.offs = [];
  }

  /** Start a new current chunk with room for `len`. */
  private rollover(len: number): Chunk {
    const size = Math.max(len, Math.min(this.chunkSize, this.current.buf.length * 2));
    this.current = this.addChunk(size);
    if (!this.cleaning) this.maybeClean();
    return this.current;
  }

  private maybeClean(): void {
    const garbage = this.totalBytes - this.liveBytes;
    if (garbage <= this.liveBytes || garbage < 2 * this.chunkSize) return;
    this.cleaning = true;
    try {
      this.cleanings++;
      const victims: Chunk[] = [];
      for (const c of this.chunks) if (c !== this.current && c.live * 2 < c.buf.length) victims.push(c);
      for (const c of victims) this.evacuate(c);
    } finally {
      this.cleaning = false;
    }
  }

  /** Move every live value out of `c`, then drop it. */
  private evacuate(c: Chunk): void {
    const owners = c.owners;
    const offs = c.offs;
    for (let i = 0; i < owners.length; i++) {
      const rec = owners[i]!.rec;
      if (rec.chunk !== c || rec.off !== offs[i]) continue;
      const len = rec.len;
      let dst = this.current;
      if (dst.used + len > dst.buf.length) dst = len > this.largeThreshold ? this.addChunk(len) : this.rollover(len);
      const off = dst.used;
      c.buf.copy(dst.buf, off, rec.off, rec.off + len);
      dst.used = off + len;
      dst.live += len;
      dst.owners.push(owners[i]!);
      dst.offs.push(off);
      c.live -= len;
      rec.chunk = dst;
      rec.off = off;
      this.relocatedBytes += len;
    }
    this.drop(c);
  }

  stats(): ArenaStats {
    return {
      chunks: this.chunks.size,
      totalBytes: this.totalBytes,
      liveBytes: this.liveBytes,
      cleanings: this.cleanings,
      relocatedBytes: this.relocatedBytes,
    };
  }
}
