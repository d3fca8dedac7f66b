// One WAL directory and its writer: the group-commit loop, segment rotation with checkpoints, and
// preallocation of the next segment in the background.
//
// Group commit: records are encoded into `fill` as append() calls arrive. While a write+fdatasync
// is in flight, every further append lands in the same `fill` and shares one promise; when the
// sync returns, the whole `fill` goes out as ONE batch: one pwrite and one fdatasync. Strictly one
// batch in flight at a time, which is what makes recovery's torn-tail rule sound (wal-scan.ts).
//
// The lane keeps a shadow of every group's state as it is ON DISK (it replays each batch after
// its fdatasync). That shadow is what a new segment's checkpoint restates, and what compaction
// and snapshot-file cleanup go by.
import fs from 'node:fs';
import { randomInt } from 'node:crypto';
import type { Entry, HardState } from '../protocols/api.js';
import { ByteWriter, readU64LE } from '../common/bytes.js';
import { StorageError, writeFailure } from './errors.js';
import { type PreallocateMode, fdatasync, fsync, fsyncDir, preallocate, writeFully } from './fs-util.js';
import { GroupLog } from './group-log.js';
import {
  BATCH_HEADER_SIZE,
  BatchFlags,
  RECORD_FRAME,
  RecordType,
  SEGMENT_HEADER_SIZE,
  type SnapshotRef,
  SnapshotFlags,
  decodeRecord,
  encodeEntry,
  encodeHardState,
  encodeLogState,
  encodeSegmentHeader,
  encodeSnapshotRef,
  writeBatchHeader,
} from './wal-format.js';
import { segmentFileName } from './wal-scan.js';

export type SyncPolicy =
  /** fdatasync before an append resolves; concurrent appends share one sync. The default. */
  | { readonly mode: 'always' }
  /**
   * Like 'always' (resolves only when durable), but a batch waits up to maxDelayMs for more
   * appends (or until maxBatchBytes are queued) before it is written: fewer syncs, more latency.
   */
  | { readonly mode: 'batch'; readonly maxDelayMs: number; readonly maxBatchBytes?: number }
  /** UNSAFE: never fdatasync; resolves once the OS has the bytes. Survives a process crash, not a
   *  power loss or kernel crash. For tests and benchmarks only. */
  | { readonly mode: 'none' };

export interface LaneOptions {
  readonly name: string;
  readonly dir: string;
  readonly segmentBytes: number;
  readonly preallocate: PreallocateMode;
  readonly sync: SyncPolicy;
}

export interface SealedSegment {
  readonly seq: number;
  readonly file: string;
  /** Highest entry index per group written into the segment. */
  readonly groupMax: Map<number, number>;
}

interface ActiveSegment {
  readonly seq: number;
  readonly file: string;
  readonly fd: number;
  readonly salt: number;
  /** Write offset: bytes in use. */
  size: number;
  /** Offset just past the checkpoint batch. */
  readonly dataStart: number;
  readonly groupMax: Map<number, number>;
}

interface PreparedSegment {
  readonly seq: number;
  readonly tmp: string;
  readonly fd: number;
  readonly salt: number;
  readonly prealloc: PreallocateMode;
}

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  // Every append shares this promise; a caller that drops it must not crash the process.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

export interface LaneStats {
  batches: number;
  records: number;
  bytes: number;
  fsyncs: number;
  segmentsCreated: number;
  /** Preallocation mode actually used for the most recent segment. */
  preallocated: PreallocateMode | 'n/a';
}

export interface RecoveredLane {
  readonly sealed: SealedSegment[];
  readonly nextSegSeq: number;
  readonly nextBatchSeq: number;
  /** The state on disk per group of this lane (the lane takes ownership). */
  readonly shadow: Map<number, GroupLog>;
}

export class WalLane {
  readonly name: string;
  readonly dir: string;
  private opts: LaneOptions;
  private active: ActiveSegment | null = null;
  readonly sealed: SealedSegment[];
  private nextSegSeq: number;
  private nextBatchSeq: number;
  private prepared: Promise<PreparedSegment> | null = null;

  private fill = new ByteWriter(1 << 20);
  private spare = new ByteWriter(1 << 20);
  private fillCount = 0;
  private fillSince = 0;
  private fillGroupMax = new Map<number, number>();
  private fillWaiter: Deferred | null = null;
  private inflight: Deferred | null = null;

  private running = false;
  private wake: (() => void) | null = null;
  private idleWaiters: Array<() => void> = [];
  private failure: StorageError | null = null;
  /** Per group: the state as it is on disk in this lane. */
  readonly shadow: Map<number, GroupLog>;
  readonly stats: LaneStats = { batches: 0, records: 0, bytes: 0, fsyncs: 0, segmentsCreated: 0, preallocated: 'n/a' };

  constructor(
    opts: LaneOptions,
    recovered: RecoveredLane,
    private readonly onFailure: (err: StorageError) => void,
  ) {
    this.opts = opts;
    this.name = opts.name;
    this.dir = opts.dir;
    this.sealed = recovered.sealed;
    this.nextSegSeq = recovered.nextSegSeq;
    this.nextBatchSeq = recovered.nextBatchSeq;
    this.shadow = recovered.shadow;
    this.fill.pos = BATCH_HEADER_SIZE;
  }

  get failed(): StorageError | null {
    return this.failure;
  }

  /** Takes effect from the next batch; a batch already waiting out its delay is woken. */
  setSync(sync: SyncPolicy): void {
    this.opts = { ...this.opts, sync };
    if (this.wake !== null) this.wake();
  }

  // ------------------------------------------------------------ encoding (synchronous, in call order)

  private noteRecord(): void {
    if (this.fillCount === 0) this.fillSince = performance.now();
    this.fillCount++;
  }

  addEntry(group: number, e: Entry): void {
    encodeEntry(this.fill, group, e);
    this.noteRecord();
    const m = this.fillGroupMax.get(group);
    if (m === undefined || e.index > m) this.fillGroupMax.set(group, e.index);
  }

  addHardState(group: number, hs: HardState): void {
    encodeHardState(this.fill, group, hs);
    this.noteRecord();
  }

  addSnapshot(group: number, ref: SnapshotRef): void {
    encodeSnapshotRef(this.fill, group, ref, 0);
    this.noteRecord();
  }

  /** The promise every record encoded since the last batch was taken shares; starts the writer. */
  commit(): Promise<void> {
    if (this.failure) {
      this.fillCount = 0;
      this.fill.pos = BATCH_HEADER_SIZE;
      return Promise.reject(this.failure);
    }
    if (this.fillWaiter === null) this.fillWaiter = deferred();
    const p = this.fillWaiter.promise;
    if (!this.running) {
      // Start on a microtask so that appends issued in the same tick (or by continuations of the
      // same resolved batch) join this batch instead of the first one going out alone.
      this.running = true;
      queueMicrotask(() => void this.run());
    } else if (this.wake !== null && this.fill.pos >= this.maxBatchBytes()) this.wake();
    return p;
  }

  /** Resolves when everything encoded so far is durable (or rejects if it never will be). */
  barrier(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.fillCount > 0) return this.commit();
    return this.inflight?.promise ?? Promise.resolve();
  }

  private maxBatchBytes(): number {
    const s = this.opts.sync;
    return s.mode === 'batch' ? (s.maxBatchBytes ?? 4 << 20) : Infinity;
  }

  // ------------------------------------------------------------ the writer loop

  private async run(): Promise<void> {
    this.running = true;
    try {
      while (this.fillCount > 0 && this.failure === null) {
        const s = this.opts.sync;
        if (s.mode === 'batch') {
          const wait = this.fillSince + s.maxDelayMs - performance.now();
          if (wait > 0 && this.fill.pos < this.maxBatchBytes()) {
            await new Promise<void>((resolve) => {
              const t = setTimeout(() => ((this.wake = null), resolve()), wait);
              this.wake = () => (clearTimeout(t), (this.wake = null), resolve());
            });
          }
        }
        await this.writeBatch();
      }
    } finally {
      this.running = false;
      if (this.fillCount > 0 && this.failure === null) void this.run();
      else for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  private async writeBatch(): Promise<void> {
    const eb = this.fill;
    this.fill = this.spare;
    this.spare = eb;
    this.fill.pos = BATCH_HEADER_SIZE;
    const count = this.fillCount;
    const waiter = this.fillWaiter!;
    const groupMax = this.fillGroupMax;
    this.fillCount = 0;
    this.fillWaiter = null;
    this.fillGroupMax = new Map();
    this.inflight = waiter;
    let file = this.active?.file ?? this.dir;
    try {
      const a = this.active;
      if (a === null || (a.size > a.dataStart && a.size + eb.pos > this.opts.segmentBytes)) await this.rotate();
      const seg = this.active!;
      file = seg.file;
      writeBatchHeader(eb.buf, 0, seg.salt, eb.pos - BATCH_HEADER_SIZE, count, this.nextBatchSeq, 0);
      await writeFully(seg.fd, eb.buf, 0, eb.pos, seg.size);
      if (this.opts.sync.mode !== 'none') {
        await fdatasync(seg.fd);
        this.stats.fsyncs++;
      }
      seg.size += eb.pos;
      this.nextBatchSeq++;
      this.stats.batches++;
      this.stats.records += count;
      this.stats.bytes += eb.pos;
      for (const [g, m] of groupMax) {
        const cur = seg.groupMax.get(g);
        if (cur === undefined || m > cur) seg.groupMax.set(g, m);
      }
      this.applyToShadow(eb.buf, BATCH_HEADER_SIZE, eb.pos);
    } catch (err) {
      const e = err instanceof StorageError ? err : writeFailure(err, `appending a batch of ${count} records to the WAL`, file);
      this.fail(e);
      waiter.reject(e);
      return;
    } finally {
      this.inflight = null;
      // A huge batch should not pin its buffer forever.
      if (eb.capacity > 16 << 20) this.spare = new ByteWriter(1 << 20);
    }
    waiter.resolve();
  }

  /** Replays a written batch onto the shadow, exactly as recovery would. */
  private applyToShadow(b: Buffer, start: number, end: number): void {
    for (let off = start; off < end; off += RECORD_FRAME + b.readUInt32LE(off)) {
      const type = b[off + 8];
      const group = b.readUInt32LE(off + 12);
      let gl = this.shadow.get(group);
      if (gl === undefined) {
        gl = new GroupLog(group);
        this.shadow.set(group, gl);
      }
      let bad: string | number | null = null;
      if (type === RecordType.Entry) bad = gl.appendEntry(readU64LE(b, off + 16), readU64LE(b, off + 24));
      else {
        const rec = decodeRecord(b, off);
        if (typeof rec === 'string') bad = rec;
        else if (rec.type === RecordType.HardState) bad = gl.setHardState(rec.hardState);
        else if (rec.type === RecordType.Snapshot) {
          const o = gl.applySnapshot(rec.ref, 'replay');
          if (o !== 'kept-suffix' && o !== 'dropped-log' && o !== 'repointed' && o !== 'ignored') bad = o;
        }
      }
      if (typeof bad === 'string') {
        // The store validated this write before encoding it; disagreement is a bug, not bad input.
        throw new StorageError('io', `internal error: a written batch does not replay (group ${group}: ${bad})`, { file: this.active?.file ?? this.dir });
      }
    }
  }

  /** Stops the lane: queued appends reject with `err`; nothing more is written. */
  fail(err: StorageError): void {
    if (this.failure !== null) return;
    this.failure = err;
    const w = this.fillWaiter;
    this.fillWaiter = null;
    this.fillCount = 0;
    this.fill.pos = BATCH_HEADER_SIZE;
    if (w !== null) w.reject(err);
    this.onFailure(err);
  }

  // ------------------------------------------------------------ segments

  private prepareSegment(seq: number): Promise<PreparedSegment> {
    const p = (async (): Promise<PreparedSegment> => {
      const tmp = segmentFileName(this.dir, seq) + '.tmp';
      const fd = fs.openSync(tmp, 'w+', 0o644);
      try {
        const salt = randomInt(0, 0xffffffff);
        const mode = await preallocate(fd, 0, this.opts.segmentBytes, this.opts.preallocate, tmp);
        await writeFully(fd, encodeSegmentHeader(seq, salt), 0, SEGMENT_HEADER_SIZE, 0);
        await fsync(fd);
        return { seq, tmp, fd, salt, prealloc: mode };
      } catch (err) {
        fs.closeSync(fd);
        await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
        throw err;
      }
    })();
    p.catch(() => undefined);
    return p;
  }

  /**
   * Seals the active segment and starts the next one: rename the prepared file into place, write
   * a checkpoint batch (every group's snapshot, log shape and hard state as on disk now),
   * fdatasync, fsync the directory. Only then is the previous segment marked sealed.
   */
  private async rotate(): Promise<void> {
    const seq = this.nextSegSeq;
    let prepared = this.prepared;
    this.prepared = null;
    if (prepared === null || (await prepared.catch(() => null)) === null) prepared = this.prepareSegment(seq);
    let seg: PreparedSegment;
    try {
      seg = await prepared;
    } catch (err) {
      throw writeFailure(err, `creating WAL segment ${seq}`, segmentFileName(this.dir, seq));
    }
    const file = segmentFileName(this.dir, seq);
    try {
      await fs.promises.rename(seg.tmp, file);
      const cb = new ByteWriter(4096);
      cb.pos = BATCH_HEADER_SIZE;
      let count = 0;
      for (const [group, gl] of this.shadow) {
        if (gl.snapshot !== null) (encodeSnapshotRef(cb, group, gl.snapshot, SnapshotFlags.Restated), count++);
        encodeLogState(cb, group, gl.shape);
        count++;
        const hs = gl.hardState;
        if (hs.term !== 0 || hs.vote !== 0 || hs.commit !== 0) (encodeHardState(cb, group, hs), count++);
      }
      writeBatchHeader(cb.buf, 0, seg.salt, cb.pos - BATCH_HEADER_SIZE, count, this.nextBatchSeq, BatchFlags.Checkpoint);
      await writeFully(seg.fd, cb.buf, 0, cb.pos, SEGMENT_HEADER_SIZE);
      await fdatasync(seg.fd);
      await fsyncDir(this.dir);
      this.stats.fsyncs += 2;
      this.nextBatchSeq++;
      this.nextSegSeq++;
      this.stats.segmentsCreated++;
      this.stats.preallocated = seg.prealloc;
      const prev = this.active;
      const size = SEGMENT_HEADER_SIZE + cb.pos;
      this.active = { seq, file, fd: seg.fd, salt: seg.salt, size, dataStart: size, groupMax: new Map() };
      if (prev !== null) await this.seal(prev);
    } catch (err) {
      if (this.active?.fd !== seg.fd) fs.close(seg.fd, () => undefined);
      throw writeFailure(err, `starting WAL segment ${seq}`, file);
    }
    if (this.opts.preallocate !== 'off') this.prepared = this.prepareSegment(this.nextSegSeq);
  }

  /** Gives back the preallocated space past the used part; the data was synced already. */
  private async seal(prev: ActiveSegment): Promise<void> {
    try {
      await new Promise<void>((resolve) => fs.ftruncate(prev.fd, prev.size, () => resolve()));
    } finally {
      fs.closeSync(prev.fd);
    }
    this.sealed.push({ seq: prev.seq, file: prev.file, groupMax: prev.groupMax });
  }

  /**
   * Deletes the oldest sealed segments whose entries are all covered by their groups' snapshots
   * on disk, stopping at the first that is still needed (the WAL stays one contiguous run).
   * Recovery then starts at the next segment's checkpoint, which restates everything else.
   */
  async compact(): Promise<string[]> {
    const out: string[] = [];
    // The newest segment on disk always stays: its checkpoint is where recovery would start.
    while (this.sealed.length > (this.active === null ? 1 : 0)) {
      const s = this.sealed[0]!;
      let needed = false;
      for (const [g, max] of s.groupMax) if (max > (this.shadow.get(g)?.snapIndex ?? 0)) needed = true;
      if (needed) break;
      await fs.promises.rm(s.file, { force: true });
      this.sealed.shift();
      out.push(s.file);
    }
    if (out.length > 0) await fsyncDir(this.dir);
    return out;
  }

  get activeSegment(): { seq: number; file: string; size: number } | null {
    return this.active ? { seq: this.active.seq, file: this.active.file, size: this.active.size } : null;
  }

  /** Waits until nothing is queued or in flight. */
  idle(): Promise<void> {
    if (!this.running && this.fillCount === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async close(): Promise<void> {
    await this.idle();
    if (this.active !== null) {
      fs.closeSync(this.active.fd);
      this.active = null;
    }
    const p = this.prepared;
    this.prepared = null;
    if (p !== null) {
      const seg = await p.catch(() => null);
      if (seg !== null) {
        fs.closeSync(seg.fd);
        await fs.promises.rm(seg.tmp, { force: true });
      }
    }
  }
}
