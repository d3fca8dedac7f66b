// The codec toolkit: every field type round-trips, views keep the input's class, sizes agree,
// and malformed input only ever throws DecodeError naming the offset.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ByteReader, ByteWriter, DecodeError, readU64LE, varintSize, writeU64LE, writeVarint } from '../../runtime/common/bytes.js';

type Field =
  | { t: 'u8' | 'u16' | 'u32' | 'u32le' | 'u64' | 'varint' | 'f64'; v: number }
  | { t: 'bytes' | 'raw'; v: Uint8Array }
  | { t: 'string' | 'latin1'; v: string };

const field: fc.Arbitrary<Field> = fc.oneof(
  fc.integer({ min: 0, max: 255 }).map((v) => ({ t: 'u8' as const, v })),
  fc.integer({ min: 0, max: 0xffff }).map((v) => ({ t: 'u16' as const, v })),
  fc.integer({ min: 0, max: 0xffff_ffff }).map((v) => ({ t: 'u32' as const, v })),
  fc.integer({ min: 0, max: 0xffff_ffff }).map((v) => ({ t: 'u32le' as const, v })),
  fc.maxSafeNat().map((v) => ({ t: 'u64' as const, v })),
  fc.oneof(fc.maxSafeNat(), fc.integer({ min: 0, max: 300 })).map((v) => ({ t: 'varint' as const, v })),
  fc.double({ noNaN: true }).map((v) => ({ t: 'f64' as const, v })),
  fc.uint8Array({ maxLength: 100 }).map((v) => ({ t: 'bytes' as const, v })),
  fc.uint8Array({ maxLength: 40 }).map((v) => ({ t: 'raw' as const, v })),
  fc.string({ unit: 'grapheme', maxLength: 30 }).map((v) => ({ t: 'string' as const, v })),
  fc.string({ unit: 'binary', maxLength: 30 }).map((v) => ({ t: 'latin1' as const, v: Buffer.from(v, 'latin1').toString('latin1') })),
);

function write(w: ByteWriter, f: Field): void {
  if (typeof f.v === 'number') w[f.t as 'u8'](f.v);
  else if (typeof f.v === 'string') w[f.t as 'string'](f.v);
  else w[f.t as 'bytes'](f.v);
}

function read(r: ByteReader, f: Field): unknown {
  switch (f.t) {
    case 'bytes':
      return Uint8Array.from(r.bytes());
    case 'raw':
      return Uint8Array.from(r.raw(f.v.length));
    case 'string':
      return r.string();
    case 'latin1':
      return Buffer.from(r.bytes()).toString('latin1');
    default:
      return r[f.t]();
  }
}

test('every field type round-trips in any sequence through one reused writer', () => {
  const w = new ByteWriter(16); // small on purpose: growth
  fc.assert(
    fc.property(fc.array(field, { maxLength: 40 }), (fields) => {
      w.reset();
      for (const f of fields) write(w, f);
      const out = w.finish();
      for (const input of [out, Buffer.from(out)]) {
        const r = new ByteReader<Uint8Array>(input);
        for (const f of fields) assert.deepEqual(read(r, f), f.t === 'bytes' || f.t === 'raw' ? Uint8Array.from(f.v) : f.v);
        r.expectEnd();
      }
    }),
    { numRuns: 300 },
  );
});

test('varint sizes: writer, writeVarint and varintSize agree, and the documented sizes hold', () => {
  fc.assert(
    fc.property(fc.oneof(fc.maxSafeNat(), fc.nat(1 << 16), fc.integer({ min: 2 ** 31 - 2, max: 2 ** 32 + 2 })), (v) => {
      const w = new ByteWriter(4).varint(v);
      const out = new Uint8Array(8);
      assert.equal(writeVarint(out, 0, v), w.pos);
      assert.equal(varintSize(v), w.pos);
      assert.deepEqual(out.subarray(0, w.pos), w.finish());
    }),
  );
  for (const [v, n] of [[0, 1], [127, 1], [128, 2], [16383, 2], [16384, 3], [2 ** 28 - 1, 4], [2 ** 28, 5], [0xffff_ffff, 5], [Number.MAX_SAFE_INTEGER, 8]] as const) {
    assert.equal(new ByteWriter().varint(v).pos, n, `varint(${v})`);
  }
  for (const bad of [-1, 1.5, NaN, 2 ** 53, Infinity]) {
    assert.throws(() => new ByteWriter().varint(bad), RangeError);
    assert.throws(() => writeVarint(new Uint8Array(8), 0, bad), RangeError);
  }
  assert.throws(() => new ByteWriter().u64(-1), RangeError);
});

test('varint decoding rejects every non-canonical or out-of-range form with its offset', () => {
  const cases: [number[], RegExp][] = [
    [[], /truncated varint: unexpected end of input at byte 2$/],
    [[0x80], /truncated varint: runs past the end of input at byte 2$/],
    [[0x80, 0x00], /overlong \(non-minimal\) varint at byte 2$/],
    [[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], /varint longer than 8 bytes at byte 2$/],
    [[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], /varint exceeds 2\^53-1 at byte 2$/],
  ];
  for (const [tail, re] of cases) {
    const r = new ByteReader(Uint8Array.from([1, 2, ...tail]), 'test');
    r.u16();
    assert.throws(() => r.varint(), (e: unknown) => e instanceof DecodeError && e.offset === 2 && e.what === 'test' && re.test(e.message));
  }
  const r = new ByteReader(Uint8Array.from([0x85]), 'msg');
  assert.throws(() => r.varint('term'), /: msg: truncated varint reading term: runs past the end of input at byte 0$/);
  assert.equal(new ByteReader(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f])).varint(), Number.MAX_SAFE_INTEGER);
});

test('views keep the input class and alias it; finish() and toBytes() are copies', () => {
  const w = new ByteWriter().bytes(Uint8Array.of(1, 2, 3)).raw(Uint8Array.of(4, 5));
  const plain = w.finish();
  assert.equal(Object.getPrototypeOf(plain), Uint8Array.prototype, 'finish() is a plain Uint8Array');
  assert.ok(Buffer.isBuffer(w.toBytes()));
  assert.deepEqual([...w.toBytes()], [...plain]);
  const pv = new ByteReader(plain).bytes();
  assert.equal(Object.getPrototypeOf(pv), Uint8Array.prototype, 'a plain input gives plain views');
  plain[1] = 9;
  assert.equal(pv[0], 9, 'views alias the input');
  const buf = Buffer.from([3, 1, 2, 3, 4, 5]);
  const r = new ByteReader(buf);
  const bv = r.bytes();
  assert.ok(Buffer.isBuffer(bv) && Buffer.isBuffer(r.raw(2)), 'a Buffer input gives Buffers');
  // The writer's copies do not change when it is reused.
  const copy = w.finish();
  w.reset().raw(new Uint8Array(16).fill(0xee));
  assert.deepEqual([...copy], [3, 1, 2, 3, 4, 5]);
  assert.deepEqual([...w.view(0, 2)], [0xee, 0xee]);
});

test('a reader reset to a sub-range reads only that range, and offsets are absolute', () => {
  const input = Buffer.from([9, 9, 2, 0xaa, 0xbb, 7, 9]);
  const r = new ByteReader<Buffer>().reset(input, 2, 6, 'slice');
  assert.deepEqual([...r.bytes('body')], [0xaa, 0xbb]);
  assert.equal(r.u8(), 7);
  assert.equal(r.remaining, 0);
  assert.throws(() => r.u8('flag'), /: slice: truncated reading flag at byte 6$/);
  r.reset(input, 0, 1);
  assert.throws(() => r.expectEnd(), /slice: 1 unexpected trailing bytes at byte 0/);
});

test('length, count and size checks name the field', () => {
  const r = (bytes: number[]) => new ByteReader(Uint8Array.from(bytes), 'rec');
  assert.throws(() => r([5, 1, 2]).bytes('key'), /rec: key of 5 bytes overruns input \(2 left\) at byte 0/);
  assert.throws(() => r([5, 1, 2]).string('name'), /rec: name of 5 bytes overruns input \(2 left\) at byte 0/);
  assert.throws(() => r([0x81, 0x01]).bytes('key', 100), /rec: key length 129 exceeds 100 at byte 0/);
  assert.throws(() => r([3, 0, 0]).count('voters', 1), /rec: voters count 3 exceeds the remaining input at byte 0/);
  assert.equal(r([2, 0, 0]).count('voters', 1), 2);
  assert.throws(() => r([1, 2]).skip(3, 'value'), /rec: value of 3 bytes runs past the end of input \(2 left\) at byte 0/);
  assert.throws(() => r([1, 2, 3]).u32('len'), /rec: truncated reading len \(need 4 bytes, have 3\) at byte 0/);
  assert.throws(() => r([0x00, 0x20, 0, 0, 0, 0, 0, 0]).u64('id'), /rec: id exceeds 2\^53-1 at byte 0/);
  assert.throws(() => r([1, 2, 3]).fail('custom', 2), (e: unknown) => e instanceof DecodeError && e.reason === 'custom' && e.offset === 2);
  assert.equal(new DecodeError('plain').message, 'plain');
});

test('random input never throws anything but DecodeError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 60 }), fc.array(fc.constantFrom('u8', 'u16', 'u32', 'u32le', 'u64', 'f64', 'varint', 'bytes', 'string', 'count', 'raw'), { maxLength: 12 }), (input, ops) => {
      const r = new ByteReader(input, 'fuzz');
      try {
        for (const op of ops) {
          if (op === 'count') r.count('items', 2);
          else if (op === 'raw') r.raw(3);
          else r[op]();
        }
        r.expectEnd();
      } catch (e) {
        assert.ok(e instanceof DecodeError, String(e));
        assert.match(e.message, / at byte \d+$/);
      }
    }),
    { numRuns: 2000 },
  );
});

test('little-endian u64 at fixed offsets', () => {
  const b = Buffer.alloc(16);
  for (const v of [0, 1, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER]) {
    writeU64LE(b, 4, v);
    assert.equal(readU64LE(b, 4), v);
    assert.equal(b.readBigUInt64LE(4), BigInt(v));
  }
  b.writeBigUInt64LE(2n ** 53n, 0);
  assert.equal(readU64LE(b, 0), -1, 'beyond 2^53-1 reads as -1 (damage)');
});

test('writer growth keeps what was written; patchU32 fills a reserved slot', () => {
  const w = new ByteWriter(16);
  const at = w.reserve(4);
  for (let i = 0; i < 1000; i++) w.u8(i & 0xff);
  w.patchU32(at, w.pos - 4);
  const out = Buffer.from(w.finish());
  assert.equal(out.readUInt32BE(0), 1000);
  for (let i = 0; i < 1000; i++) assert.equal(out[4 + i], i & 0xff);
  assert.ok(w.capacity >= 1004);
});
