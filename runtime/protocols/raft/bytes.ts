// Minimal byte writer/reader for Raft's binary formats: unsigned LEB128 varints up to 2^53-1,
// single bytes and length-prefixed byte strings. The reader throws descriptive Errors naming the
// field and offset, never anything else.

export class RaftCodecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RaftCodecError';
  }
}

export function varintSize(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  let n = 4;
  v = Math.floor(v / 0x10000000);
  while (v > 0) {
    n++;
    v = Math.floor(v / 128);
  }
  return n;
}

export class ByteWriter {
  buf: Uint8Array;
  pos = 0;

  constructor(capacity: number) {
    this.buf = new Uint8Array(Math.max(16, capacity));
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.pos + n) cap *= 2;
    const b = new Uint8Array(cap);
    b.set(this.buf.subarray(0, this.pos));
    this.buf = b;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }

  varint(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new RaftCodecError(`cannot encode ${String(v)}: not a non-negative safe integer`);
    this.ensure(8);
    const b = this.buf;
    let p = this.pos;
    while (v >= 0x80) {
      b[p++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    b[p++] = v;
    this.pos = p;
  }

  bytes(data: Uint8Array): void {
    this.varint(data.length);
    this.ensure(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
  }

  finish(): Uint8Array {
    return this.pos === this.buf.length ? this.buf : this.buf.subarray(0, this.pos);
  }
}

export class ByteReader {
  pos = 0;

  constructor(
    private readonly buf: Uint8Array,
    private readonly what: string,
  ) {}

  private fail(msg: string): never {
    throw new RaftCodecError(`${this.what}: ${msg} at byte ${this.pos} of ${this.buf.length}`);
  }

  remaining(): number {
    return this.buf.length - this.pos;
  }

  u8(field: string): number {
    if (this.pos >= this.buf.length) this.fail(`truncated reading ${field}`);
    return this.buf[this.pos++]!;
  }

  varint(field: string): number {
    const b = this.buf;
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      if (this.pos >= b.length) this.fail(`truncated varint reading ${field}`);
      const byte = b[this.pos++]!;
      result += (byte & 0x7f) * mul;
      if ((byte & 0x80) === 0) {
        if (result > Number.MAX_SAFE_INTEGER) this.fail(`${field} exceeds 2^53-1`);
        if (i > 0 && byte === 0) this.fail(`non-canonical varint reading ${field}`);
        return result;
      }
      mul *= 128;
    }
    return this.fail(`varint too long reading ${field}`);
  }

  /** A count of items that each take at least `minItemBytes`; bounded by what is left. */
  count(field: string, minItemBytes: number): number {
    const n = this.varint(`${field} count`);
    if (n * minItemBytes > this.remaining()) this.fail(`${field} count ${n} exceeds the remaining input`);
    return n;
  }

  /** A length-prefixed byte string, as a view into the input (callers copy the input if needed). */
  bytes(field: string): Uint8Array {
    const n = this.varint(`${field} length`);
    if (n > this.remaining()) this.fail(`${field} length ${n} exceeds the remaining input`);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  expectEnd(): void {
    if (this.pos !== this.buf.length) this.fail(`${this.buf.length - this.pos} trailing bytes`);
  }
}
