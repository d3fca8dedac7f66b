// Recovery: rebuilds every group's durable state from the WAL lanes and snapshot files, decides
// what a damaged region is (wal-scan.ts), and only when everything checks out cuts torn tails and
// removes leftovers. See docs/storage.md, "Recovery rules".
import fs from 'node:fs';
import path from 'node:path';
import type { Entry, GroupDurableState } from '../protocols/api.js';
import { readChecksummedFile, writeChecksummedFileAtomic } from './atomic-file.js';
import { CorruptionError, StorageError } from './errors.js';
import { fsyncDir } from './fs-util.js';
import { GroupLog, SKIPPED } from './group-log.js';
import type { ResolvedOptions } from './options.js';
import { parseSnapshotFileName, readSnapshotFile, snapshotFileName } from './snapshot-file.js';
import { type DecodedRecord, RecordType } from './wal-format.js';
import type { RecoveredLane } from './wal-lane.js';
import { type TornTail, scanLane } from './wal-scan.js';

const MANIFEST = 'STORE';
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

interface ReplayGroup {
  readonly log: GroupLog;
  /** null marks an entry known from a checkpoint whose data was in a deleted segment. */
  entries: Array<Entry | null>;
  readonly lane: string;
  /** Where the group's latest hard state was read, to name it in errors. */
  hsFile: string | null;
  hsOffset: number | null;
}

/** Everything open() needs to build a LogStore. */
export interface RecoveredStore {
  readonly lanes: Map<string, RecoveredLane>;
  /** Per group, the state recovered (becomes the store's current state). */
  readonly groups: Map<number, GroupLog>;
  readonly recovered: GroupDurableState[];
  readonly report: RecoveryReport;
  readonly nextSnapId: number;
}

export async function recoverStore(dir: string, opts: ResolvedOptions, t0: number): Promise<RecoveredStore> {
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
      record: (rec, file, offset, checkpoint) => replayRecord(replay, lane, rec, file, offset, checkpoint),
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
  const recoveredLanes = new Map<string, RecoveredLane>();
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

  const groups = new Map<number, GroupLog>();
  const recovered: GroupDurableState[] = [];
  for (const [g, rg] of [...replay].sort((a, b) => a[0] - b[0])) {
    groups.set(g, rg.log);
    const ref = rg.log.snapshot;
    recovered.push({
      group: g,
      hardState: rg.log.hardState,
      snapshot: ref === null ? null : { meta: { index: ref.index, term: ref.term, membership: ref.membership }, data: images.get(ref.fileId)! },
      entries: rg.entries as Entry[], // no holes: checked above
    });
  }
  const report: RecoveryReport = {
    dir,
    lanes: laneReports,
    groups: recovered.length,
    snapshots: snapReport,
    warnings,
    removedFiles,
    durationMs: performance.now() - t0,
  };
  return { lanes: recoveredLanes, groups, recovered, report, nextSnapId: maxId + 1 };
}

/** Checks (or, for a new store, writes) the manifest; refuses a directory that is not a store. */
export async function ensureManifest(dir: string, readOnly: boolean): Promise<void> {
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

function replayRecord(
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
