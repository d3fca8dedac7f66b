// CRC32C (Castagnoli), the checksum of every WAL record and snapshot block.
//
// Two implementations, chosen by length because `npm run bench -- wal` measured a crossover:
// the native SSE4.2 one (@node-rs/crc32, prebuilt binaries) costs a fixed N-API call overhead
// (0.25-1 us here, with load) plus a Buffer view, which loses to a table-driven JS loop for short
// records (hard states, small entries: JS 1.6-5x faster at 64-256 B) and wins from ~1 KB on (about
// 1.5x at 1 KB, 5x at 4 KB, 8x at 64 KB; docs/storage.md has the runs). The JS loop is slice-by-16 and takes (start, end) so the hot path
// computes record checksums in the encode buffer without allocating a view.
import { createRequire } from 'node:module';

const POLY = 0x82f63b78;
const TABLE = new Int32Array(16 * 256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
  TABLE[n] = c;
}
for (let n = 0; n < 256; n++) {
  for (let t = 1; t < 16; t++) {
    const prev = TABLE[(t - 1) * 256 + n]!;
    TABLE[t * 256 + n] = (prev >>> 8) ^ TABLE[prev & 0xff]!;
  }
}

/** Pure-JS CRC32C of buf[start, end), continuing from `seed` (a previous result, or 0). */
export function crc32cJs(buf: Uint8Array, start = 0, end = buf.length, seed = 0): number {
  const T = TABLE;
  let c = ~seed | 0;
  let i = start;
  const stop = end - ((end - start) & 15);
  for (; i < stop; i += 16) {
    const a = c ^ (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24));
    c =
      T[3840 + (a & 0xff)]! ^
      T[3584 + ((a >>> 8) & 0xff)]! ^
      T[3328 + ((a >>> 16) & 0xff)]! ^
      T[3072 + (a >>> 24)]! ^
      T[2816 + buf[i + 4]!]! ^
      T[2560 + buf[i + 5]!]! ^
      T[2304 + buf[i + 6]!]! ^
      T[2048 + buf[i + 7]!]! ^
      T[1792 + buf[i + 8]!]! ^
      T[1536 + buf[i + 9]!]! ^
      T[1280 + buf[i + 10]!]! ^
      T[1024 + buf[i + 11]!]! ^
      T[768 + buf[i + 12]!]! ^
      T[512 + buf[i + 13]!]! ^
      T[256 + buf[i + 14]!]! ^
      T[buf[i + 15]!]!;
  }
  for (; i < end; i++) c = T[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

type NativeCrc = (input: Buffer, initialState?: number) => number;

function loadNative(): NativeCrc | null {
  if (process.env['VERDANT_CRC32C'] === 'js') return null;
  try {
    const req = createRequire(import.meta.url);
    const mod = req('@node-rs/crc32') as { crc32c?: NativeCrc };
    const fn = mod.crc32c;
    // Known answer for "123456789"; refuse a binary that disagrees rather than write bad checksums.
    if (typeof fn !== 'function' || fn(Buffer.from('123456789')) !== 0xe3069283) return null;
    return fn;
  } catch {
    return null;
  }
}

const native = loadNative();

/** Which implementation serves lengths at or above NATIVE_THRESHOLD. */
export const crc32cImpl: 'native+js' | 'js' = native ? 'native+js' : 'js';

/** Below this many bytes the JS loop is used even when the native binding is present. */
export const NATIVE_THRESHOLD = 512;

/** CRC32C of buf[start, end), continuing from `seed`. */
export function crc32c(buf: Uint8Array, start = 0, end = buf.length, seed = 0): number {
  if (native !== null && end - start >= NATIVE_THRESHOLD) {
    const view = Buffer.from(buf.buffer, buf.byteOffset + start, end - start);
    return native(view, seed) >>> 0;
  }
  return crc32cJs(buf, start, end, seed);
}

/** The native binding alone (null when unavailable); exported for benchmarks and tests. */
export const crc32cNative: ((buf: Uint8Array, seed?: number) => number) | null = native
  ? (buf, seed = 0) => native(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength), seed) >>> 0
  : null;
