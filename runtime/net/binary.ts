// A compact binary codec toolkit for protocol messages (Raft's, the client protocol's).
//
// BinaryWriter appends into one growable Buffer that callers reuse across messages (reset() keeps
// the allocation), so steady-state encoding allocates nothing. BinaryReader reads a Uint8Array with
// bounds checks; every malformed input throws DecodeError naming the offset, never a RangeError
// from deep inside Buffer.
//
// Integers: fixed-width big-endian u8/u16/u32/u64 and unsigned LEB128 varints. JavaScript numbers
// are exact up to 2^53-1, which bounds every u64/varint here (terms, indexes and ids never get
// near it); larger values are refused instead of silently rounded.

/** Thrown for any malformed or truncated input. */
export class DecodeError extends Error {
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(`${message} (at byte ${offset})`);
    this.name = 'DecodeError';
    this.offset = offset;
  }
}

const TWO_POW_32 = 0x1_0000_0000;
const EMPTY = Buffer.alloc(0);

export class BinaryWriter {
  private buf: Buffer;
  /** Next write position == number of bytes written since the last reset(). */
  pos = 0;

  constructor(initialCapacity = 4096) {
    this.buf = Buffer.allocUnsafe(Math.max(16, initialCapacity));
  }

  get capacity(): number {
    return this.buf.length;
  }

  /** Forget the contents and keep the allocation. */
  reset(): void {
    this.pos = 0;
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
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }

  u16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
  }

  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
  }

  /** An unsigned integer up to 2^53-1 as 8 big-endian bytes. */
  u64(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`u64 out of range: ${v}`);
    this.ensure(8);
    const hi = Math.floor(v / TWO_POW_32);
    this.buf.writeUInt32BE(hi, this.pos);
    this.buf.writeUInt32BE(v - hi * TWO_POW_32, this.pos + 4);
    this.pos += 8;
  }

  f64(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleBE(v, this.pos);
    this.pos += 8;
  }

  /** Unsigned LEB128, 1 byte below 128, at most 8 bytes for 2^53-1. */
  varint(v: number): void {
    this.ensure(8);
    const b = this.buf;
    let p = this.pos;
    if (v >>> 0 === v) {
      // Fast path for 32-bit values: bit operations only.
      while (v > 0x7f) {
        b[p++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      b[p++] = v;
      this.pos = p;
      return;
    }
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`varint out of range: ${v}`);
    while (v > 0x7f) {
      b[p++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    b[p++] = v;
    this.pos = p;
  }

  /** Raw bytes, no length prefix. */
  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** Varint length followed by the bytes. */
  bytes(bytes: Uint8Array): void {
    this.varint(bytes.length);
    this.raw(bytes);
  }

  /** Varint UTF-8 byte length followed by the UTF-8 bytes. */
  string(s: string): void {
    const n = Buffer.byteLength(s, 'utf8');
    this.varint(n);
    this.ensure(n);
    this.buf.write(s, this.pos, n, 'utf8');
    this.pos += n;
  }

  /** Skip `n` bytes to be filled in later with a patch call; returns their offset. */
  reserve(n: number): number {
    this.ensure(n);
    const at = this.pos;
    this.pos += n;
    return at;
  }

  patchU32(offset: number, v: number): void {
    this.buf.writeUInt32BE(v, offset);
  }

  patchU8(offset: number, v: number): void {
    this.buf[offset] = v;
  }

  /**
   * A view of the bytes written so far. It aliases the internal buffer: valid until the next
   * write or reset(). Copy it (or use toBytes()) to keep it.
   */
  view(start = 0, end = this.pos): Buffer {
    return this.buf.subarray(start, end);
  }

  /** A fresh copy of the bytes written so far. */
  toBytes(): Uint8Array {
    if (this.pos === 0) return new Uint8Array(0);
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    return out;
  }

  /** Take the internal buffer (ownership passes to the caller) and start over with a new one. */
  detach(nextCapacity = this.buf.length): Buffer {
    const out = this.buf.subarray(0, this.pos);
    this.buf = Buffer.allocUnsafe(Math.max(16, nextCapacity));
    this.pos = 0;
    return out;
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export class BinaryReader {
  private buf: Buffer = EMPTY;
  private end = 0;
  pos = 0;

  constructor(bytes?: Uint8Array) {
    if (bytes) this.reset(bytes);
  }

  /** Read a new input with this reader (no allocation besides the Buffer view). */
  reset(bytes: Uint8Array): void {
    this.buf = asBuffer(bytes);
    this.pos = 0;
    this.end = this.buf.length;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number, what: string): void {
    if (this.end - this.pos < n) {
      throw new DecodeError(`truncated ${what}: need ${n} bytes, have ${this.end - this.pos}`, this.pos);
    }
  }

  u8(): number {
    this.need(1, 'u8');
    return this.buf[this.pos++]!;
  }

  u16(): number {
    this.need(2, 'u16');
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.need(4, 'u32');
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  u64(): number {
    this.need(8, 'u64');
    const hi = this.buf.readUInt32BE(this.pos);
    const lo = this.buf.readUInt32BE(this.pos + 4);
    if (hi > 0x1f_ffff) throw new DecodeError('u64 exceeds 2^53-1', this.pos);
    this.pos += 8;
    return hi * TWO_POW_32 + lo;
  }

  f64(): number {
    this.need(8, 'f64');
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }

  varint(): number {
    const b = this.buf;
    const start = this.pos;
    let p = start;
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      if (p >= this.end) throw new DecodeError('truncated varint', start);
      const byte = b[p++]!;
      result += (byte & 0x7f) * mul;
      if (byte < 0x80) {
        if (result > Number.MAX_SAFE_INTEGER) throw new DecodeError('varint exceeds 2^53-1', start);
        // Reject non-minimal encodings (a trailing 0x00 continuation) so each value has one form.
        if (byte === 0 && i > 0) throw new DecodeError('non-minimal varint', start);
        this.pos = p;
        return result;
      }
      mul *= 128;
    }
    throw new DecodeError('varint longer than 8 bytes', start);
  }

  /** A varint that must fit in `max` (inclusive); for lengths, counts and enums. */
  varintMax(max: number, what: string): number {
    const at = this.pos;
    const v = this.varint();
    if (v > max) throw new DecodeError(`${what} ${v} exceeds ${max}`, at);
    return v;
  }

  /** `n` raw bytes as a view into the input (no copy). */
  raw(n: number): Buffer {
    this.need(n, 'bytes');
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** Varint length then that many bytes, as a view into the input (no copy). */
  bytes(): Buffer {
    const at = this.pos;
    const n = this.varint();
    if (n > this.end - this.pos) throw new DecodeError(`byte string of ${n} bytes overruns input`, at);
    return this.raw(n);
  }

  /** Like bytes(), but a private copy: use it for fields kept after the message is handled (log
   *  entries a core retains), so they do not pin the whole received chunk in memory. */
  bytesCopy(): Uint8Array {
    return new Uint8Array(this.bytes());
  }

  string(): string {
    const at = this.pos;
    const n = this.varint();
    if (n > this.end - this.pos) throw new DecodeError(`string of ${n} bytes overruns input`, at);
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  /** Throws unless the whole input was consumed (trailing garbage means a malformed message). */
  expectEnd(): void {
    if (this.pos !== this.end) throw new DecodeError(`${this.end - this.pos} unexpected trailing bytes`, this.pos);
  }
}
