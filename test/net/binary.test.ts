// The codec toolkit and the frame decoder: round trips, edge values, and malformed input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ByteReader as BinaryReader, ByteWriter as BinaryWriter, DecodeError } from '../../runtime/common/bytes.js';
import { FrameDecoder, beginFrame, endFrame } from '../../runtime/net/frame.js';
import { probeCodec } from '../../runtime/net/probe.js';
import { Backoff } from '../../runtime/net/backoff.js';

type Field =
  | { t: 'u8'; v: number }
  | { t: 'u16'; v: number }
  | { t: 'u32'; v: number }
  | { t: 'u64'; v: number }
  | { t: 'varint'; v: number }
  | { t: 'f64'; v: number }
  | { t: 'bytes'; v: Uint8Array }
  | { t: 'string'; v: string };

const field: fc.Arbitrary<Field> = fc.oneof(
  fc.integer({ min: 0, max: 255 }).map((v) => ({ t: 'u8' as const, v })),
  fc.integer({ min: 0, max: 0xffff }).map((v) => ({ t: 'u16' as const, v })),
  fc.integer({ min: 0, max: 0xffff_ffff }).map((v) => ({ t: 'u32' as const, v })),
  fc.maxSafeNat().map((v) => ({ t: 'u64' as const, v })),
  fc.oneof(fc.maxSafeNat(), fc.integer({ min: 0, max: 300 })).map((v) => ({ t: 'varint' as const, v })),
  fc.double({ noNaN: true }).map((v) => ({ t: 'f64' as const, v })),
  fc.uint8Array({ maxLength: 300 }).map((v) => ({ t: 'bytes' as const, v })),
  fc.string({ unit: 'grapheme', maxLength: 50 }).map((v) => ({ t: 'string' as const, v })),
);

function write(w: BinaryWriter, f: Field): void {
  switch (f.t) {
    case 'bytes':
      w.bytes(f.v);
      break;
    case 'string':
      w.string(f.v);
      break;
    default:
      w[f.t](f.v);
  }
}

function read(r: BinaryReader, t: Field['t']): number | string | Uint8Array {
  switch (t) {
    case 'bytes':
      return new Uint8Array(r.bytes());
    case 'string':
      return r.string();
    default:
      return r[t]();
  }
}

test('every field type round-trips, in any sequence, through a reused writer', () => {
  const w = new BinaryWriter(16); // small on purpose: exercises growth
  fc.assert(
    fc.property(fc.array(field, { maxLength: 40 }), (fields) => {
      w.reset();
      for (const f of fields) write(w, f);
      const r = new BinaryReader(w.toBytes());
      for (const f of fields) assert.deepEqual(read(r, f.t), f.v);
      r.expectEnd();
    }),
    { numRuns: 300 },
  );
});

test('varints have one minimal encoding and their documented sizes', () => {
  const w = new BinaryWriter();
  const sizes: [number, number][] = [
    [0, 1], [127, 1], [128, 2], [16383, 2], [16384, 3], [0xffff_ffff, 5], [Number.MAX_SAFE_INTEGER, 8],
  ];
  for (const [v, n] of sizes) {
    w.reset();
    w.varint(v);
    assert.equal(w.pos, n, `varint(${v}) takes ${n} bytes`);
    assert.equal(new BinaryReader(w.toBytes()).varint(), v);
  }
  assert.throws(() => new BinaryReader(Uint8Array.from([0x80, 0x00])).varint(), /non-minimal/);
  assert.throws(() => new BinaryReader(Uint8Array.from([0x80, 0x80])).varint(), /truncated varint/);
  assert.throws(() => new BinaryReader(Uint8Array.from(Array(9).fill(0xff))).varint(), /longer than 8 bytes/);
  assert.throws(() => new BinaryReader(Uint8Array.from([...Array(7).fill(0xff), 0x7f])).varint(), /exceeds 2\^53-1/);
  assert.throws(() => w.varint(-1), RangeError);
  assert.throws(() => w.varint(2 ** 53), RangeError);
  assert.throws(() => w.u64(1.5), RangeError);
});

test('truncated and inconsistent input throws DecodeError with an offset, never a RangeError', () => {
  const w = new BinaryWriter();
  w.u32(7);
  w.string('hello');
  w.bytes(Uint8Array.from([1, 2, 3]));
  const full = w.toBytes();
  for (let cut = 0; cut < full.length; cut++) {
    const r = new BinaryReader(full.subarray(0, cut));
    assert.throws(
      () => {
        r.u32();
        r.string();
        r.bytes();
      },
      (e: unknown) => e instanceof DecodeError && typeof e.offset === 'number',
      `cut at ${cut}`,
    );
  }
  const r = new BinaryReader(Uint8Array.from([0x05, 1, 2]));
  assert.throws(() => r.bytes(), /overruns input/);
  const big = new BinaryReader(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f]));
  assert.throws(() => big.varintMax(1000, 'count'), /count \d+ exceeds 1000/);
  const trailing = new BinaryReader(Uint8Array.from([1, 2]));
  trailing.u8();
  assert.throws(() => trailing.expectEnd(), /1 unexpected trailing bytes/);
});

test('probe codec: encode() and encodeInto() agree, and random bytes only ever throw DecodeError', () => {
  fc.assert(
    fc.property(fc.nat(), fc.nat(), fc.maxSafeNat(), fc.uint8Array({ maxLength: 100 }), (from, to, seq, payload) => {
      const m = { from: from % 1000, to: to % 1000, seq, payload };
      const a = probeCodec.encode(m);
      const w = new BinaryWriter(8);
      probeCodec.encodeInto(m, w);
      assert.deepEqual(Buffer.from(w.toBytes()), Buffer.from(a));
      const d = probeCodec.decode(a);
      assert.equal(d.seq, seq);
      assert.deepEqual(new Uint8Array(d.payload), payload);
    }),
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      try {
        probeCodec.decode(bytes);
      } catch (e) {
        assert.ok(e instanceof DecodeError, `unexpected ${String(e)}`);
      }
    }),
  );
});

test('frame decoder reassembles frames split at arbitrary points', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 500 })), { minLength: 1, maxLength: 20 }),
      fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 30 }),
      (frames, cuts) => {
        const w = new BinaryWriter();
        for (const [kind, body] of frames) {
          const s = beginFrame(w, kind);
          w.raw(body);
          endFrame(w, s);
        }
        const stream = Buffer.from(w.toBytes());
        const dec = new FrameDecoder(1024);
        const got: [number, Uint8Array][] = [];
        let off = 0;
        let i = 0;
        while (off < stream.length) {
          const n = Math.min(cuts[i++ % cuts.length]!, stream.length - off);
          const err = dec.push(stream.subarray(off, off + n), (k, b) => {
            got.push([k, new Uint8Array(b)]);
            return true;
          });
          assert.equal(err, null);
          off += n;
        }
        assert.equal(dec.buffered, 0);
        assert.deepEqual(got, frames.map(([k, b]) => [k, b]));
      },
    ),
    { numRuns: 200 },
  );
});

test('frames inside one chunk are views into it (no copy); a spanning frame gets its own buffer', () => {
  const chunk = Buffer.from([0, 0, 0, 3, 1, 0xaa, 0xbb, 0, 0, 0, 2, 2, 0xcc, 0, 0, 0, 3, 3, 0xdd]);
  const dec = new FrameDecoder(100);
  const bodies: Buffer[] = [];
  dec.push(chunk, (_k, b) => {
    bodies.push(b);
    return true;
  });
  assert.equal(bodies.length, 2);
  chunk[5] = 0x11; // views see writes to the chunk: proof that nothing was copied
  assert.equal(bodies[0]![0], 0x11);
  dec.push(Buffer.from([0xee]), (_k, b) => {
    bodies.push(b);
    return true;
  });
  assert.equal(bodies.length, 3);
  assert.deepEqual([...bodies[2]!], [0xdd, 0xee]);
  chunk[18] = 0x22; // the assembled frame is a copy
  assert.deepEqual([...bodies[2]!], [0xdd, 0xee]);
});

test('frame decoder reports oversize and empty frames and then ignores the stream', () => {
  const dec = new FrameDecoder(10);
  const frames: number[] = [];
  const ok = Buffer.from([0, 0, 0, 2, 7, 9]);
  const bad = Buffer.from([0, 0, 0, 11, 1]);
  const err = dec.push(Buffer.concat([ok, bad, ok]), (k) => {
    frames.push(k);
    return true;
  });
  assert.deepEqual(err, { code: 'oversize', length: 11, limit: 10 });
  assert.deepEqual(frames, [7], 'frames before the bad header are delivered, none after');
  assert.equal(dec.push(ok, () => assert.fail('no frames after a framing error')), null);
  const dec2 = new FrameDecoder(10);
  assert.deepEqual(dec2.push(Buffer.from([0, 0, 0, 0]), () => true), { code: 'empty' });
});

test('backoff grows exponentially with jitter, is capped, and resets', () => {
  const b = new Backoff({ baseMs: 100, maxMs: 1000 }, () => 0.999);
  const d = Array.from({ length: 6 }, () => b.next());
  assert.ok(d[0]! >= 50 && d[0]! <= 100);
  assert.ok(d[1]! >= 100 && d[1]! <= 200);
  assert.ok(d[5]! <= 1000 && d[5]! >= 500, 'capped');
  b.reset();
  assert.ok(b.next() <= 100);
  const lo = new Backoff({ baseMs: 100, maxMs: 1000 }, () => 0);
  assert.equal(lo.next(), 50, 'never below half the cap: no hammering');
  assert.throws(() => new Backoff({ baseMs: 0, maxMs: 10 }), RangeError);
});

test('a handler returning false stops the decoder; resume() continues with the rest, in order', () => {
  const w = new BinaryWriter();
  for (let k = 1; k <= 5; k++) {
    const s = beginFrame(w, k);
    w.u8(k * 10);
    endFrame(w, s);
  }
  const dec = new FrameDecoder(100);
  const seen: number[] = [];
  const stopAt3 = (k: number) => {
    seen.push(k);
    return k !== 3;
  };
  assert.equal(dec.push(Buffer.from(w.toBytes()), stopAt3), null);
  assert.deepEqual(seen, [1, 2, 3]);
  assert.equal(dec.buffered, 12, 'two 6-byte frames held back');
  // New input queues behind what was held back.
  const more = Buffer.from([0, 0, 0, 2, 6, 60]);
  dec.push(more, (k) => (seen.push(k), true));
  assert.deepEqual(seen, [1, 2, 3, 4, 5, 6]);
  assert.equal(dec.resume(() => assert.fail('nothing left')), null);
});
