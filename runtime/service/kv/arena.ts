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

/**
 * Where a current value lives. The cleaner moves it by updating `chunk` and `off`; it is live in
 * chunk c at offset o exactly when `chunk === c && off === o`.
 */
export interface Placement {
  chunk: Chunk | null;
  off: number;
  readonly len: number;
}

export class Chunk {
  readonly buf: Buffer;
  used = 0;
  /** Bytes of current values held here. */
  live = 0;
  dead = false;
  /** Who was given space here, and where (parallel arrays), for relocation by the cleaner. */
  owners: Placement[] = [];
  offs: number[] = [];
  constructor(size: number, buf?: Buffer) {
    this.buf = buf ?? Buffer.allocUnsafeSlow(size);
  }
}

/** Zero-length values live here; it is never cleaned. */
export const EMPTY_CHUNK = new Chunk(0);

const FIRST_CHUNK = 64 * 1024;
const POOL_SIZE = 4;

export interface ArenaStats {
  readonly chunks: number;
  readonly totalBytes: number;
  readonly liveBytes: number;
  readonly cleanings: number;
  readonly relocatedBytes: number;
  readonly recycledChunks: number;
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
  /**
   * Whether nothing but current values can point into chunks (no snapshot view is open). Only
   * then may a dropped chunk's memory be reused; otherwise the GC frees it once unreferenced.
   */
  canRecycle: () => boolean = () => true;
  /** Full-size buffers of dropped chunks, reused to avoid fresh memory (page faults) per chunk. */
  private pool: Buffer[] = [];
  recycled = 0;

  constructor(chunkSize = 4 * 1024 * 1024) {
    if (!Number.isSafeInteger(chunkSize) || chunkSize < 1024) throw new RangeError(`chunk size must be ≥ 1024, got ${chunkSize}`);
    this.chunkSize = chunkSize;
    this.largeThreshold = chunkSize >>> 2;
    // Start small and double up to chunkSize, so small stores (tests, the simulator) stay small.
    this.current = this.addChunk(Math.min(chunkSize, FIRST_CHUNK));
  }

  private addChunk(size: number): Chunk {
    const c = new Chunk(size, size === this.chunkSize ? this.pool.pop() : undefined);
    this.chunks.add(c);
    this.totalBytes += size;
    return c;
  }

  /** Copy src[start, start+len) into the arena for `owner`; returns the chunk, offset in lastOff. */
  store(src: Buffer, start: number, len: number, owner: Placement): Chunk {
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
    if (c.buf.length === this.chunkSize && this.pool.length < POOL_SIZE && this.canRecycle()) {
      this.pool.push(c.buf);
      this.recycled++;
    }
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
      const rec = owners[i]!;
      if (rec.chunk !== c || rec.off !== offs[i]) continue;
      const len = rec.len;
      let dst = this.current;
      if (dst.used + len > dst.buf.length) dst = len > this.largeThreshold ? this.addChunk(len) : this.rollover(len);
      const off = dst.used;
      c.buf.copy(dst.buf, off, rec.off, rec.off + len);
      dst.used = off + len;
      dst.live += len;
      dst.owners.push(rec);
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
      recycledChunks: this.recycled,
    };
  }
}
