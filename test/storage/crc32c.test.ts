import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { NATIVE_THRESHOLD, crc32c, crc32cImpl, crc32cJs, crc32cNative } from '../../runtime/storage/crc32c.js';

test('known CRC32C answers', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(0)), 0);
  assert.equal(crc32c(Buffer.alloc(32)), 0x8a9136aa); // RFC 3720 B.4: 32 bytes of zeros
  assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43); // 32 bytes of 0xff
  const inc = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
  assert.equal(crc32c(inc), 0x46dd794e); // 0..31 ascending
});

test('the JS and native implementations agree, on any range and with chaining', () => {
  assert.equal(crc32cImpl, 'native+js', 'the prebuilt @node-rs/crc32 binary loads on this platform');
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 5000 }), fc.nat(), fc.nat(), fc.nat(), (data, a, b, seed) => {
      const start = data.length === 0 ? 0 : a % data.length;
      const end = start + (data.length === 0 ? 0 : b % (data.length - start + 1));
      const s = seed >>> 0;
      const js = crc32cJs(data, start, end, s);
      assert.equal(crc32c(data, start, end, s), js);
      if (crc32cNative) assert.equal(crc32cNative(data.subarray(start, end), s), js);
      // Chaining: crc(a ++ b) = crc(b, seed = crc(a)).
      const mid = start + ((end - start) >> 1);
      assert.equal(crc32c(data, mid, end, crc32c(data, start, mid, s)), js);
    }),
    { numRuns: 300 },
  );
  // Both sides of the size threshold.
  for (const n of [NATIVE_THRESHOLD - 1, NATIVE_THRESHOLD, NATIVE_THRESHOLD + 1, 1 << 16]) {
    const d = Buffer.alloc(n);
    for (let i = 0; i < n; i++) d[i] = (i * 131) & 0xff;
    assert.equal(crc32c(d), crc32cJs(d));
  }
});
