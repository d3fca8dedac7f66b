// Byte reader and writer shared by every service encoding (commands, queries, results, snapshots).
//
// Integers are unsigned LEB128 varints up to Number.MAX_SAFE_INTEGER (at most 8 bytes). Encodings
// are canonical: an overlong varint (a multi-byte varint whose last byte is 0) is rejected, so
// every value has exactly one encoding and decode(encode(x)) / encode(decode(b)) both round-trip.
//
// Both classes work on Buffers so that keys can be turned into latin1 strings and values copied
// with native calls; a plain Uint8Array handed to ByteReader is wrapped without copying.

/** Malformed input. `offset` is the byte position (within the decoded buffer) where it was found. */
export class DecodeError extends Error {
  /** What was being decoded ("command", "kv snapshot record", ...). */
  readonly what: string;
  /** The problem, without the position. */
  readonly reason: string;
  readonly offset: number;
  constructor(what: string, reason: string, offset: number) {
    super(`${what}: ${reason} at byte ${offset}`);
    this.name = 'DecodeError';
    this.what = what;
    this.reason = reason;
    this.offset = offset;
  }
}

export const MAX_VARINT_BYTES = 8;

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

export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Number of bytes the varint encoding of `v` takes. */
export function varintSize(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

export class ByteReader {
  buf: Buffer;
  pos: number;
  end: number;
  /** Names the thing being decoded in error messages ("command", "snapshot header", ...). */
  what: string;

  constructor(bytes: Uint8Array, what = 'input', start = 0, end = bytes.length) {
    this.buf = asBuffer(bytes);
    this.pos = start;
    this.end = end;
    this.what = what;
  }

  /** Re-point this reader at a region, so hot loops need not allocate readers. */
  reset(buf: Buffer, start: number, end: number, what: string): this {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    this.what = what;
    return this;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  fail(message: string, at = this.pos): never {
    throw new DecodeError(this.what, message, at);
  }

  u8(): number {
    if (this.pos >= this.end) this.fail('unexpected end of input (wanted 1 byte)');
    return this.buf[this.pos++]!;
  }

  u32le(): number {
    if (this.end - this.pos < 4) this.fail('unexpected end of input (wanted 4 bytes)');
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  varint(): number {
    const buf = this.buf;
    const start = this.pos;
    if (start >= this.end) this.fail('unexpected end of input (wanted a varint)');
    let b = buf[start]!;
    if (b < 0x80) {
      this.pos = start + 1;
      return b;
    }
    let value = b & 0x7f;
    let scale = 128;
    let p = start + 1;
    for (;;) {
      if (p >= this.end) this.fail('varint runs past the end of input', start);
      if (p - start >= MAX_VARINT_BYTES) this.fail('varint longer than 8 bytes', start);
      b = buf[p++]!;
      value += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (b === 0) this.fail('overlong varint encoding', start);
        break;
      }
      scale *= 128;
    }
    if (value > Number.MAX_SAFE_INTEGER) this.fail('varint exceeds 2^53-1', start);
    this.pos = p;
    return value;
  }

  /** A varint no larger than `max`; `field` names it in the error. */
  varintMax(max: number, field: string): number {
    const at = this.pos;
    const v = this.varint();
    if (v > max) this.fail(`${field} ${v} exceeds the maximum ${max}`, at);
    return v;
  }

  /** Skip `n` bytes and return where they start. */
  skip(n: number, field = 'field'): number {
    const at = this.pos;
    if (n > this.end - at) this.fail(`${field} of ${n} bytes runs past the end of input (${this.end - at} left)`);
    this.pos = at + n;
    return at;
  }

  /** A view (no copy) of the next `n` bytes. */
  bytes(n: number, field = 'field'): Buffer {
    const at = this.skip(n, field);
    return this.buf.subarray(at, at + n);
  }

  /** A varint length followed by that many bytes, as a view (no copy). */
  lenBytes(max: number, field: string): Buffer {
    const n = this.varintMax(max, `${field} length`);
    return this.bytes(n, field);
  }

  /** A varint length followed by UTF-8 text. */
  string(max: number, field: string): string {
    const n = this.varintMax(max, `${field} length`);
    const at = this.skip(n, field);
    return this.buf.toString('utf8', at, at + n);
  }

  expectEnd(): void {
    if (this.pos !== this.end) this.fail(`${this.end - this.pos} unexpected trailing bytes`);
  }
}

export class ByteWriter {
  buf: Buffer;
  pos = 0;

  constructor(initialSize = 256) {
    this.buf = Buffer.allocUnsafeSlow(Math.max(16, initialSize));
  }

  reset(): this {
    this.pos = 0;
    return this;
  }

  get length(): number {
    return this.pos;
  }

  /** Make room for `n` more bytes. */
  ensure(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafeSlow(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): this {
    if (this.pos >= this.buf.length) this.ensure(1);
    this.buf[this.pos++] = v;
    return this;
  }

  u32le(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32LE(v >>> 0, this.pos);
    this.pos += 4;
    return this;
  }

  varint(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`varint must be a safe non-negative integer, got ${v}`);
    this.ensure(MAX_VARINT_BYTES);
    const buf = this.buf;
    let p = this.pos;
    if (v < 0x80000000) {
      while (v > 0x7f) {
        buf[p++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
    } else {
      while (v > 0x7f) {
        buf[p++] = (v % 128) | 0x80;
        v = Math.floor(v / 128);
      }
    }
    buf[p++] = v;
    this.pos = p;
    return this;
  }

  /** Raw bytes: `src[start, end)`. */
  bytes(src: Uint8Array, start = 0, end = src.length): this {
    const n = end - start;
    this.ensure(n);
    if (n <= 16) {
      const buf = this.buf;
      let p = this.pos;
      for (let i = start; i < end; i++) buf[p++] = src[i]!;
    } else if (Buffer.isBuffer(src)) {
      src.copy(this.buf, this.pos, start, end);
    } else {
      this.buf.set(src.subarray(start, end), this.pos);
    }
    this.pos += n;
    return this;
  }

  /** Varint length, then the bytes. */
  lenBytes(src: Uint8Array, start = 0, end = src.length): this {
    this.varint(end - start);
    return this.bytes(src, start, end);
  }

  /** A latin1 string as raw bytes (each char is one byte), length-prefixed. Keys travel this way. */
  latin1(s: string): this {
    this.varint(s.length);
    this.ensure(s.length);
    this.pos += writeLatin1(this.buf, s, this.pos);
    return this;
  }

  /** UTF-8 text, length-prefixed. */
  string(s: string): this {
    const n = Buffer.byteLength(s, 'utf8');
    this.varint(n);
    this.ensure(n);
    this.pos += this.buf.write(s, this.pos, 'utf8');
    return this;
  }

  /** A copy of what was written; the writer can then be reset and reused. */
  finish(): Buffer {
    return Uint8Array.prototype.slice.call(this.buf, 0, this.pos) as Buffer;
  }

  /**
   * A copy of what was written as a plain Uint8Array. V8 keeps typed arrays of up to 64 bytes on
   * its heap, which makes this several times cheaper than finish() for small results.
   */
  finishSmall(): Uint8Array {
    const n = this.pos;
    if (n > 64) return this.finish();
    const out = new Uint8Array(n);
    const buf = this.buf;
    for (let i = 0; i < n; i++) out[i] = buf[i]!;
    return out;
  }

  /** A view of what was written, valid only until the next write or reset. */
  view(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}
