import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeededRng } from '../../runtime/protocols/rng.js';
import { KvStore, valueOf, type Slot, type VersionView } from '../../runtime/service/kv/store.js';

const key = (i: number) => `k${String(i).padStart(5, '0')}`;
function valueFor(i: number, gen: number, len: number): Buffer {
  const v = Buffer.alloc(len);
  for (let j = 0; j < len; j++) v[j] = (i * 31 + gen * 7 + j) & 0xff;
  return v;
}
function read(v: VersionView | undefined): Buffer | null {
  return v === undefined ? null : valueOf(v);
}

test('arena: values survive heavy churn and cleaning; memory stays near twice the live bytes', () => {
  const chunk = 8 * 1024;
  const s = new KvStore(chunk);
  const rng = new SeededRng(11);
  const model = new Map<string, Buffer>();
  const keys = 400;
  let maxRatio = 0;
  for (let step = 0; step < 40_000; step++) {
    const i = rng.nextInt(keys);
    const k = key(i);
    if (rng.nextInt(10) === 0) {
      assert.equal(s.delete(k), model.has(k));
      model.delete(k);
    } else {
      // Mostly small values, sometimes one larger than a quarter chunk (a dedicated chunk).
      const len = rng.nextInt(50) === 0 ? chunk / 2 + rng.nextInt(100) : rng.nextInt(120);
      const v = valueFor(i, step, len);
      s.put(k, v, 0, v.length);
      model.set(k, v);
    }
    if (step % 1000 === 999) {
      const a = s.arena.stats();
      const live = [...model.values()].reduce((n, v) => n + v.length, 0);
      assert.equal(a.liveBytes, live, 'live byte accounting');
      maxRatio = Math.max(maxRatio, (a.totalBytes - 4 * chunk) / Math.max(live, 1));
      for (const [mk, mv] of model) assert.ok(read(s.get(mk))!.equals(mv), `value of ${mk} at step ${step}`);
    }
  }
  const a = s.arena.stats();
  assert.ok(a.cleanings > 0 && a.relocatedBytes > 0, 'the cleaner ran and moved values');
  assert.ok(maxRatio <= 2.5, `arena held ${maxRatio.toFixed(2)}x the live bytes (beyond a few chunks)`);
  assert.equal(s.size, model.size);
});

test('a view keeps reading its versions while the cleaner moves current values and drops chunks', () => {
  const s = new KvStore(4096);
  for (let i = 0; i < 200; i++) s.put(key(i), valueFor(i, 0, 60), 0, 60);
  const view = s.view();
  // Overwrite everything many times: old chunks become garbage and get cleaned.
  for (let gen = 1; gen <= 30; gen++) for (let i = 0; i < 200; i += 1 + (gen % 3)) s.put(key(i), valueFor(i, gen, 60), 0, 60);
  for (let i = 0; i < 200; i += 7) s.delete(key(i));
  assert.ok(s.arena.cleanings > 0);
  let n = 0;
  for (const [k, v] of view.entries()) {
    const i = Number(k.slice(1));
    assert.ok(valueOf(v).equals(valueFor(i, 0, 60)), `view value of ${k}`);
    assert.equal(v.version, 1);
    n++;
  }
  assert.equal(n, 200);
  view.close();
  view.close();
  assert.equal(s.openViews, 0);
  // Closing the last view releases every kept old version (and with it the old chunks).
  for (let i = 0; i < 200; i++) assert.equal((s.get(key(i)) as Slot | undefined)?.prev ?? null, null, `old versions of ${key(i)} released`);
  s.put(key(1), valueFor(1, 99, 10), 0, 10);
  assert.equal((s.get(key(1)) as Slot).prev, null);
});

test('scan visits [start, end) in bytewise order and stops when asked', () => {
  const s = new KvStore();
  const keys = ['b', 'a', '\u00ff', 'a\u0000', 'ab', '\u0001'];
  for (const k of keys) s.put(k, Buffer.from(k, 'latin1'), 0, k.length);
  const seen: string[] = [];
  s.scan('', undefined, (k) => (seen.push(k), true));
  assert.deepEqual(seen, ['\u0001', 'a', 'a\u0000', 'ab', 'b', '\u00ff']);
  const some: string[] = [];
  s.scan('a', 'b', (k) => (some.push(k), some.length < 2));
  assert.deepEqual(some, ['a', 'a\u0000']);
});
