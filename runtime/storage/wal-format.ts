// The WAL's bytes on disk. docs/storage.md describes the same layout in prose; keep both in step.
// All integers are little-endian. u64 values are JS safe integers (< 2^53), stored as lo/hi u32.
//
// segment := SegmentHeader(64) Batch* zero-fill*
// Batch   := BatchHeader(32) Record{count}
// Record  := u32 bodyLength, u32 crc32c(body), body
// body    := u8 type, u8 flags, u16 reserved(0), u32 group, type-specific fields
import type { Entry, EntryType, HardState, Membership } from '../protocols/api.js';
import { readU64LE, writeU64LE, type ByteWriter } from '../common/bytes.js';
import { crc32c } from './crc32c.js';

export const SEGMENT_MAGIC = 0x4c415756; // "VWAL"
export const FORMAT_VERSION = 1;
export const SEGMENT_HEADER_SIZE = 64;
export const BATCH_MAGIC = 0x54414256; // "VBAT"
export const BATCH_HEADER_SIZE = 32;
export const RECORD_FRAME = 8; // length + crc
export const RECORD_FIXED = 16; // frame + type/flags/reserved/group

export const RecordType = { Entry: 1, HardState: 2, Snapshot: 3, LogState: 4 } as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];

export const BatchFlags = { Checkpoint: 1 } as const;
export const SnapshotFlags = { Restated: 1 } as const;

/** Largest record body accepted on read; a length field beyond it is treated as damage. */
export const MAX_RECORD_BODY = 1 << 30;

// ---------------------------------------------------------------- segment header

export interface SegmentHeader {
  readonly seq: number;
  readonly salt: number;
}

export function encodeSegmentHeader(seq: number, salt: number): Buffer {
  const b = Buffer.alloc(SEGMENT_HEADER_SIZE);
  b.writeUInt32LE(SEGMENT_MAGIC, 0);
  b.writeUInt32LE(FORMAT_VERSION, 4);
  writeU64LE(b, 8, seq);
  b.writeUInt32LE(salt >>> 0, 16);
  b.writeUInt32LE(crc32c(b, 0, 60), 60);
  return b;
}

/** Parses a segment header; returns a reason string when it is not valid. */
export function decodeSegmentHeader(b: Buffer): SegmentHeader | string {
  if (b.length < SEGMENT_HEADER_SIZE) return `file is ${b.length} bytes, shorter than the ${SEGMENT_HEADER_SIZE}-byte segment header`;
  if (b.readUInt32LE(0) !== SEGMENT_MAGIC) return 'bad segment magic (not a verdant WAL segment)';
  if (b.readUInt32LE(60) !== crc32c(b, 0, 60)) return 'segment header checksum mismatch';
  const version = b.readUInt32LE(4);
  if (version !== FORMAT_VERSION) return `unsupported WAL format version ${version} (this build reads ${FORMAT_VERSION})`;
  const seq = readU64LE(b, 8);
  if (seq < 0) return 'segment sequence number out of range';
  return { seq, salt: b.readUInt32LE(16) };
}

// ---------------------------------------------------------------- batch header

export interface BatchHeader {
  readonly bodyLength: number;
  readonly count: number;
  readonly seq: number;
  readonly flags: number;
}

export function writeBatchHeader(b: Buffer, off: number, salt: number, bodyLength: number, count: number, seq: number, flags: number): void {
  b.writeUInt32LE(BATCH_MAGIC, off);
  b.writeUInt32LE(bodyLength, off + 8);
  b.writeUInt32LE(count, off + 12);
  writeU64LE(b, off + 16, seq);
  b.writeUInt32LE(flags, off + 24);
  b.writeUInt32LE(0, off + 28);
  // Seeded with the segment's random salt: record payloads are client bytes, and a client must
  // not be able to forge something recovery would take for a batch boundary.
  b.writeUInt32LE(crc32c(b, off + 8, off + BATCH_HEADER_SIZE, salt), off + 4);
}

/** Parses a batch header at `off`; null when it is absent, damaged or not from this segment. */
export function readBatchHeader(b: Buffer, off: number, salt: number): BatchHeader | null {
  if (off + BATCH_HEADER_SIZE > b.length) return null;
  if (b.readUInt32LE(off) !== BATCH_MAGIC) return null;
  if (b.readUInt32LE(off + 4) !== crc32c(b, off + 8, off + BATCH_HEADER_SIZE, salt)) return null;
  const seq = readU64LE(b, off + 16);
  if (seq < 0) return null;
  return { bodyLength: b.readUInt32LE(off + 8), count: b.readUInt32LE(off + 12), seq, flags: b.readUInt32LE(off + 24) };
}

// ---------------------------------------------------------------- records

// Records are encoded into a ByteWriter (reused across batches) at fixed offsets from its
// position: ensure() the record's size, write it, then frame() moves the position past it.
function frame(eb: ByteWriter, start: number, end: number): void {
  const b = eb.buf;
  b.writeUInt32LE(end - start - RECORD_FRAME, start);
  b.writeUInt32LE(crc32c(b, start + RECORD_FRAME, end), start + 4);
  eb.pos = end;
}

function fixed(b: Buffer, start: number, type: RecordType, flags: number, group: number): void {
  b[start + 8] = type;
  b[start + 9] = flags;
  b[start + 10] = 0;
  b[start + 11] = 0;
  b.writeUInt32LE(group, start + 12);
}

export const ENTRY_HEADER = RECORD_FIXED + 16;

export function encodeEntry(eb: ByteWriter, group: number, e: Entry): void {
  const size = ENTRY_HEADER + e.data.length;
  eb.ensure(size);
  const b = eb.buf;
  const s = eb.pos;
  fixed(b, s, RecordType.Entry, e.type, group);
  writeU64LE(b, s + 16, e.index);
  writeU64LE(b, s + 24, e.term);
  b.set(e.data, s + ENTRY_HEADER);
  frame(eb, s, s + size);
}

export const HARD_STATE_SIZE = RECORD_FIXED + 24;

export function encodeHardState(eb: ByteWriter, group: number, hs: HardState): void {
  eb.ensure(HARD_STATE_SIZE);
  const b = eb.buf;
  const s = eb.pos;
  fixed(b, s, RecordType.HardState, 0, group);
  writeU64LE(b, s + 16, hs.term);
  writeU64LE(b, s + 24, hs.commit);
  b.writeUInt32LE(hs.vote, s + 32);
  b.writeUInt32LE(0, s + 36);
  frame(eb, s, s + HARD_STATE_SIZE);
}

/** What the WAL records about a snapshot: its metadata and the file holding the image. */
export interface SnapshotRef {
  readonly index: number;
  readonly term: number;
  readonly membership: Membership;
  /** Snapshot file id (`snap/<id as 16 hex digits>.snap`). */
  readonly fileId: number;
  /** Length and CRC32C of the image; cross-checked against the file on load. */
  readonly size: number;
  readonly crc: number;
}

const NO_OUTGOING = 0xffff;

export function encodeSnapshotRef(eb: ByteWriter, group: number, r: SnapshotRef, flags: number): void {
  const m = r.membership;
  const nOut = m.votersOutgoing ? m.votersOutgoing.length : 0;
  const size = RECORD_FIXED + 44 + 4 * (m.voters.length + m.learners.length + nOut);
  eb.ensure(size);
  const b = eb.buf;
  const s = eb.pos;
  fixed(b, s, RecordType.Snapshot, flags, group);
  writeU64LE(b, s + 16, r.index);
  writeU64LE(b, s + 24, r.term);
  writeU64LE(b, s + 32, r.fileId);
  writeU64LE(b, s + 40, r.size);
  b.writeUInt32LE(r.crc >>> 0, s + 48);
  b.writeUInt16LE(m.voters.length, s + 52);
  b.writeUInt16LE(m.learners.length, s + 54);
  b.writeUInt16LE(m.votersOutgoing ? m.votersOutgoing.length : NO_OUTGOING, s + 56);
  b.writeUInt16LE(0, s + 58);
  let p = s + 60;
  for (const id of m.voters) (b.writeUInt32LE(id, p), (p += 4));
  for (const id of m.learners) (b.writeUInt32LE(id, p), (p += 4));
  if (m.votersOutgoing) for (const id of m.votersOutgoing) (b.writeUInt32LE(id, p), (p += 4));
  frame(eb, s, p);
}

/** The shape of a group's log (last index and term runs), restated in checkpoints. */
export interface LogShape {
  readonly lastIndex: number;
  readonly runStart: readonly number[];
  readonly runTerm: readonly number[];
}

export function encodeLogState(eb: ByteWriter, group: number, shape: LogShape): void {
  const n = shape.runStart.length;
  const size = RECORD_FIXED + 16 + 16 * n;
  eb.ensure(size);
  const b = eb.buf;
  const s = eb.pos;
  fixed(b, s, RecordType.LogState, 0, group);
  writeU64LE(b, s + 16, shape.lastIndex);
  b.writeUInt32LE(n, s + 24);
  b.writeUInt32LE(0, s + 28);
  let p = s + 32;
  for (let i = 0; i < n; i++, p += 16) {
    writeU64LE(b, p, shape.runStart[i]!);
    writeU64LE(b, p + 8, shape.runTerm[i]!);
  }
  frame(eb, s, p);
}

export type DecodedRecord =
  | { readonly type: typeof RecordType.Entry; readonly group: number; readonly entry: Entry }
  | { readonly type: typeof RecordType.HardState; readonly group: number; readonly hardState: HardState }
  | { readonly type: typeof RecordType.Snapshot; readonly group: number; readonly ref: SnapshotRef; readonly restated: boolean }
  | { readonly type: typeof RecordType.LogState; readonly group: number; readonly shape: LogShape };

/**
 * Checks the record frame at `off` (length within `end`, checksum). Returns the offset just past
 * it, or a reason string when the record is damaged or incomplete.
 */
export function checkRecord(b: Buffer, off: number, end: number): number | string {
  if (off + RECORD_FIXED > end) return 'record header extends past the end of its batch';
  const bodyLen = b.readUInt32LE(off);
  if (bodyLen < RECORD_FIXED - RECORD_FRAME || bodyLen > MAX_RECORD_BODY) return `implausible record length ${bodyLen}`;
  const next = off + RECORD_FRAME + bodyLen;
  if (next > end) return `record of ${bodyLen} bytes extends past the end of its batch`;
  const want = b.readUInt32LE(off + 4);
  const got = crc32c(b, off + RECORD_FRAME, next);
  if (want !== got) return `record checksum mismatch (stored 0x${want.toString(16)}, computed 0x${got.toString(16)})`;
  return next;
}

/** Decodes a record whose frame checkRecord accepted; returns a reason string on bad contents. */
export function decodeRecord(b: Buffer, off: number): DecodedRecord | string {
  const next = off + RECORD_FRAME + b.readUInt32LE(off);
  const type = b[off + 8];
  const flags = b[off + 9]!;
  const group = b.readUInt32LE(off + 12);
  switch (type) {
    case RecordType.Entry: {
      if (next < off + ENTRY_HEADER) return 'entry record too short';
      if (flags > 3) return `unknown entry type ${flags}`;
      const index = readU64LE(b, off + 16);
      const term = readU64LE(b, off + 24);
      if (index < 1 || term < 0) return 'entry index or term out of range';
      // A copy, so entries do not pin the (preallocated, mostly empty) segment buffer.
      const data = Buffer.from(b.subarray(off + ENTRY_HEADER, next));
      return { type, group, entry: { index, term, type: flags as EntryType, data } };
    }
    case RecordType.HardState: {
      if (next !== off + HARD_STATE_SIZE) return 'hard-state record has the wrong length';
      const term = readU64LE(b, off + 16);
      const commit = readU64LE(b, off + 24);
      if (term < 0 || commit < 0) return 'hard-state field out of range';
      return { type, group, hardState: { term, commit, vote: b.readUInt32LE(off + 32) } };
    }
    case RecordType.Snapshot: {
      if (next < off + RECORD_FIXED + 44) return 'snapshot record too short';
      const index = readU64LE(b, off + 16);
      const term = readU64LE(b, off + 24);
      const fileId = readU64LE(b, off + 32);
      const size = readU64LE(b, off + 40);
      if (index < 0 || term < 0 || fileId < 0 || size < 0) return 'snapshot field out of range';
      const nV = b.readUInt16LE(off + 52);
      const nL = b.readUInt16LE(off + 54);
      const nORaw = b.readUInt16LE(off + 56);
      const nO = nORaw === NO_OUTGOING ? 0 : nORaw;
      if (off + 60 + 4 * (nV + nL + nO) !== next) return 'snapshot record membership length mismatch';
      let p = off + 60;
      const ids = (n: number): number[] => {
        const out: number[] = [];
        for (let i = 0; i < n; i++, p += 4) out.push(b.readUInt32LE(p));
        return out;
      };
      const voters = ids(nV);
      const learners = ids(nL);
      const membership: Membership = nORaw === NO_OUTGOING ? { voters, learners } : { voters, learners, votersOutgoing: ids(nO) };
      return {
        type,
        group,
        ref: { index, term, membership, fileId, size, crc: b.readUInt32LE(off + 48) },
        restated: (flags & SnapshotFlags.Restated) !== 0,
      };
    }
    case RecordType.LogState: {
      if (next < off + RECORD_FIXED + 16) return 'log-state record too short';
      const lastIndex = readU64LE(b, off + 16);
      const n = b.readUInt32LE(off + 24);
      if (lastIndex < 0 || off + 32 + 16 * n !== next) return 'log-state record length mismatch';
      const runStart: number[] = [];
      const runTerm: number[] = [];
      for (let i = 0, p = off + 32; i < n; i++, p += 16) {
        const st = readU64LE(b, p);
        const te = readU64LE(b, p + 8);
        if (st < 1 || te < 0) return 'log-state run out of range';
        runStart.push(st);
        runTerm.push(te);
      }
      return { type, group, shape: { lastIndex, runStart, runTerm } };
    }
    default:
      return `unknown record type ${String(type)}`;
  }
}
