import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeededRng } from '../../runtime/protocols/rng.js';

test('same seed gives the same sequence; different seeds differ', () => {
  const a = new SeededRng(42);
  const b = new SeededRng(42);
  const c = new SeededRng(43);
  const sa = Array.from({ length: 16 }, () => a.nextU32());
  const sb = Array.from({ length: 16 }, () => b.nextU32());
  const sc = Array.from({ length: 16 }, () => c.nextU32());
  assert.deepEqual(sa, sb);
  assert.notDeepEqual(sa, sc);
});

test('nextInt is roughly uniform', () => {
  const r = new SeededRng(7);
  const counts = new Array(10).fill(0);
  const n = 100_000;
  for (let i = 0; i < n; i++) counts[r.nextInt(10)]++;
  for (const c of counts) assert.ok(Math.abs(c - n / 10) < n / 100, `bucket count ${c} too far from ${n / 10}`);
});
