// Recovery of one WAL lane: reads its segments in order, verifies every batch and record, hands
// the records to a replay callback, and decides what a damaged region is.
//
// Why a bad region can be a torn tail only at the very end: the writer never starts a write before
// the previous batch's fdatasync returned, and creates a new segment only after that too. So under
// a crash only the last batch of the last segment can be incomplete. Damage followed by any valid
// batch (in the same file or in a later segment) therefore hit data that was once durable: that is
// corruption, and recovery refuses rather than drop acknowledged writes.
import fs from 'node:fs';
import path from 'node:path';
import { CorruptionError, StorageError } from './errors.js';
import { numberedFileName, parseNumberedFileName } from './file-names.js';
import {
  BATCH_HEADER_SIZE,
  BATCH_MAGIC,
  BatchFlags,
  type DecodedRecord,
  RecordType,
  SEGMENT_HEADER_SIZE,
  checkRecord,
  decodeRecord,
  decodeSegmentHeader,
  readBatchHeader,
} from './wal-format.js';

export const segmentFileName = (dir: string, seq: number): string => numberedFileName(dir, seq, 'wal');
export const parseSegmentFileName = (name: string): number | null => parseNumberedFileName(name, 'wal');

export interface RecoveredSegment {
  readonly seq: number;
  readonly file: string;
  /** End of the last valid batch: where the segment's valid bytes stop. */
  readonly validEnd: number;
  /** Size of the file as found. */
  readonly fileSize: number;
  /** Highest entry index per group found in this segment (for compaction). */
  readonly groupMax: Map<number, number>;
  /** No valid batch at all: a segment whose start (rename, checkpoint) a crash interrupted. */
  readonly empty: boolean;
}

export interface TornTail {
  readonly file: string;
  /** Offset of the first byte that was discarded (start of the incomplete batch). */
  readonly offset: number;
  /** Non-zero bytes from `offset` up to the last non-zero byte of the file. */
  readonly discardedBytes: number;
  readonly reason: string;
}

export interface LaneScan {
  readonly segments: RecoveredSegment[];
  /** Sequence number of the last valid batch (0 when the lane has none). */
  readonly lastBatchSeq: number;
  readonly batches: number;
  readonly records: number;
  readonly tornTail: TornTail | null;
  /** Leftover temporary files (preallocated segments never put in service). */
  readonly tempFiles: string[];
  readonly unknownFiles: string[];
}

export interface ReplaySink {
  /**
   * Apply one record; return a reason string if it contradicts what was replayed so far.
   * `checkpoint` is 'start' for the checkpoint replay begins at (the lane's first batch),
   * 'restated' for later checkpoints, and null for ordinary batches.
   */
  record(rec: DecodedRecord, file: string, offset: number, checkpoint: 'start' | 'restated' | null): string | null;
}

const ZERO_CHUNK = Buffer.alloc(64 * 1024);

/** memcmp against zeros, chunk by chunk: a preallocated segment is mostly zeros. */
function isAllZero(b: Buffer, from: number, to: number): boolean {
  for (let p = from; p < to; p += ZERO_CHUNK.length) {
    const n = Math.min(ZERO_CHUNK.length, to - p);
    if (ZERO_CHUNK.compare(b, p, p + n, 0, n) !== 0) return false;
  }
  return true;
}

function lastNonZero(b: Buffer, from: number): number {
  let end = b.length;
  while (end > from) {
    const start = Math.max(from, end - ZERO_CHUNK.length);
    if (!isAllZero(b, start, end)) {
      for (let i = end - 1; i >= start; i--) if (b[i] !== 0) return i;
    }
    end = start;
  }
  return from - 1;
}

/** Finds a valid batch header after `from` (same segment salt, sequence beyond `afterSeq`). */
function findLaterBatch(b: Buffer, from: number, salt: number, afterSeq: number): number {
  const magic = Buffer.alloc(4);
  magic.writeUInt32LE(BATCH_MAGIC, 0);
  let at = b.indexOf(magic, from);
  while (at >= 0) {
    const h = readBatchHeader(b, at, salt);
    if (h !== null && h.seq > afterSeq) return at;
    at = b.indexOf(magic, at + 1);
  }
  return -1;
}

interface BatchProblem {
  readonly batchOffset: number;
  readonly offset: number;
  readonly reason: string;
}

/** Verifies the frames of a batch body without applying anything; null when all are valid. */
function verifyBatch(b: Buffer, bodyStart: number, bodyEnd: number, count: number): BatchProblem | null {
  let off = bodyStart;
  for (let i = 0; i < count; i++) {
    const next = checkRecord(b, off, bodyEnd);
    if (typeof next === 'string') return { batchOffset: bodyStart - BATCH_HEADER_SIZE, offset: off, reason: `record ${i} of ${count}: ${next}` };
    off = next;
  }
  if (off !== bodyEnd) return { batchOffset: bodyStart - BATCH_HEADER_SIZE, offset: off, reason: `batch body has ${bodyEnd - off} bytes after its ${count} records` };
  return null;
}

export async function scanLane(dir: string, sink: ReplaySink): Promise<LaneScan> {
  const names = await fs.promises.readdir(dir);
  const tempFiles: string[] = [];
  const unknownFiles: string[] = [];
  const seqs: number[] = [];
  for (const n of names) {
    const seq = parseSegmentFileName(n);
    if (seq !== null) seqs.push(seq);
    else if (n.endsWith('.tmp')) tempFiles.push(path.join(dir, n));
    else unknownFiles.push(path.join(dir, n));
  }
  seqs.sort((a, b) => a - b);
  for (let i = 1; i < seqs.length; i++) {
    if (seqs[i] !== seqs[i - 1]! + 1) {
      throw new CorruptionError(segmentFileName(dir, seqs[i]!), 0, `WAL segment ${seqs[i - 1]! + 1} is missing (found ${seqs[i - 1]} then ${seqs[i]})`);
    }
  }
  const segments: RecoveredSegment[] = [];
  let expectSeq = -1;
  let batches = 0;
  let records = 0;
  let tornTail: TornTail | null = null;
  for (let si = 0; si < seqs.length; si++) {
    const seq = seqs[si]!;
    const file = segmentFileName(dir, seq);
    const isLast = si === seqs.length - 1;
    const b = await fs.promises.readFile(file);
    const header = decodeSegmentHeader(b);
    if (typeof header === 'string') throw new CorruptionError(file, 0, header);
    if (header.seq !== seq) throw new CorruptionError(file, 8, `segment header says sequence ${header.seq} but the file name says ${seq}`);
    const groupMax = new Map<number, number>();
    let off = SEGMENT_HEADER_SIZE;
    let first = true;
    for (;;) {
      const h = readBatchHeader(b, off, header.salt);
      let problem: BatchProblem | null = null;
      if (h === null) {
        if (isAllZero(b, off, b.length)) break; // clean end: nothing, or preallocated zeros
        problem = { batchOffset: off, offset: off, reason: 'damaged or incomplete batch header' };
      } else if (expectSeq >= 0 && h.seq !== expectSeq) {
        throw new CorruptionError(file, off, `batch sequence ${h.seq} where ${expectSeq} was expected (a batch is missing or out of place)`);
      } else if (off + BATCH_HEADER_SIZE + h.bodyLength > b.length) {
        problem = { batchOffset: off, offset: off, reason: `batch of ${h.bodyLength} bytes extends past the end of the file` };
      } else {
        problem = verifyBatch(b, off + BATCH_HEADER_SIZE, off + BATCH_HEADER_SIZE + h.bodyLength, h.count);
      }
      if (problem !== null) {
        const later = findLaterBatch(b, problem.batchOffset + 1, header.salt, expectSeq >= 0 ? expectSeq : 0);
        if (later >= 0) {
          throw new CorruptionError(file, problem.offset, `${problem.reason}, yet a valid batch follows at byte offset ${later}`);
        }
        if (!isLast) {
          throw new CorruptionError(file, problem.offset, `${problem.reason}, yet later segment ${segmentFileName(dir, seqs[si + 1]!)} exists`);
        }
        const nz = lastNonZero(b, problem.batchOffset);
        tornTail = { file, offset: problem.batchOffset, discardedBytes: nz + 1 - problem.batchOffset, reason: problem.reason };
        break;
      }
      const hdr = h!;
      if (first && (hdr.flags & BatchFlags.Checkpoint) === 0) {
        throw new CorruptionError(file, off, 'segment does not begin with a checkpoint batch');
      }
      const checkpoint = !first ? null : batches === 0 ? 'start' : 'restated';
      first = false;
      let rOff = off + BATCH_HEADER_SIZE;
      for (let i = 0; i < hdr.count; i++) {
        const rec = decodeRecord(b, rOff);
        if (typeof rec === 'string') throw new CorruptionError(file, rOff, rec);
        if (rec.type === RecordType.Entry) {
          const m = groupMax.get(rec.group);
          if (m === undefined || rec.entry.index > m) groupMax.set(rec.group, rec.entry.index);
        }
        const bad = sink.record(rec, file, rOff, checkpoint);
        if (bad !== null) throw new CorruptionError(file, rOff, `inconsistent with the data before it: ${bad}`);
        rOff += 8 + b.readUInt32LE(rOff);
        records++;
      }
      batches++;
      expectSeq = hdr.seq + 1;
      off = rOff;
    }
    if (first && !isLast) {
      throw new CorruptionError(file, SEGMENT_HEADER_SIZE, 'segment has no checkpoint batch, yet later segments exist');
    }
    segments.push({ empty: first, seq, file, validEnd: tornTail && tornTail.file === file ? tornTail.offset : off, fileSize: b.length, groupMax });
  }
  if (unknownFiles.length > 0 && seqs.length === 0 && tempFiles.length === 0) {
    throw new StorageError('layout', `WAL directory ${dir} holds files that are not WAL segments: ${unknownFiles.join(', ')}`);
  }
  return { segments, lastBatchSeq: expectSeq > 0 ? expectSeq - 1 : 0, batches, records, tornTail, tempFiles, unknownFiles };
}
