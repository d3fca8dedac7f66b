// The byte codec toolkit every binary format in verdant is written with: the Raft messages, the
// peer and client ports, the service envelopes, KV bodies and snapshots, the WAL, multi-Raft
// records. Pure (no I/O, no clock), so protocol cores may use it.
//
// ByteWriter appends into one growable buffer that callers reuse across messages (reset() keeps the
// allocation), so steady-state encoding allocates nothing but its result. ByteReader reads a
// Uint8Array with bounds checks; malformed input only ever throws DecodeError, whose message names
// what was decoded, the problem and the byte offset — never a RangeError from inside Buffer.
//
// Integers: fixed-width u8/u16/u32/u64/f64 big-endian unless the name says `le`, and unsigned
// LEB128 varints. Varints are canonical (an overlong encoding is rejected, so every value has one
// encoding), at most 8 bytes, and like u64 limited to 2^53-1: JavaScript numbers are exact up to
// there, and larger values are refused rather than rounded. A `string` is a varint UTF-8 byte
// length and the bytes; `bytes` is a varint length and the bytes.

/** Malformed input. `offset` is the byte position in the decoded input (-1 when not known). */
export class DecodeError extends Error {
  /** What was being decoded ("command", "raft message", ...); '' when not given. */
  readonly what: string;
  /** The problem, without what or where. */
  readonly reason: string;
  readonly offset: number;
  constructor(reason: string, offset = -1, what = '') {
    super(`${what === '' ? '' : `${what}: `}${reason}${offset >= 0 ? ` at byte ${offset}` : ''}`);
    this.name = 'DecodeError';
    this.what = what;
    this.reason = reason;
    this.offset = offset;
  }
}

export const MAX_VARINT_BYTES = 8;
const TWO_POW_32 = 0x1_0000_0000;
const EMPTY = Buffer.alloc(0);

/** A Buffer over the same memory (no copy). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// Keys are handled as latin1 strings (one char per byte, so string order is byte order). Node's
// Buffer has fast latin1Slice/latin1Write methods behind toString/write; use them when present.
type Latin1Proto = {
  latin1Slice?: (this: Buffer, start: number, end: number) => string;
  latin1Write?: (this: Buffer, s: string, offset: number) => number;
};
const proto = Buffer.prototype as unknown as Latin1Proto;
const nativeSlice = proto.latin1Slice;
const nativeWrite = proto.latin1Write;

/** bytes[start, end) as a latin1 string. */
export const latin1String: (buf: Buffer, start: number, end: number) => string =
  nativeSlice !== undefined ? (buf, start, end) => nativeSlice.call(buf, start, end) : (buf, start, end) => buf.toString('latin1', start, end);

/** Write a latin1 string's chars as bytes at `offset`; returns the byte count. */
export const writeLatin1: (buf: Buffer, s: string, offset: number) => number =
  nativeWrite !== undefined ? (buf, s, offset) => nativeWrite.call(buf, s, offset) : (buf, s, offset) => buf.write(s, offset, 'latin1');

/** Number of bytes the varint encoding of `v` takes. */
export function varintSize(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x20_0000) return 3;
  if (v < 0x1000_0000) return 4;
  let n = 4;
  v = Math.floor(v / 0x1000_0000);
  while (v > 0) {
    n++;
    v = Math.floor(v / 128);
  }
  return n;
}

/**
 * Writes the varint encoding of `v` at `offset` (the caller made room: varintSize(v) bytes, at
 * most 8); returns the offset after it. Throws RangeError unless `v` is a safe non-negative integer.
 */
export function writeVarint(out: Uint8Array, offset: number, v: number): number {
  let p = offset;
  if (v >>> 0 === v) {
    // 32-bit values: bit operations only.
    while (v > 0x7f) {
      out[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    out[p++] = v;
    return p;
  }
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`varint must be a safe non-negative integer, got ${v}`);
  while (v > 0x7f) {
    out[p++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  out[p++] = v;
  return p;
}

/** Writes a u64 (a safe integer) as 8 little-endian bytes at `offset`. */
export function writeU64LE(buf: Buffer, offset: number, v: number): void {
  buf.writeUInt32LE(v >>> 0, offset);
  buf.writeUInt32LE(Math.floor(v / TWO_POW_32), offset + 4);
}

/** Reads 8 little-endian bytes at `offset`; -1 when the value is not a safe integer. */
export function readU64LE(buf: Buffer, offset: number): number {
  const hi = buf.readUInt32LE(offset + 4);
  if (hi > 0x1f_ffff) return -1;
  return hi * TWO_POW_32 + buf.readUInt32LE(offset);
}

/**
 * Reads one input. Views it returns (raw, bytes) are subarrays of the input, of the input's own
 * class: a Buffer gives Buffers, a plain Uint8Array plain ones. `field` arguments only name the
 * field in error messages.
 */
export class ByteReader<B extends Uint8Array = Uint8Array> {
  /** The input, as given. */
  src: B;
  pos: number;
  end: number;
  /** Names the thing being decoded in error messages ("command", "raft message", ...). */
  what: string;
  private asBuf: Buffer | undefined;

  constructor(bytes?: B, what = 'input', start = 0, end = bytes === undefined ? 0 : bytes.length) {
    this.src = bytes ?? (EMPTY as Uint8Array as B);
    this.pos = start;
    this.end = end;
    this.what = what;
    this.asBuf = undefined;
  }

  /** Re-point this reader at new input, so hot loops need not allocate readers. */
  reset(bytes: B, start = 0, end = bytes.length, what = this.what): this {
    this.src = bytes;
    this.pos = start;
    this.end = end;
    this.what = what;
    this.asBuf = undefined;
    return this;
  }

  /** The input as a Buffer (the same memory; made on first use when the input is not one). */
  get buf(): Buffer {
    return (this.asBuf ??= asBuffer(this.src));
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  fail(reason: string, at = this.pos): never {
    throw new DecodeError(reason, at, this.what);
  }

  private truncated(n: number, field: string): never {
    const left = this.end - this.pos;
    return this.fail(`truncated reading ${field}${n > 1 ? ` (need ${n} bytes, have ${left})` : ''}`);
  }

  u8(field?: string): number {
    if (this.pos >= this.end) this.truncated(1, field ?? 'u8');
    return this.src[this.pos++]!;
  }

  u16(field?: string): number {
    if (this.end - this.pos < 2) this.truncated(2, field ?? 'u16');
    const b = this.src;
    const p = this.pos;
    this.pos = p + 2;
    return (b[p]! << 8) | b[p + 1]!;
  }

  u32(field?: string): number {
    if (this.end - this.pos < 4) this.truncated(4, field ?? 'u32');
    const b = this.src;
    const p = this.pos;
    this.pos = p + 4;
    return b[p]! * 0x100_0000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
  }

  u32le(field?: string): number {
    if (this.end - this.pos < 4) this.truncated(4, field ?? 'u32le');
    const b = this.src;
    const p = this.pos;
    this.pos = p + 4;
    return b[p + 3]! * 0x100_0000 + ((b[p + 2]! << 16) | (b[p + 1]! << 8) | b[p]!);
  }

  u64(field?: string): number {
    const at = this.pos;
    const hi = this.u32(field ?? 'u64');
    const lo = this.u32(field ?? 'u64');
    if (hi > 0x1f_ffff) this.fail(`${field ?? 'u64'} exceeds 2^53-1`, at);
    return hi * TWO_POW_32 + lo;
  }

  f64(field?: string): number {
    if (this.end - this.pos < 8) this.truncated(8, field ?? 'f64');
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }

  varint(field?: string): number {
    return this.varintNamed(field, '');
  }

  /** A varint no larger than `max`: lengths, counts, enums. */
  varintMax(max: number, field: string): number {
    const at = this.pos;
    const v = this.varintNamed(field, '');
    if (v > max) this.fail(`${field} ${v} exceeds ${max}`, at);
    return v;
  }

  /** A count of items that each take at least `minItemBytes`, so it cannot exceed what is left. */
  count(field: string, minItemBytes: number): number {
    const at = this.pos;
    const n = this.varintNamed(field, ' count');
    if (n * minItemBytes > this.end - this.pos) this.fail(`${field} count ${n} exceeds the remaining input`, at);
    return n;
  }

  /**
   * A varint; errors name it `field + suffix`. The messages are built in varintError so that this
   * function stays small enough for V8 to inline into its callers (it runs per field).
   */
  private varintNamed(field: string | undefined, suffix: string): number {
    const b = this.src;
    const start = this.pos;
    if (start >= this.end) return this.varintError('empty', field, suffix, start);
    let byte = b[start]!;
    if (byte < 0x80) {
      this.pos = start + 1;
      return byte;
    }
    let value = byte & 0x7f;
    let scale = 128;
    let p = start + 1;
    for (;;) {
      if (p >= this.end) return this.varintError('cut', field, suffix, start);
      if (p - start >= MAX_VARINT_BYTES) return this.varintError('long', field, suffix, start);
      byte = b[p++]!;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        if (byte === 0) return this.varintError('overlong', field, suffix, start);
        break;
      }
      scale *= 128;
    }
    if (value > Number.MAX_SAFE_INTEGER) return this.varintError('big', field, suffix, start);
    this.pos = p;
    return value;
  }

  private varintError(problem: 'empty' | 'cut' | 'long' | 'overlong' | 'big', field: string | undefined, suffix: string, start: number): never {
    const named = field === undefined ? '' : ` reading ${field}${suffix}`;
    switch (problem) {
      case 'empty':
        return this.fail(`truncated varint${named}: unexpected end of input`);
      case 'cut':
        return this.fail(`truncated varint${named}: runs past the end of input`, start);
      case 'long':
        return this.fail(`varint longer than ${MAX_VARINT_BYTES} bytes${named}`, start);
      case 'overlong':
        return this.fail(`overlong (non-minimal) varint${named}`, start);
      case 'big':
        return this.fail(`${field === undefined ? 'varint' : field + suffix} exceeds 2^53-1`, start);
    }
  }

  /** Skip `n` bytes; returns where they start. */
  skip(n: number, field = 'field'): number {
    const at = this.pos;
    if (n > this.end - at) this.fail(`${field} of ${n} bytes runs past the end of input (${this.end - at} left)`);
    this.pos = at + n;
    return at;
  }

  /** The next `n` bytes, as a view (no copy). */
  raw(n: number, field = 'field'): B {
    const at = this.skip(n, field);
    return this.src.subarray(at, at + n) as B;
  }

  /** A varint length (at most `max`, if given) and that many bytes, as a view (no copy). */
  bytes(field = 'byte string', max?: number): B {
    const start = this.skipLengthPrefixed(field, max);
    return this.src.subarray(start, this.pos) as B;
  }

  /** A varint byte length (at most `max`, if given) and that much UTF-8 text. */
  string(field = 'string', max?: number): string {
    const start = this.skipLengthPrefixed(field, max);
    return this.buf.toString('utf8', start, this.pos);
  }

  /** Reads a varint length and skips that many bytes; returns where they start. */
  private skipLengthPrefixed(field: string, max: number | undefined): number {
    const at = this.pos;
    const n = this.varintNamed(field, ' length');
    if (max !== undefined && n > max) this.fail(`${field} length ${n} exceeds ${max}`, at);
    const start = this.pos;
    if (n > this.end - start) this.fail(`${field} of ${n} bytes overruns input (${this.end - start} left)`, at);
    this.pos = start + n;
    return start;
  }

  /** Throws unless the whole input was read: trailing bytes mean a malformed message. */
  expectEnd(): void {
    if (this.pos !== this.end) this.fail(`${this.end - this.pos} unexpected trailing bytes`);
  }
}

export class ByteWriter {
  /** The buffer being written; replaced when it grows. */
  buf: Buffer;
  /** A plain Uint8Array over `buf` (finish() copies from it). */
  private plain: Uint8Array;
  /** Next write position == number of bytes written since the last reset(). */
  pos = 0;

  constructor(initialCapacity = 256) {
    this.buf = Buffer.allocUnsafe(Math.max(16, initialCapacity));
    this.plain = new Uint8Array(this.buf.buffer, this.buf.byteOffset, this.buf.length);
  }

  get capacity(): number {
    return this.buf.length;
  }

  /** Forget the contents and keep the allocation. */
  reset(): this {
    this.pos = 0;
    return this;
  }

  /** Make room for `n` more bytes, growing geometrically. */
  ensure(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const next = Buffer.allocUnsafe(cap);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
    this.plain = new Uint8Array(next.buffer, next.byteOffset, next.length);
  }

  u8(v: number): this {
    if (this.pos >= this.buf.length) this.ensure(1);
    this.buf[this.pos++] = v;
    return this;
  }

  u16(v: number): this {
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
    return this;
  }

  u32(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
    return this;
  }

  u32le(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32LE(v >>> 0, this.pos);
    this.pos += 4;
    return this;
  }

  /** An unsigned integer up to 2^53-1 as 8 big-endian bytes. */
  u64(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`u64 must be a safe non-negative integer, got ${v}`);
    this.ensure(8);
    const hi = Math.floor(v / TWO_POW_32);
    this.buf.writeUInt32BE(hi, this.pos);
    this.buf.writeUInt32BE(v - hi * TWO_POW_32, this.pos + 4);
    this.pos += 8;
    return this;
  }

  f64(v: number): this {
    this.ensure(8);
    this.buf.writeDoubleBE(v, this.pos);
    this.pos += 8;
    return this;
  }

  /** Unsigned LEB128: 1 byte below 128, at most 8 for 2^53-1. RangeError for anything else. */
  varint(v: number): this {
    this.ensure(MAX_VARINT_BYTES);
    this.pos = writeVarint(this.buf, this.pos, v);
    return this;
  }

  /** `src[start, end)`, no length prefix. */
  raw(src: Uint8Array, start = 0, end = src.length): this {
    const n = end - start;
    this.ensure(n);
    if (n <= 16) {
      // Short copies: a loop beats the native call's overhead.
      const buf = this.buf;
      let p = this.pos;
      for (let i = start; i < end; i++) buf[p++] = src[i]!;
    } else if (start === 0 && end === src.length) {
      this.buf.set(src, this.pos);
    } else if (Buffer.isBuffer(src)) {
      src.copy(this.buf, this.pos, start, end);
    } else {
      this.buf.set(src.subarray(start, end), this.pos);
    }
    this.pos += n;
    return this;
  }

  /** A varint length, then `src[start, end)`. */
  bytes(src: Uint8Array, start = 0, end = src.length): this {
    this.varint(end - start);
    return this.raw(src, start, end);
  }

  /** A varint UTF-8 byte length, then the UTF-8 bytes. */
  string(s: string): this {
    const n = Buffer.byteLength(s, 'utf8');
    this.varint(n);
    this.ensure(n);
    this.pos += this.buf.write(s, this.pos, n, 'utf8');
    return this;
  }

  /** A latin1 string (each char one byte) with a varint length: how keys travel. */
  latin1(s: string): this {
    this.varint(s.length);
    this.ensure(s.length);
    this.pos += writeLatin1(this.buf, s, this.pos);
    return this;
  }

  /** Skip `n` bytes to be filled in later with patchU32; returns their offset. */
  reserve(n: number): number {
    this.ensure(n);
    const at = this.pos;
    this.pos += n;
    return at;
  }

  /** A big-endian u32 at an earlier offset (e.g. a length reserved before the body was known). */
  patchU32(offset: number, v: number): void {
    this.buf.writeUInt32BE(v, offset);
  }

  /** A view of bytes written, aliasing the writer: valid until the next write or reset(). */
  view(start = 0, end = this.pos): Buffer {
    return this.buf.subarray(start, end);
  }

  /**
   * What was written, copied into a plain Uint8Array of its own (results up to 64 bytes live on the
   * V8 heap, which makes them cheap). The writer can then be reset and reused. What codecs return.
   */
  finish(): Uint8Array {
    const n = this.pos;
    if (n > 16) return this.plain.slice(0, n);
    // A few bytes (the typical service result): a loop beats slice()'s generic path.
    const out = new Uint8Array(n);
    const buf = this.buf;
    for (let i = 0; i < n; i++) out[i] = buf[i]!;
    return out;
  }

  /**
   * What was written, copied into a Buffer from Node's pool: cheaper than finish() above 64 bytes,
   * but it may share its ArrayBuffer with other Buffers (never transfer that). For socket writes.
   */
  toBytes(): Buffer {
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    return out;
  }
}
