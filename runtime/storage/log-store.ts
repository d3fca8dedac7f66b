// The replica's durable store: persists exactly what a Ready demands (GroupWrite[]) and gives back
// GroupDurableState[] on restart. See docs/storage.md for the format, the recovery rules and the
// group-commit design.
//
//   const { store, recovered, report } = await LogStore.open(dir, { sync: { mode: 'always' } });
//   await store.append(ready.writes);             // durable when it resolves
//   await store.saveSnapshot([{ group, meta }], stateMachine.snapshot());
//   await store.close();
import fs from 'node:fs';
import path from 'node:path';
import { configErrorFromZod } from '../common/config-error.js';
import type { GroupDurableState, GroupWrite, Membership, Snapshot, SnapshotMeta } from '../protocols/api.js';
import { crc32c } from './crc32c.js';
import { StorageError, writeFailure } from './errors.js';
import { fsyncDir, fsyncDirSync, lockFile } from './fs-util.js';
import { GroupLog, type SnapshotOutcome } from './group-log.js';
import { type LogStoreOptions, type ResolvedOptions, resolveOptions, syncPolicySchema } from './options.js';
import { parseSnapshotFileName, readSnapshotStream, snapshotFileName, writeSnapshotFile } from './snapshot-file.js';
import { MAX_RECORD_BODY, type SnapshotRef } from './wal-format.js';
import { type LaneStats, type RecoveredLane, type SyncPolicy, WalLane } from './wal-lane.js';
import { type RecoveredStore, type RecoveryReport, ensureManifest, recoverStore } from './recovery.js';

/** Largest entry the WAL accepts (recovery treats longer record lengths as damage). */
export const MAX_ENTRY_BYTES = MAX_RECORD_BODY - 64;

export interface OpenResult {
  readonly store: LogStore;
  readonly recovered: GroupDurableState[];
  readonly report: RecoveryReport;
}

export interface SnapshotTarget {
  readonly group: number;
  readonly meta: SnapshotMeta;
}

export interface SavedSnapshot {
  readonly fileId: number;
  readonly file: string;
  readonly size: number;
  readonly crc: number;
}

export interface CompactResult {
  readonly segmentsDeleted: readonly string[];
  readonly snapshotsDeleted: readonly string[];
}

export interface StoreStats {
  readonly appends: number;
  readonly batches: number;
  readonly records: number;
  readonly bytes: number;
  readonly fsyncs: number;
  readonly lanes: ReadonlyArray<LaneStats & { readonly lane: string; readonly sealedSegments: number }>;
}

type SnapMode = 'received' | 'local';
/** Per write, the snapshot ref (file id already assigned) that stage() applies, or null. */
type RefList = ReadonlyArray<SnapshotRef | null> | null;

/**
 * The raft branch extends GroupWrite with `compacted`: the core's own snapshot made by compact(),
 * to persist as the group's latest snapshot (entries it covers may go; the state machine is NOT
 * restored from it). Read structurally so this module works with and without that field.
 */
type WriteWithCompaction = GroupWrite & { readonly compacted?: Snapshot | null };

function badWrite(group: number, reason: string): StorageError {
  return new StorageError('invalid-write', `group ${group}: ${reason} (nothing of this append was written)`);
}

function checkMembership(m: Membership | undefined): string | null {
  if (m === null || typeof m !== 'object') return 'snapshot meta has no membership';
  const ok = (a: unknown): boolean => Array.isArray(a) && a.length < 0xffff && a.every((x) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff);
  if (!ok(m.voters) || !ok(m.learners) || (m.votersOutgoing !== undefined && !ok(m.votersOutgoing))) {
    return 'snapshot membership must be arrays of node ids (u32)';
  }
  return null;
}

function isGroupId(g: unknown): g is number {
  return Number.isInteger(g) && (g as number) >= 0 && (g as number) <= 0xffffffff;
}

export class LogStore {
  readonly dir: string;
  private opts: ResolvedOptions;
  private readonly snapDir: string;
  private readonly groups = new Map<number, GroupLog>();
  private readonly lanes = new Map<string, WalLane>();
  private readonly groupLane = new Map<number, WalLane>();
  private readonly recoveredLanes: Map<string, RecoveredLane>;
  private nextSnapId: number;
  private readonly inProgressSnaps = new Set<number>();
  /** Snapshot files open through readSnapshot(), with a count of readers. */
  private readonly pinnedSnaps = new Map<number, number>();
  private failure: StorageError | null = null;
  private closed = false;
  private closing: Promise<void> | null = null;
  // Ordering: a received snapshot must be durable as a file before later appends are staged.
  private gate = false;
  private readonly queue: Array<() => void> = [];
  private compactChain: Promise<unknown> = Promise.resolve();
  private lock: { fd: number } | null = null;
  private appends = 0;
  // Reused scratch for staging so that a typical append allocates no GroupLog.
  private readonly pool: GroupLog[] = [];
  private readonly staged: GroupLog[] = [];
  private skipBelow: number[] = [];
  private outcomes: Array<SnapshotOutcome | null> = [];
  private postOutcomes: Array<SnapshotOutcome | null> = [];
  private readonly touched: WalLane[] = [];

  private constructor(dir: string, opts: ResolvedOptions, recovered: LogStore['recoveredLanes'], nextSnapId: number) {
    this.dir = dir;
    this.opts = opts;
    this.snapDir = path.join(dir, 'snap');
    this.recoveredLanes = recovered;
    this.nextSnapId = nextSnapId;
  }

  // ================================================================ open / recovery

  /**
   * Opens (or creates) a store and recovers every group's durable state. Refuses to open, without
   * changing anything on disk, when it finds corruption that is not an interrupted last write.
   */
  static async open(dirArg: string, options: LogStoreOptions = {}): Promise<OpenResult> {
    const t0 = performance.now();
    const opts = resolveOptions(options);
    const dir = path.resolve(dirArg);
    const ro = opts.readOnly;
    await ensureManifest(dir, ro);
    // One writer per store: a second replica pointed at the same directory would interleave
    // segments. Read-only inspection does not take the lock.
    let lock: { fd: number } | null = null;
    if (!ro) {
      try {
        lock = lockFile(path.join(dir, 'LOCK'));
      } catch {
        throw new StorageError('layout', `${dir} is in use by another open log store (its LOCK file is held); refusing to open it twice`);
      }
    }
    let r: RecoveredStore;
    try {
      r = await recoverStore(dir, opts, t0);
    } catch (err) {
      if (lock !== null) fs.closeSync(lock.fd);
      throw err;
    }
    const store = new LogStore(dir, opts, r.lanes, r.nextSnapId);
    store.lock = lock;
    for (const [g, gl] of r.groups) store.groups.set(g, gl);
    for (const lane of r.lanes.keys()) store.lane(lane);
    return { store, recovered: r.recovered, report: r.report };
  }

  // ================================================================ lanes

  private lane(name: string): WalLane {
    let lane = this.lanes.get(name);
    if (lane !== undefined) return lane;
    const dir = this.opts.laneDirs[name] ?? path.join(this.dir, 'wal', name);
    const rec = this.recoveredLanes.get(name);
    if (rec === undefined) {
      // A new lane: its directory must be durable before any segment inside it is.
      fs.mkdirSync(dir, { recursive: true });
      fsyncDirSync(path.dirname(dir));
    }
    lane = new WalLane(
      { name, dir, segmentBytes: this.opts.segmentBytes, preallocate: this.opts.preallocate, sync: this.opts.sync },
      rec ?? { sealed: [], nextSegSeq: 1, nextBatchSeq: 1, shadow: new Map() },
      (err) => this.fail(err),
    );
    this.lanes.set(name, lane);
    return lane;
  }

  private laneOfGroup(group: number): WalLane {
    let l = this.groupLane.get(group);
    if (l === undefined) {
      l = this.lane(this.opts.laneOf(group));
      this.groupLane.set(group, l);
    }
    return l;
  }

  private fail(err: StorageError): void {
    if (this.failure !== null) return;
    this.failure = err;
    for (const l of this.lanes.values()) l.fail(err);
  }

  private unusable(): StorageError | null {
    if (this.failure !== null) return this.failure;
    if (this.opts.readOnly) return new StorageError('closed', 'the log store was opened read-only');
    if (this.closed) return new StorageError('closed', 'the log store is closed');
    return null;
  }

  // ================================================================ ordering

  /** Runs `fn` now, or after every earlier queued operation when a received snapshot holds the gate. */
  private ordered<T>(fn: () => Promise<T>): Promise<T> {
    if (!this.gate && this.queue.length === 0) return fn();
    return new Promise<T>((resolve, reject) => {
      this.queue.push(() => {
        fn().then(resolve, reject);
      });
    });
  }

  private openGate(): void {
    this.gate = false;
    while (!this.gate && this.queue.length > 0) this.queue.shift()!();
  }

  // ================================================================ append

  /**
   * Persists what a Ready demands. Resolves once every record of `writes` is durable under the
   * sync policy; concurrent calls share one write and one fdatasync per WAL lane. Appends on the
   * same lane become durable in call order. An invalid write rejects with code 'invalid-write'
   * and changes nothing; an I/O failure (e.g. a full disk) stops the store (code 'disk-full' or
   * 'io') and every later call rejects until the store is reopened.
   */
  append(writes: readonly GroupWrite[]): Promise<void> {
    const bad = this.unusable();
    if (bad !== null) return Promise.reject(bad);
    if (!Array.isArray(writes)) return Promise.reject(new StorageError('invalid-write', 'append() takes an array of GroupWrite'));
    this.appends++;
    let images = false;
    for (const w of writes) {
      if (w !== null && typeof w === 'object' && (w.snapshot != null || (w as WriteWithCompaction).compacted != null)) images = true;
    }
    if (images) return this.ordered(() => this.appendWithImages(writes));
    if (!this.gate && this.queue.length === 0) return this.appendNow(writes, null, null);
    return this.ordered(() => this.appendNow(writes, null, null));
  }

  private appendNow(writes: readonly GroupWrite[], pre: RefList, post: RefList): Promise<void> {
    const bad = this.unusable();
    if (bad !== null) return Promise.reject(bad);
    for (let k = 0; k < writes.length; k++) {
      const w = writes[k]!;
      if (w === null || typeof w !== 'object' || !isGroupId(w.group) || !Array.isArray(w.entries)) {
        return Promise.reject(new StorageError('invalid-write', `writes[${k}] is not a GroupWrite (group must be a u32, entries an array)`));
      }
    }
    const err = this.stage(writes, pre, 'received', post);
    if (err !== null) return Promise.reject(err);
    return this.commitStaged(writes, pre, post);
  }

  /** Checks a snapshot carried inside a GroupWrite and assigns it a file id (shared by identical images). */
  private imageRef(snap: Snapshot, where: string, group: number, byData: Map<Uint8Array, { fileId: number; crc: number }>): SnapshotRef {
    if (snap === null || typeof snap !== 'object' || !(snap.data instanceof Uint8Array) || snap.meta === null || typeof snap.meta !== 'object') {
      throw new StorageError('invalid-write', `${where} must have meta and data (Uint8Array)`);
    }
    const m = checkMembership(snap.meta.membership);
    if (m !== null) throw badWrite(group, m);
    let f = byData.get(snap.data);
    if (f === undefined) {
      f = { fileId: this.nextSnapId++, crc: crc32c(snap.data) };
      byData.set(snap.data, f);
    }
    return { index: snap.meta.index, term: snap.meta.term, membership: snap.meta.membership, fileId: f.fileId, size: snap.data.length, crc: f.crc };
  }

  /**
   * Writes carrying state-machine images: a snapshot received from a leader (`snapshot`) or the
   * core's own compaction snapshot (`compacted`). Each image file is written and published before
   * the WAL records that point at it; later appends wait (in order) until then.
   */
  private async appendWithImages(writes: readonly GroupWrite[]): Promise<void> {
    this.gate = true;
    const written: number[] = [];
    let durable: Promise<void>;
    try {
      for (const w of writes) if (w === null || typeof w !== 'object' || !isGroupId(w.group) || !Array.isArray(w.entries)) throw new StorageError('invalid-write', 'a write is not a GroupWrite');
      const byData = new Map<Uint8Array, { fileId: number; crc: number }>();
      const pre: Array<SnapshotRef | null> = [];
      const post: Array<SnapshotRef | null> = [];
      for (let k = 0; k < writes.length; k++) {
        const w = writes[k]!;
        const c = (w as WriteWithCompaction).compacted ?? null;
        pre.push(w.snapshot != null ? this.imageRef(w.snapshot, `writes[${k}].snapshot`, w.group, byData) : null);
        post.push(c !== null ? this.imageRef(c, `writes[${k}].compacted`, w.group, byData) : null);
      }
      // Validate against the current state before writing any file (nothing is committed yet).
      const err = this.stage(writes, pre, 'received', post);
      this.releaseStaged();
      if (err !== null) throw err;
      const needed = new Map<number, Uint8Array>();
      for (let k = 0; k < writes.length; k++) {
        const w = writes[k]!;
        if (pre[k] != null && this.outcomes[k] !== 'ignored') needed.set(pre[k]!.fileId, w.snapshot!.data);
        if (post[k] != null && this.postOutcomes[k] !== 'ignored') needed.set(post[k]!.fileId, (w as WriteWithCompaction).compacted!.data);
      }
      for (const [fileId, data] of needed) {
        this.inProgressSnaps.add(fileId);
        written.push(fileId);
        const crc = byData.get(data)!.crc;
        try {
          const info = await writeSnapshotFile(this.snapDir, fileId, data);
          if (info.crc !== crc || info.size !== data.length) throw new StorageError('io', 'snapshot image changed while it was written (was the data mutated?)', { file: info.file });
        } catch (e) {
          throw e instanceof StorageError ? e : writeFailure(e, 'writing a snapshot image (nothing of this append was written)', snapshotFileName(this.snapDir, fileId));
        }
      }
      // The state may only have changed through this gate, so the validation above still holds.
      durable = this.appendNow(writes, pre, post);
    } catch (e) {
      for (const id of written) {
        this.inProgressSnaps.delete(id);
        await fs.promises.rm(snapshotFileName(this.snapDir, id), { force: true }).catch(() => undefined);
      }
      throw e;
    } finally {
      this.openGate();
    }
    try {
      await durable;
    } finally {
      for (const id of written) this.inProgressSnaps.delete(id);
    }
    // Images that this write made obsolete (rare: only appends that carry an image get here).
    await this.collectSnapshots().catch(() => undefined);
  }

  private takeScratch(group: number): GroupLog {
    const gl = this.pool.pop() ?? new GroupLog(group);
    const cur = this.groups.get(group);
    if (cur !== undefined) gl.copyFrom(cur);
    else gl.reset(group);
    gl.group = group;
    return gl;
  }

  private releaseStaged(): void {
    for (const gl of this.staged) this.pool.push(gl);
    this.staged.length = 0;
  }

  /**
   * Applies `writes` to scratch copies of their groups' state, in the order replay will see the
   * records: `pre` snapshot (received, or a local one from saveSnapshot), entries, hard state,
   * `post` snapshot (the core's compaction snapshot). On success the copies are left in
   * `this.staged` for commitStaged(); on failure they are released and nothing has changed.
   */
  private stage(writes: readonly GroupWrite[], pre: RefList, preMode: SnapMode, post: RefList): StorageError | null {
    this.staged.length = 0;
    this.skipBelow.length = writes.length;
    this.outcomes.length = writes.length;
    this.postOutcomes.length = writes.length;
    for (let k = 0; k < writes.length; k++) {
      const w = writes[k]!;
      let gl: GroupLog | undefined;
      for (const s of this.staged) if (s.group === w.group) gl = s;
      if (gl === undefined) {
        gl = this.takeScratch(w.group);
        this.staged.push(gl);
      }
      try {
        this.laneOfGroup(w.group);
      } catch (e) {
        this.releaseStaged();
        return e instanceof StorageError ? e : new StorageError('layout', `group ${w.group}: cannot place its WAL: ${(e as Error).message}`, { cause: e });
      }
      this.outcomes[k] = null;
      this.postOutcomes[k] = null;
      const ref = pre === null ? null : (pre[k] ?? null);
      if (ref !== null) {
        const o = gl.applySnapshot(ref, preMode);
        if (o !== 'kept-suffix' && o !== 'dropped-log' && o !== 'repointed' && o !== 'ignored') return this.refuse(w.group, o);
        this.outcomes[k] = o;
      }
      this.skipBelow[k] = gl.snapIndex;
      const es = w.entries;
      for (let i = 0; i < es.length; i++) {
        const e = es[i]!;
        if (e === null || typeof e !== 'object' || !(e.data instanceof Uint8Array) || !(e.type === 0 || e.type === 1 || e.type === 2 || e.type === 3)) {
          return this.refuse(w.group, `entries[${i}] is not an Entry (data must be a Uint8Array, type 0..3)`);
        }
        if (e.data.length > MAX_ENTRY_BYTES) return this.refuse(w.group, `entry ${e.index} is ${e.data.length} bytes; the WAL takes at most ${MAX_ENTRY_BYTES}`);
        if (i > 0 && e.index !== es[i - 1]!.index + 1) return this.refuse(w.group, `entries are not contiguous (${es[i - 1]!.index} then ${e.index})`);
        const r = gl.appendEntry(e.index, e.term);
        if (typeof r === 'string') return this.refuse(w.group, r);
      }
      const hs = w.hardState ?? null;
      if (hs !== null) {
        if (typeof hs !== 'object') return this.refuse(w.group, 'hardState must be an object or null');
        const r = gl.setHardState(hs);
        if (r !== null) return this.refuse(w.group, r);
      }
      const cref = post === null ? null : (post[k] ?? null);
      if (cref !== null) {
        const o = gl.applySnapshot(cref, 'compacted');
        if (o !== 'kept-suffix' && o !== 'dropped-log' && o !== 'repointed' && o !== 'ignored') return this.refuse(w.group, `compacted: ${o}`);
        this.postOutcomes[k] = o;
      }
      const c = gl.checkCommit();
      if (c !== null) return this.refuse(w.group, c);
    }
    return null;
  }

  private refuse(group: number, reason: string): StorageError {
    this.releaseStaged();
    return badWrite(group, reason);
  }

  /** Makes the staged state current and encodes the records; returns their durability promise. */
  private commitStaged(writes: readonly GroupWrite[], pre: RefList, post: RefList): Promise<void> {
    for (const gl of this.staged) {
      const old = this.groups.get(gl.group);
      this.groups.set(gl.group, gl);
      if (old !== undefined) this.pool.push(old);
    }
    this.staged.length = 0;
    const touched = this.touched;
    touched.length = 0;
    for (let k = 0; k < writes.length; k++) {
      const w = writes[k]!;
      const lane = this.laneOfGroup(w.group);
      let wrote = false;
      const ref = pre === null ? null : (pre[k] ?? null);
      if (ref !== null && this.outcomes[k] !== 'ignored') {
        lane.addSnapshot(w.group, ref);
        wrote = true;
      }
      const skip = this.skipBelow[k]!;
      for (const e of w.entries) {
        if (e.index > skip) {
          lane.addEntry(w.group, e);
          wrote = true;
        }
      }
      const hs = w.hardState ?? null;
      if (hs !== null) {
        lane.addHardState(w.group, hs);
        wrote = true;
      }
      const cref = post === null ? null : (post[k] ?? null);
      if (cref !== null && this.postOutcomes[k] !== 'ignored') {
        lane.addSnapshot(w.group, cref);
        wrote = true;
      }
      if (wrote && !touched.includes(lane)) touched.push(lane);
    }
    if (touched.length === 1) return touched[0]!.commit();
    if (touched.length === 0) {
      // Nothing to write: resolve once everything appended before is durable.
      const all = [...this.lanes.values()].map((l) => l.barrier());
      return Promise.all(all).then(() => undefined);
    }
    return Promise.all(touched.map((l) => l.commit())).then(() => undefined);
  }

  // ================================================================ snapshots

  /**
   * Stores a state-machine snapshot. The image is streamed into a checksummed file which is
   * published atomically; then one WAL record per target group points at it. Resolves when those
   * records are durable; only then are older snapshot files (and, with compactOnSnapshot, WAL
   * segments the snapshot covers) deleted. Several groups may share one image (multi-Raft).
   */
  async saveSnapshot(targets: readonly SnapshotTarget[], image: AsyncIterable<Uint8Array> | Uint8Array): Promise<SavedSnapshot> {
    const bad = this.unusable();
    if (bad !== null) throw bad;
    if (!Array.isArray(targets) || targets.length === 0) throw new StorageError('invalid-write', 'saveSnapshot needs at least one { group, meta } target');
    const seen = new Set<number>();
    for (const t of targets) {
      if (t === null || typeof t !== 'object' || !isGroupId(t.group) || t.meta === null || typeof t.meta !== 'object') {
        throw new StorageError('invalid-write', 'each snapshot target is { group: u32, meta: SnapshotMeta }');
      }
      if (seen.has(t.group)) throw badWrite(t.group, 'appears twice in one saveSnapshot');
      seen.add(t.group);
      const m = checkMembership(t.meta.membership);
      if (m !== null) throw badWrite(t.group, m);
    }
    const id = this.nextSnapId++;
    const writes: GroupWrite[] = targets.map((t) => ({ group: t.group, hardState: null, entries: [], snapshot: null }));
    const refsFor = (size: number, crc: number): SnapshotRef[] =>
      targets.map((t) => ({ index: t.meta.index, term: t.meta.term, membership: t.meta.membership, fileId: id, size, crc }));
    // Fail fast, before streaming a large image, if the metadata cannot be accepted now.
    const early = this.stage(writes, refsFor(0, 0), 'local', null);
    this.releaseStaged();
    if (early !== null) throw early;
    this.inProgressSnaps.add(id);
    try {
      let info;
      try {
        info = await writeSnapshotFile(this.snapDir, id, image);
      } catch (e) {
        throw e instanceof StorageError ? e : writeFailure(e, 'writing a snapshot (the previous snapshot is intact)', snapshotFileName(this.snapDir, id));
      }
      const refs = refsFor(info.size, info.crc);
      const durable = await this.ordered(async () => {
        const bad2 = this.unusable();
        if (bad2 !== null) throw bad2;
        const err = this.stage(writes, refs, 'local', null);
        if (err !== null) throw err;
        return { p: this.commitStaged(writes, refs, null) };
      }).catch(async (e: unknown) => {
        await fs.promises.rm(info.file, { force: true }).catch(() => undefined);
        throw e;
      });
      await durable.p;
      await this.collectSnapshots();
      if (this.opts.compactOnSnapshot) await this.compact();
      return { fileId: id, file: info.file, size: info.size, crc: info.crc };
    } finally {
      this.inProgressSnaps.delete(id);
    }
  }

  /**
   * The latest snapshot of `group` as a verified stream (to restore from or send to a peer). The
   * image file is kept while the stream is open: iterate it to the end, or call `return()` on
   * the iterator, to release it.
   */
  readSnapshot(group: number): { readonly meta: SnapshotMeta; readonly size: number; readonly stream: AsyncIterable<Uint8Array> } | null {
    const ref = this.groups.get(group)?.snapshot ?? null;
    if (ref === null) return null;
    const file = snapshotFileName(this.snapDir, ref.fileId);
    const id = ref.fileId;
    this.pinnedSnaps.set(id, (this.pinnedSnaps.get(id) ?? 0) + 1);
    const unpin = (): void => {
      const n = (this.pinnedSnaps.get(id) ?? 1) - 1;
      if (n <= 0) this.pinnedSnaps.delete(id);
      else this.pinnedSnaps.set(id, n);
    };
    async function* pinned(): AsyncGenerator<Uint8Array> {
      try {
        yield* readSnapshotStream(file, { id, size: ref!.size, crc: ref!.crc });
      } finally {
        unpin();
      }
    }
    const gen = pinned();
    const ret = gen.return.bind(gen);
    // return() before the first next() does not run the generator's finally: release here too.
    let released = false;
    gen.return = (v: unknown) => {
      if (!released) {
        released = true;
        unpin();
      }
      return ret(v as undefined);
    };
    const next = gen.next.bind(gen);
    gen.next = (...a: [] | [unknown]) => {
      released = true; // from here on the generator's finally releases
      return next(...a);
    };
    return { meta: { index: ref.index, term: ref.term, membership: ref.membership }, size: ref.size, stream: gen };
  }

  /** Whether snapshot file `id` may still be needed (decided at the moment of deletion). */
  private snapshotInUse(id: number): boolean {
    if (this.inProgressSnaps.has(id) || (this.pinnedSnaps.get(id) ?? 0) > 0) return true;
    for (const gl of this.groups.values()) if (gl.snapshot?.fileId === id) return true;
    for (const l of this.lanes.values()) for (const gl of l.shadow.values()) if (gl.snapshot?.fileId === id) return true;
    return false;
  }

  /** Deletes snapshot files that neither the current nor the on-disk state of any group uses. */
  private async collectSnapshots(): Promise<string[]> {
    const out: string[] = [];
    for (const name of await fs.promises.readdir(this.snapDir)) {
      const id = parseSnapshotFileName(name);
      // Checked per file, right before deleting it: a snapshot published while we list is in
      // progress (or referenced) by the time it appears in the listing.
      if (id === null || this.snapshotInUse(id)) continue;
      const f = path.join(this.snapDir, name);
      await fs.promises.rm(f, { force: true });
      out.push(f);
    }
    if (out.length > 0) await fsyncDir(this.snapDir);
    return out;
  }

  /**
   * Deletes whole WAL segments whose entries are all covered by their groups' durable snapshots
   * (oldest first; a segment is kept while any group still needs an entry in it), and snapshot
   * files nothing refers to. Recovery starts at the first remaining segment's checkpoint, so a
   * segment goes only when that checkpoint's snapshots cover it; if only a fresh checkpoint would,
   * the lane rotates to a new segment first.
   */
  compact(): Promise<CompactResult> {
    if (this.opts.readOnly) return Promise.reject(new StorageError('closed', 'the log store was opened read-only'));
    const run = async (): Promise<CompactResult> => {
      const segmentsDeleted: string[] = [];
      for (const lane of this.lanes.values()) segmentsDeleted.push(...(await lane.compact()));
      const snapshotsDeleted = await this.collectSnapshots();
      return { segmentsDeleted, snapshotsDeleted };
    };
    const p = this.compactChain.then(run, run);
    this.compactChain = p.catch(() => undefined);
    return p;
  }

  // ================================================================ introspection / close

  stats(): StoreStats {
    let batches = 0;
    let records = 0;
    let bytes = 0;
    let fsyncs = 0;
    const lanes = [];
    for (const l of this.lanes.values()) {
      batches += l.stats.batches;
      records += l.stats.records;
      bytes += l.stats.bytes;
      fsyncs += l.stats.fsyncs;
      lanes.push({ lane: l.name, ...l.stats, sealedSegments: l.sealed.length });
    }
    return { appends: this.appends, batches, records, bytes, fsyncs, lanes };
  }

  /**
   * Changes the sync policy at run time (e.g. the controller trading latency for fewer syncs at
   * low load). Applies from the next batch of every lane. Switching to 'none' logs a warning.
   */
  setSyncPolicy(sync: SyncPolicy): void {
    const parsed = syncPolicySchema.safeParse(sync);
    if (!parsed.success) throw configErrorFromZod(parsed.error);
    if (parsed.data.mode === 'none' && this.opts.sync.mode !== 'none') {
      this.opts.onWarning("sync mode switched to 'none' (UNSAFE): appends are acknowledged before they are durable");
    }
    this.opts = { ...this.opts, sync: parsed.data };
    for (const l of this.lanes.values()) l.setSync(parsed.data);
  }

  /** The sync policy in force. */
  get syncPolicy(): SyncPolicy {
    return this.opts.sync;
  }

  /** Where each lane is writing: the active segment and its used size (for tools and tests). */
  tail(): Array<{ readonly lane: string; readonly file: string | null; readonly size: number }> {
    return [...this.lanes.values()].map((l) => {
      const a = l.activeSegment;
      return { lane: l.name, file: a?.file ?? null, size: a?.size ?? 0 };
    });
  }

  /** The error that stopped the store, or null while it accepts writes. */
  get failed(): StorageError | null {
    return this.failure;
  }

  /** Lets queued appends finish (or fail), then closes every file. Idempotent. */
  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    this.closing = (async () => {
      while (this.gate || this.queue.length > 0) await new Promise((r) => setTimeout(r, 1));
      this.closed = true;
      await this.compactChain;
      for (const l of this.lanes.values()) await l.close();
      if (this.lock !== null) fs.closeSync(this.lock.fd);
      this.lock = null;
    })();
    return this.closing;
  }
}
