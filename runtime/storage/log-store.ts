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
import type { Entry, GroupDurableState, GroupWrite, Membership, Snapshot, SnapshotMeta } from '../protocols/api.js';
import { readChecksummedFile, writeChecksummedFileAtomic } from './atomic-file.js';
import { crc32c } from './crc32c.js';
import { CorruptionError, StorageError, writeFailure } from './errors.js';
import { fsyncDir, fsyncDirSync, lockFile } from './fs-util.js';
import { GroupLog, SKIPPED, type SnapshotOutcome } from './group-log.js';
import { type LogStoreOptions, type ResolvedOptions, resolveOptions, syncPolicySchema } from './options.js';
import { configErrorFromZod } from '../common/config-error.js';
import { parseSnapshotFileName, readSnapshotFile, readSnapshotStream, snapshotFileName, writeSnapshotFile } from './snapshot-file.js';
import { type DecodedRecord, MAX_RECORD_BODY, RecordType, type SnapshotRef } from './wal-format.js';
import { type LaneStats, type RecoveredLane, type SyncPolicy, WalLane } from './wal-lane.js';
import { type TornTail, scanLane } from './wal-scan.js';

const MANIFEST = 'STORE';
/** Largest entry the WAL accepts (recovery treats longer record lengths as damage). */
export const MAX_ENTRY_BYTES = MAX_RECORD_BODY - 64;
const MANIFEST_FORMAT = 'verdant-log-store';
const MANIFEST_VERSION = 1;

export interface LaneRecovery {
  readonly lane: string;
  readonly dir: string;
  readonly segments: number;
  readonly batches: number;
  readonly records: number;
  /** Set when an incomplete last batch was cut off (a crash during a write). */
  readonly tornTail: TornTail | null;
  /** Preallocated zero bytes found after the last batch (normal after a crash; not data). */
  readonly zeroTailBytes: number;
}

export interface RecoveryReport {
  readonly dir: string;
  readonly lanes: readonly LaneRecovery[];
  readonly groups: number;
  readonly snapshots: ReadonlyArray<{ readonly group: number; readonly file: string; readonly bytes: number }>;
  /** Human-readable warnings, also passed to onWarning. */
  readonly warnings: readonly string[];
  /** Leftovers deleted: temporary files and snapshot files no group refers to. */
  readonly removedFiles: readonly string[];
  readonly durationMs: number;
}

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

interface ReplayGroup {
  readonly log: GroupLog;
  /** null marks an entry known from a checkpoint whose data was in a deleted segment. */
  entries: Array<Entry | null>;
  readonly lane: string;
  /** Where the group's latest hard state was read, to name it in errors. */
  hsFile: string | null;
  hsOffset: number | null;
}

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
    await LogStore.ensureManifest(dir, ro);
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
    try {
      return await LogStore.recover(dir, opts, t0, lock);
    } catch (err) {
      if (lock !== null) fs.closeSync(lock.fd);
      throw err;
    }
  }

  private static async recover(dir: string, opts: ResolvedOptions, t0: number, lock: { fd: number } | null): Promise<OpenResult> {
    const ro = opts.readOnly;
    const walRoot = path.join(dir, 'wal');
    const snapDir = path.join(dir, 'snap');
    if (!ro) {
      await fs.promises.mkdir(walRoot, { recursive: true });
      await fs.promises.mkdir(snapDir, { recursive: true });
    }
    const listDir = async (d: string): Promise<fs.Dirent[]> =>
      fs.promises.readdir(d, { withFileTypes: true }).catch((e: NodeJS.ErrnoException) => {
        if (ro && e.code === 'ENOENT') return [];
        throw e;
      });

    // Which lanes exist: every directory under wal/ plus relocated ones.
    const laneDirs = new Map<string, string>();
    for (const d of await listDir(walRoot)) {
      if (d.isDirectory()) laneDirs.set(d.name, path.join(walRoot, d.name));
    }
    for (const [name, d] of Object.entries(opts.laneDirs)) {
      if (laneDirs.has(name) && laneDirs.get(name) !== d) {
        throw new StorageError('layout', `lane "${name}" exists under ${walRoot} but laneDirs moves it to ${d}; move its files or drop the override`);
      }
      if (fs.existsSync(d)) laneDirs.set(name, d);
    }

    const replay = new Map<number, ReplayGroup>();
    const ldirOf = (lane: string): string => laneDirs.get(lane) ?? walRoot;
    const warnings: string[] = [];
    const laneReports: LaneRecovery[] = [];
    const scans = new Map<string, Awaited<ReturnType<typeof scanLane>>>();
    for (const [lane, ldir] of [...laneDirs].sort((a, b) => a[0].localeCompare(b[0]))) {
      const scan = await scanLane(ldir, {
        record: (rec, file, offset, checkpoint) => LogStore.replayRecord(replay, lane, rec, file, offset, checkpoint),
      });
      scans.set(lane, scan);
    }
    // Checked once at the end: replay may start at a checkpoint that restates a commit index whose
    // entries follow later in the segment.
    for (const rg of replay.values()) {
      const bad = rg.log.checkCommit();
      if (bad !== null) {
        throw new CorruptionError(rg.hsFile ?? ldirOf(rg.lane), rg.hsOffset ?? 0, `group ${rg.log.group}: ${bad} (at its last hard-state record)`);
      }
      const hole = rg.entries.indexOf(null);
      if (hole >= 0) {
        const firstSeg = scans.get(rg.lane)?.segments[0]?.file ?? ldirOf(rg.lane);
        throw new CorruptionError(
          firstSeg,
          0,
          `group ${rg.log.group} needs entry ${rg.log.snapIndex + 1 + hole}, which was in a WAL segment that no longer exists (a segment was deleted before a snapshot covered it)`,
        );
      }
    }
    for (const [g, rg] of replay) {
      const want = opts.laneOf(g);
      if (want !== rg.lane) {
        throw new StorageError(
          'layout',
          `group ${g}'s log is in WAL lane "${rg.lane}" but the configured layout puts it in "${want}"; changing the WAL layout of an existing store is not supported`,
        );
      }
    }

    // Load and verify snapshot images before touching anything on disk.
    const images = new Map<number, Uint8Array>();
    const snapReport: Array<{ group: number; file: string; bytes: number }> = [];
    for (const [g, rg] of [...replay].sort((a, b) => a[0] - b[0])) {
      const ref = rg.log.snapshot;
      if (ref === null) continue;
      const file = snapshotFileName(snapDir, ref.fileId);
      let img = images.get(ref.fileId);
      if (img === undefined) {
        img = await readSnapshotFile(file, { id: ref.fileId, size: ref.size, crc: ref.crc });
        images.set(ref.fileId, img);
      }
      snapReport.push({ group: g, file, bytes: img.length });
    }

    // Recovery is now known to succeed: cut torn tails, seal last segments, remove leftovers.
    const removedFiles: string[] = [];
    const recoveredLanes: LogStore['recoveredLanes'] = new Map();
    for (const [lane, scan] of scans) {
      const ldir = laneDirs.get(lane)!;
      let zeroTailBytes = 0;
      const last = scan.segments[scan.segments.length - 1];
      if (scan.tornTail !== null) {
        const t = scan.tornTail;
        const verb = ro ? 'found (read-only: not cut)' : 'discarded';
        const msg = `WAL lane "${lane}": ${verb} an incomplete last write of ${t.discardedBytes} bytes at byte offset ${t.offset} of ${t.file} (${t.reason}); it was never acknowledged`;
        warnings.push(msg);
      }
      if (ro) {
        if (last !== undefined && scan.tornTail === null) zeroTailBytes = last.fileSize - last.validEnd;
      } else if (last !== undefined && last.empty) {
        // Its creation never completed, so nothing in it was ever acknowledged; the previous
        // segment (if any) still holds the newest checkpoint.
        await fs.promises.rm(last.file);
        await fsyncDir(ldir);
        removedFiles.push(last.file);
        scan.segments.pop();
      } else if (last !== undefined && last.validEnd < last.fileSize) {
        if (scan.tornTail === null) zeroTailBytes = last.fileSize - last.validEnd;
        const fh = await fs.promises.open(last.file, 'r+');
        try {
          await fh.truncate(last.validEnd);
          await fh.sync();
        } finally {
          await fh.close();
        }
      }
      for (const f of ro ? [] : scan.tempFiles) {
        await fs.promises.rm(f, { force: true });
        removedFiles.push(f);
      }
      for (const f of scan.unknownFiles) warnings.push(`WAL lane "${lane}": ignoring unexpected file ${f}`);
      if (!ro && scan.tempFiles.length > 0) await fsyncDir(ldir);
      const shadow = new Map<number, GroupLog>();
      for (const [g, rg] of replay) {
        if (rg.lane !== lane) continue;
        const copy = new GroupLog(g);
        copy.copyFrom(rg.log);
        shadow.set(g, copy);
      }
      recoveredLanes.set(lane, {
        sealed: scan.segments.map((s) => ({ seq: s.seq, file: s.file, groupMax: s.groupMax })),
        nextSegSeq: last !== undefined ? last.seq + (last.empty ? 0 : 1) : 1,
        nextBatchSeq: scan.lastBatchSeq + 1,
        shadow,
      });
      laneReports.push({ lane, dir: ldir, segments: scan.segments.length, batches: scan.batches, records: scan.records, tornTail: scan.tornTail, zeroTailBytes });
    }

    // Snapshot directory: temporary files and images no group refers to any more.
    const referenced = new Set<number>();
    for (const rg of replay.values()) if (rg.log.snapshot !== null) referenced.add(rg.log.snapshot.fileId);
    let maxId = 0;
    let removedSnap = false;
    for (const ent of await listDir(snapDir)) {
      const name = ent.name;
      const id = parseSnapshotFileName(name);
      const full = path.join(snapDir, name);
      if (id !== null) maxId = Math.max(maxId, id);
      if (!ro && (name.endsWith('.tmp') || (id !== null && !referenced.has(id)))) {
        await fs.promises.rm(full, { force: true });
        removedFiles.push(full);
        removedSnap = true;
      }
    }
    if (removedSnap) await fsyncDir(snapDir);
    for (const id of referenced) maxId = Math.max(maxId, id);
    if (opts.sync.mode === 'none') warnings.push("sync mode 'none' is UNSAFE: appends are acknowledged before they are durable (tests and benchmarks only)");
    for (const w of warnings) opts.onWarning(w);

    const store = new LogStore(dir, opts, recoveredLanes, maxId + 1);
    store.lock = lock;
    const recovered: GroupDurableState[] = [];
    for (const [g, rg] of [...replay].sort((a, b) => a[0] - b[0])) {
      store.groups.set(g, rg.log);
      const ref = rg.log.snapshot;
      recovered.push({
        group: g,
        hardState: rg.log.hardState,
        snapshot: ref === null ? null : { meta: { index: ref.index, term: ref.term, membership: ref.membership }, data: images.get(ref.fileId)! },
        entries: rg.entries as Entry[], // no holes: checked above
      });
    }
    for (const lane of recoveredLanes.keys()) store.lane(lane);
    const report: RecoveryReport = {
      dir,
      lanes: laneReports,
      groups: recovered.length,
      snapshots: snapReport,
      warnings,
      removedFiles,
      durationMs: performance.now() - t0,
    };
    return { store, recovered, report };
  }

  private static async ensureManifest(dir: string, readOnly: boolean): Promise<void> {
    const file = path.join(dir, MANIFEST);
    if (readOnly && !fs.existsSync(file)) throw new StorageError('layout', `${dir} is not a verdant log store (no ${MANIFEST} manifest)`);
    await fs.promises.mkdir(dir, { recursive: true });
    if (fs.existsSync(file)) {
      const body = await readChecksummedFile(file);
      let m: { format?: unknown; version?: unknown };
      try {
        m = JSON.parse(body.toString('utf8')) as typeof m;
      } catch {
        throw new StorageError('layout', 'store manifest is not JSON', { file, offset: 0 });
      }
      if (m.format !== MANIFEST_FORMAT) throw new StorageError('layout', `not a verdant log store (format ${String(m.format)})`, { file });
      if (m.version !== MANIFEST_VERSION) throw new StorageError('layout', `store format version ${String(m.version)} is not supported (this build: ${MANIFEST_VERSION})`, { file });
      return;
    }
    const existing = (await fs.promises.readdir(dir)).filter((n) => n !== `${MANIFEST}.tmp` && n !== 'LOCK');
    if (existing.length > 0) {
      throw new StorageError('layout', `${dir} is not empty and has no ${MANIFEST} manifest; refusing to use it as a log store (found: ${existing.slice(0, 5).join(', ')})`);
    }
    await writeChecksummedFileAtomic(file, Buffer.from(JSON.stringify({ format: MANIFEST_FORMAT, version: MANIFEST_VERSION })));
  }

  private static replayRecord(
    replay: Map<number, ReplayGroup>,
    lane: string,
    rec: DecodedRecord,
    file: string,
    offset: number,
    checkpoint: 'start' | 'restated' | null,
  ): string | null {
    let rg = replay.get(rec.group);
    if (checkpoint === 'restated') {
      // A later checkpoint must agree with what replay built from the segments before it.
      if (rg === undefined) return `checkpoint restates group ${rec.group}, which has no earlier records`;
      const log = rg.log;
      const same =
        rec.type === RecordType.LogState
          ? log.sameShape(rec.shape)
          : rec.type === RecordType.HardState
            ? log.hardState.term === rec.hardState.term && log.hardState.vote === rec.hardState.vote && log.hardState.commit === rec.hardState.commit
            : rec.type === RecordType.Snapshot
              ? log.snapshot !== null && log.snapshot.fileId === rec.ref.fileId && log.snapIndex === rec.ref.index && log.snapTerm === rec.ref.term
              : false;
      return same ? null : `group ${rec.group}: checkpoint disagrees with the log replayed before it`;
    }
    if (rec.type === RecordType.LogState) {
      if (checkpoint !== 'start') return 'log-state record outside a checkpoint';
      if (rg === undefined) {
        rg = { log: new GroupLog(rec.group), entries: [], lane, hsFile: null, hsOffset: null };
        replay.set(rec.group, rg);
      }
      const bad = rg.log.adoptShape(rec.shape);
      if (bad !== null) return `group ${rec.group}: ${bad}`;
      rg.entries = new Array<Entry | null>(rg.log.lastIndex - rg.log.snapIndex).fill(null);
      return null;
    }
    if (rg === undefined) {
      rg = { log: new GroupLog(rec.group), entries: [], lane, hsFile: null, hsOffset: null };
      replay.set(rec.group, rg);
    } else if (rg.lane !== lane) {
      return `group ${rec.group} also has records in WAL lane "${rg.lane}"`;
    }
    const log = rg.log;
    switch (rec.type) {
      case RecordType.Entry: {
        const e = rec.entry;
        const r = log.appendEntry(e.index, e.term);
        if (typeof r === 'string') return `group ${rec.group}: ${r}`;
        if (r === SKIPPED) return null;
        rg.entries.length = e.index - 1 - log.snapIndex;
        rg.entries.push(e);
        return null;
      }
      case RecordType.HardState: {
        rg.hsFile = file;
        rg.hsOffset = offset;
        const r = log.setHardState(rec.hardState);
        return r === null ? null : `group ${rec.group}: ${r}`;
      }
      case RecordType.Snapshot: {
        const before = log.snapIndex;
        const r = log.applySnapshot(rec.ref, 'replay');
        if (r === 'kept-suffix') rg.entries.splice(0, rec.ref.index - before);
        else if (r === 'dropped-log') rg.entries = [];
        else if (r !== 'repointed' && r !== 'ignored') return `group ${rec.group}: ${r}`;
        return null;
      }
    }
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
