import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeHistogram, encodeHistogram, newHistogram, percentileUs, recordUs, summarize } from '../../bench/loadgen/hist.js';
import { SeededRng } from '../../runtime/protocols/rng.js';

test('percentiles never exceed the recorded maximum', () => {
  // 12,345 µs lies in a bucket 8 µs wide at 3 significant digits: HdrHistogram reports the
  // bucket's highest equivalent value (12,351) for the top percentiles, max is 12,345.
  const h = newHistogram();
  for (let i = 0; i < 999; i++) recordUs(h, 100);
  recordUs(h, 12_345);
  assert.ok(h.getValueAtPercentile(99.95) > h.maxValue, 'precondition: the library answers above the maximum');
  const s = summarize(h);
  assert.equal(s.max_ms, 12.345);
  assert.ok(s.p999_ms <= s.max_ms, `p99.9 ${s.p999_ms} > max ${s.max_ms}`);
  assert.equal(percentileUs(h, 100), 12_345);
  assert.equal(s.p50_ms, 0.1, 'values below the top are untouched');

  const one = newHistogram();
  recordUs(one, 12_345);
  const s1 = summarize(one);
  for (const k of ['p50_ms', 'p90_ms', 'p99_ms', 'p999_ms', 'mean_ms'] as const) assert.equal(s1[k], 12.345, k);
});

test('summaries stay ordered and below max over random data, also after the wire encoding', () => {
  const rng = new SeededRng(7);
  for (let round = 0; round < 200; round++) {
    const h = newHistogram();
    const n = 1 + rng.nextInt(2000);
    for (let i = 0; i < n; i++) recordUs(h, Math.exp(rng.nextFloat() * 14)); // 1 µs .. ~1.2 s
    for (const x of [h, decodeHistogram(encodeHistogram(h))]) {
      const s = summarize(x);
      const seq = [s.p50_ms, s.p90_ms, s.p99_ms, s.p999_ms, s.max_ms];
      for (let i = 1; i < seq.length; i++) assert.ok(seq[i - 1]! <= seq[i]!, `round ${round}: ${JSON.stringify(s)}`);
      assert.ok(s.mean_ms <= s.max_ms);
    }
  }
});
