import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyChooser, ZipfianRanks, zetaRange } from '../../bench/loadgen/keys.js';
import type { KeySpace } from '../../bench/loadgen/profile/profile.js';
import { SeededRng } from '../../runtime/protocols/rng.js';

const space = (over: Partial<KeySpace>): KeySpace => ({ count: 1000, distribution: 'uniform', theta: 0.99, scramble: false, prefix: 'k/', ...over });

function frequencies(choose: () => number, n: number, samples: number): number[] {
  const f = new Array<number>(n).fill(0);
  for (let i = 0; i < samples; i++) f[choose()]!++;
  return f;
}

test('zipfian ranks: head frequencies match (k+1)^-θ / zeta(n) and the tail slope is -θ', () => {
  const n = 1000;
  const theta = 0.99;
  const samples = 400_000;
  const z = new ZipfianRanks(n, theta);
  const rng = new SeededRng(21);
  const f = frequencies(() => z.next(rng), n, samples);
  const zetan = zetaRange(0, n, theta);
  for (const k of [0, 1]) {
    const p = Math.pow(k + 1, -theta) / zetan;
    const got = f[k]! / samples;
    assert.ok(Math.abs(got / p - 1) < 0.03, `rank ${k}: ${got} vs ${p}`);
  }
  // Least-squares slope of log frequency against log rank over ranks 3..100.
  const xs: number[] = [];
  const ys: number[] = [];
  for (let k = 3; k <= 100; k++) {
    xs.push(Math.log(k + 1));
    ys.push(Math.log(f[k]! / samples));
  }
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  const slope = xs.reduce((a, x, i) => a + (x - mx) * (ys[i]! - my), 0) / xs.reduce((a, x) => a + (x - mx) ** 2, 0);
  assert.ok(Math.abs(slope + theta) < 0.1, `slope ${slope}`);
  assert.ok(f.every((c, i) => i < 1 || c <= f[0]!), 'rank 0 is the most popular');
});

test('zipfian is skewed, uniform is not; a smaller theta is less skewed', () => {
  const n = 10_000;
  const samples = 200_000;
  const topShare = (sp: KeySpace, seed: number) => {
    const kc = new KeyChooser(sp);
    const rng = new SeededRng(seed);
    const f = frequencies(() => kc.choose(rng), n, samples).sort((a, b) => b - a);
    return f.slice(0, n / 100).reduce((a, b) => a + b, 0) / samples; // share of the hottest 1% of keys
  };
  const zipf99 = topShare(space({ count: n, distribution: 'zipfian', theta: 0.99, scramble: true }), 1);
  const zipf50 = topShare(space({ count: n, distribution: 'zipfian', theta: 0.5, scramble: true }), 1);
  const uni = topShare(space({ count: n, distribution: 'uniform' }), 1);
  assert.ok(zipf99 > 0.45, `zipfian(0.99) hottest 1% share ${zipf99}`);
  assert.ok(zipf50 < zipf99 && zipf50 > 2 * uni, `zipfian(0.5) share ${zipf50}`);
  assert.ok(uni < 0.02, `uniform hottest 1% share ${uni}`);
});

test('uniform keys pass a chi-square test', () => {
  const n = 50;
  const samples = 100_000;
  const kc = new KeyChooser(space({ count: n }));
  const rng = new SeededRng(4);
  const f = frequencies(() => kc.choose(rng), n, samples);
  const e = samples / n;
  const chi2 = f.reduce((a, c) => a + (c - e) ** 2 / e, 0);
  // 49 degrees of freedom: the 0.999 quantile is about 85.4.
  assert.ok(chi2 < 85.4, `chi-square ${chi2}`);
});

test('scrambling permutes the key space: same skew, hot keys spread out', () => {
  const n = 1000;
  const plain = new KeyChooser(space({ count: n, distribution: 'zipfian' }));
  const scrambled = new KeyChooser(space({ count: n, distribution: 'zipfian', scramble: true }));
  // Same random stream -> the scrambled key is a fixed bijection of the plain rank.
  const s1 = new SeededRng(9);
  const s2 = new SeededRng(9);
  const map = new Map<number, number>();
  for (let i = 0; i < 50_000; i++) {
    const p = plain.choose(s1);
    const s = scrambled.choose(s2);
    const prev = map.get(p);
    assert.ok(prev === undefined || prev === s, 'one rank maps to one key');
    map.set(p, s);
  }
  const images = new Set(map.values());
  assert.equal(images.size, map.size, 'distinct ranks map to distinct keys');
  assert.notEqual(map.get(0), 0, 'the hottest key is not key 0');
  assert.ok(Math.abs(map.get(1)! - map.get(0)!) > 1, 'neighbouring ranks land apart');
  // Same skew: the sorted key frequencies of both match closely.
  const r1 = new SeededRng(31);
  const r2 = new SeededRng(32);
  const fa = frequencies(() => plain.choose(r1), n, 100_000).sort((x, y) => y - x);
  const fb = frequencies(() => scrambled.choose(r2), n, 100_000).sort((x, y) => y - x);
  for (const k of [0, 1, 10]) assert.ok(Math.abs(fa[k]! - fb[k]!) < 0.1 * fa[k]!, `rank ${k}: ${fa[k]} vs ${fb[k]}`);
});

test('latest favours the newest inserts', () => {
  const kc = new KeyChooser(space({ count: 1000, distribution: 'latest' }));
  const rng = new SeededRng(2);
  for (let i = 0; i < 100; i++) kc.insert();
  assert.equal(kc.keyCount, 1100);
  const f = new Map<number, number>();
  for (let i = 0; i < 50_000; i++) {
    const k = kc.choose(rng);
    assert.ok(k >= 0 && k < 1100);
    f.set(k, (f.get(k) ?? 0) + 1);
  }
  const hottest = [...f.entries()].sort((a, b) => b[1] - a[1])[0]![0];
  assert.equal(hottest, 1099);
});

test('parallel generators insert disjoint keys', () => {
  const a = new KeyChooser(space({ count: 10 }), 0, 2);
  const b = new KeyChooser(space({ count: 10 }), 1, 2);
  const ka = [a.insert(), a.insert(), a.insert()];
  const kb = [b.insert(), b.insert(), b.insert()];
  assert.deepEqual(ka, [10, 12, 14]);
  assert.deepEqual(kb, [11, 13, 15]);
  assert.equal(a.keyString(12), 'k/000000000012');
});

test('zeta sums: the Euler–Maclaurin tail matches the exact sum', () => {
  const theta = 0.99;
  let exact = 0;
  for (let i = 1; i <= 3_000_000; i++) exact += Math.pow(i, -theta);
  const approx = zetaRange(0, 3_000_000, theta);
  assert.ok(Math.abs(approx / exact - 1) < 1e-9, `${approx} vs ${exact}`);
  // Growing the population keeps the sum consistent.
  const z = new ZipfianRanks(1000, theta);
  z.grow(5000);
  assert.equal(z.count, 5000);
});
