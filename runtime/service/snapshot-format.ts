// The snapshot container: a magic, a format version, then checksummed records.
//
//   snapshot = "VSNP" format:u8(=1) record* 
//   record   = type:u8 length:u32le payload[length] crc:u32le     crc = CRC-32 of type|length|payload
//
// Records: Header (first), Sessions*, Service*, End (last; counts what came before, so a cut-off
// stream is detected even when it ends on a record boundary). Each record is verified on its own,
// so corruption is reported with the byte offset of the record that holds it.
import { crc32 } from 'node:zlib';

export const SNAPSHOT_MAGIC = Buffer.from('VSNP', 'latin1');
export const SNAPSHOT_FORMAT = 1;
export const MAX_RECORD_BYTES = 64 * 1024 * 1024;
const RECORD_OVERHEAD = 9;
const EMPTY = Buffer.alloc(0);

export const RecordType = {
  Header: 1,
  Sessions: 2,
  Service: 3,
  End: 15,
} as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];

/** A snapshot stream failed verification. `offset` is the byte position in the stream. */
export class SnapshotError extends Error {
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(`snapshot invalid at byte ${offset}: ${message}`);
    this.name = 'SnapshotError';
    this.offset = offset;
  }
}

export function snapshotPreamble(): Buffer {
  const b = Buffer.allocUnsafe(5);
  SNAPSHOT_MAGIC.copy(b, 0);
  b[4] = SNAPSHOT_FORMAT;
  return b;
}

/** One framed record: a single contiguous buffer (one write for the consumer). */
export function frameRecord(type: RecordType, payload: Uint8Array): Buffer {
  if (payload.length > MAX_RECORD_BYTES) throw new RangeError(`record of ${payload.length} bytes exceeds ${MAX_RECORD_BYTES}`);
  const out = Buffer.allocUnsafe(payload.length + RECORD_OVERHEAD);
  out[0] = type;
  out.writeUInt32LE(payload.length, 1);
  out.set(payload, 5);
  const crc = crc32(out.subarray(0, 5 + payload.length));
  out.writeUInt32LE(crc, 5 + payload.length);
  return out;
}

/**
 * A framed record as three pieces (head, the payload itself, crc), so a large payload is not
 * copied just to add nine bytes around it.
 */
export function frameRecordParts(type: RecordType, payload: Uint8Array): [Buffer, Uint8Array, Buffer] {
  if (payload.length > MAX_RECORD_BYTES) throw new RangeError(`record of ${payload.length} bytes exceeds ${MAX_RECORD_BYTES}`);
  const head = Buffer.allocUnsafe(5);
  head[0] = type;
  head.writeUInt32LE(payload.length, 1);
  const crc = Buffer.allocUnsafe(4);
  crc.writeUInt32LE(crc32(payload, crc32(head)), 0);
  return [head, payload, crc];
}

export interface SnapshotRecord {
  readonly type: number;
  readonly payload: Buffer;
  /** Offset of the record's first byte in the stream. */
  readonly offset: number;
}

/** Accumulates arbitrarily sized chunks and hands out contiguous byte ranges. */
class ChunkQueue {
  private chunks: Buffer[] = [];
  /** Index of the first unconsumed chunk, and the read position inside it. */
  private first = 0;
  private head = 0;
  available = 0;
  /** Stream offset of the next unread byte. */
  offset = 0;

  push(c: Uint8Array): void {
    if (c.length === 0) return;
    if (this.first > 1024) {
      this.chunks = this.chunks.slice(this.first);
      this.first = 0;
    }
    this.chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength));
    this.available += c.length;
  }

  /** Byte at `i` positions ahead, without consuming (i < available). */
  peekU8(i: number): number {
    let idx = this.first;
    let pos = this.head + i;
    while (pos >= this.chunks[idx]!.length) {
      pos -= this.chunks[idx]!.length;
      idx++;
    }
    return this.chunks[idx]![pos]!;
  }

  peekU32le(i: number): number {
    return (this.peekU8(i) | (this.peekU8(i + 1) << 8) | (this.peekU8(i + 2) << 16) | (this.peekU8(i + 3) << 24)) >>> 0;
  }

  /** Release a consumed chunk so it can be collected. */
  private dropFirst(): void {
    this.chunks[this.first] = EMPTY;
    this.first++;
    this.head = 0;
  }

  /** Consume `n` ≤ available bytes: a view when they lie in one chunk, else a copy. */
  take(n: number): Buffer {
    const firstChunk = this.chunks[this.first]!;
    let out: Buffer;
    if (this.head + n <= firstChunk.length) {
      out = firstChunk.subarray(this.head, this.head + n);
      this.head += n;
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const c = this.chunks[this.first]!;
        const k = Math.min(n - filled, c.length - this.head);
        c.copy(out, filled, this.head, this.head + k);
        filled += k;
        this.head += k;
        if (this.head === c.length) this.dropFirst();
      }
    }
    if (this.first < this.chunks.length && this.head === this.chunks[this.first]!.length) this.dropFirst();
    this.available -= n;
    this.offset += n;
    return out;
  }
}

/**
 * Verify and split a snapshot stream into records. Throws SnapshotError on a bad magic or format,
 * a checksum mismatch, an oversized or truncated record, a missing End record, a count mismatch
 * or bytes after the End record.
 */
export async function* readRecords(stream: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncGenerator<SnapshotRecord> {
  const q = new ChunkQueue();
  let preamble = false;
  let records = 0;
  let ended = false;
  for await (const chunk of stream) {
    if (!(chunk instanceof Uint8Array)) throw new SnapshotError(`stream yielded a ${typeof chunk}, not bytes`, q.offset + q.available);
    if (ended && chunk.length > 0) throw new SnapshotError('bytes after the End record', q.offset);
    q.push(chunk);
    if (!preamble) {
      if (q.available < 5) continue;
      const head = q.take(5);
      if (!head.subarray(0, 4).equals(SNAPSHOT_MAGIC)) throw new SnapshotError(`bad magic ${JSON.stringify(head.subarray(0, 4).toString('latin1'))} (expected "VSNP")`, 0);
      if (head[4] !== SNAPSHOT_FORMAT) throw new SnapshotError(`unsupported format ${head[4]} (this build reads ${SNAPSHOT_FORMAT})`, 4);
      preamble = true;
    }
    while (q.available >= 5) {
      const at = q.offset;
      const type = q.peekU8(0);
      const len = q.peekU32le(1);
      if (len > MAX_RECORD_BYTES) throw new SnapshotError(`record length ${len} exceeds ${MAX_RECORD_BYTES}`, at);
      if (q.available < len + RECORD_OVERHEAD) break;
      const whole = q.take(len + RECORD_OVERHEAD);
      const expected = whole.readUInt32LE(5 + len);
      const actual = crc32(whole.subarray(0, 5 + len));
      if (actual !== expected) throw new SnapshotError(`checksum mismatch in record (type ${type}, ${len} bytes)`, at);
      const payload = whole.subarray(5, 5 + len);
      if (type === RecordType.End) {
        checkEnd(payload, records, at);
        ended = true;
        if (q.available > 0) throw new SnapshotError('bytes after the End record', q.offset);
        break;
      }
      records++;
      yield { type, payload, offset: at };
    }
  }
  if (!preamble) throw new SnapshotError(`truncated: ${q.available} bytes, no complete preamble`, 0);
  if (!ended) {
    const more = q.available > 0 ? ` (${q.available} bytes of an incomplete record)` : '';
    throw new SnapshotError(`truncated: stream ended before the End record${more}`, q.offset);
  }
}

function checkEnd(payload: Buffer, records: number, at: number): void {
  if (payload.length !== 4) throw new SnapshotError(`End record has ${payload.length} bytes (expected 4)`, at);
  const declared = payload.readUInt32LE(0);
  if (declared !== records) throw new SnapshotError(`End record counts ${declared} records but ${records} were read`, at);
}

export function endRecord(records: number): Buffer {
  const p = Buffer.allocUnsafe(4);
  p.writeUInt32LE(records >>> 0, 0);
  return frameRecord(RecordType.End, p);
}
