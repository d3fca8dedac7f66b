// The workload mix, drawn through the generator's own path (profile schema -> resolved Profile ->
// Workload.next()) with fixed seeds: operation shares, value sizes, the stale-read share and scan
// lengths match the profile. Each count is checked against its binomial expectation within 5
// standard deviations (a false alarm about once in 1.7 million checks), so a mix that is off by
// even a few percent of a share fails while the seeds keep the test deterministic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadProfile, profileFromObject } from '../../bench/loadgen/profile/load.js';
import type { OperationKind, Profile } from '../../bench/loadgen/profile/profile.js';
import { OPERATION_KINDS } from '../../bench/loadgen/profile/profile.js';
import type { PlannedOp } from '../../bench/loadgen/workload.js';
import { Workload } from '../../bench/loadgen/workload.js';

/** count ~ Binomial(n, p): within 5 sigma (exactly 0 or n when p is 0 or 1). */
function assertBinomial(count: number, n: number, p: number, what: string): void {
  const mean = n * p;
  const sigma = Math.sqrt(n * p * (1 - p));
  assert.ok(Math.abs(count - mean) <= 5 * sigma, `${what}: ${count} of ${n}, expected ${mean.toFixed(1)} ± ${(5 * sigma).toFixed(1)} (p = ${p})`);
}

function profile(over: Record<string, unknown>): Profile {
  return profileFromObject({
    seed: 3,
    phases: [{ type: 'constant', duration: 1, rate: 1 }],
    operations: { read: 1 },
    keys: { count: 1000 },
    values: { size: 10 },
    ...over,
  });
}

function draw(p: Profile, n: number, worker = 0, workers = 1): PlannedOp[] {
  const w = new Workload(p, worker, workers);
  return Array.from({ length: n }, () => w.next());
}

function kindCounts(ops: readonly PlannedOp[]): Record<OperationKind, number> {
  const c = Object.fromEntries(OPERATION_KINDS.map((k) => [k, 0])) as Record<OperationKind, number>;
  for (const op of ops) c[op.kind]++;
  return c;
}

function assertMix(ops: readonly PlannedOp[], weights: Partial<Record<OperationKind, number>>, what: string): void {
  const total = Object.values(weights).reduce((a, b) => a + b!, 0)!;
  const c = kindCounts(ops);
  for (const k of OPERATION_KINDS) assertBinomial(c[k], ops.length, (weights[k] ?? 0) / total, `${what}: ${k}`);
}

test('operation shares match the (unnormalized) weights; a zero weight is never drawn', () => {
  const weights = { read: 8, write: 5, insert: 1, cas: 3, scan: 2, delete: 1 };
  assertMix(draw(profile({ operations: weights }), 200_000), weights, 'all six kinds');
  const two = { read: 0.95, write: 0.05, delete: 0 };
  const ops = draw(profile({ operations: two, seed: 99 }), 100_000);
  assertMix(ops, two, '95/5');
  assert.equal(kindCounts(ops).delete, 0);
});

test('every generator thread draws the same mix from its own stream', () => {
  const weights = { read: 0.5, cas: 0.5 };
  const p = profile({ operations: weights });
  const a = draw(p, 50_000, 0, 3);
  const b = draw(p, 50_000, 2, 3);
  assertMix(a, weights, 'worker 0 of 3');
  assertMix(b, weights, 'worker 2 of 3');
  assert.notDeepEqual(a.slice(0, 64).map((o) => o.kind), b.slice(0, 64).map((o) => o.kind), 'independent streams');
});

test('the shipped YCSB profiles draw the mixes their files declare', () => {
  const expected: Record<string, Partial<Record<OperationKind, number>>> = {
    'ycsb-a': { read: 0.5, write: 0.5 },
    'ycsb-b': { read: 0.95, write: 0.05 },
    'ycsb-c': { read: 1 },
    'ycsb-d': { read: 0.95, insert: 0.05 },
    'ycsb-e': { scan: 0.95, insert: 0.05 },
    'ycsb-f': { read: 0.5, cas: 0.5 },
  };
  for (const [name, weights] of Object.entries(expected)) {
    const p = loadProfile(name);
    assertMix(draw(p, 40_000), weights, name);
  }
});

test('constant value size: every write, insert and cas carries exactly that many bytes; reads carry none', () => {
  const ops = draw(profile({ operations: { read: 1, write: 1, insert: 1, cas: 1, scan: 1, delete: 1 }, values: { size: 777 } }), 20_000);
  for (const op of ops) {
    if (op.kind === 'write' || op.kind === 'insert' || op.kind === 'cas') assert.equal(op.value?.length, 777, op.kind);
    else assert.equal(op.value, undefined, op.kind);
  }
  const zero = draw(profile({ operations: { write: 1 }, values: { size: 0 } }), 100);
  assert.ok(zero.every((o) => o.value?.length === 0), 'empty values are allowed');
});

test('uniform value sizes cover [min, max] evenly', () => {
  const min = 100;
  const max = 2099; // 2000 distinct sizes, 10 bins of 200
  const n = 200_000;
  const sizes = draw(profile({ operations: { write: 1 }, values: { distribution: 'uniform', min, max } }), n).map((o) => o.value!.length);
  assert.equal(sizes.reduce((a, b) => Math.min(a, b)), min, 'min is reachable');
  assert.equal(sizes.reduce((a, b) => Math.max(a, b)), max, 'max is reachable');
  const bins = new Array<number>(10).fill(0);
  for (const s of sizes) bins[Math.floor((s - min) / 200)]!++;
  bins.forEach((c, i) => assertBinomial(c, n, 0.1, `sizes ${min + 200 * i}..${min + 200 * i + 199}`));
  // The mean of a discrete uniform on [min, max]: (min+max)/2, variance ((max-min+1)^2 - 1)/12.
  const mean = sizes.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(((max - min + 1) ** 2 - 1) / 12 / n);
  assert.ok(Math.abs(mean - (min + max) / 2) <= 5 * sd, `mean ${mean}`);
});

test('weighted value sizes: each size at its share, no other size', () => {
  const sizes = [
    { bytes: 128, weight: 6 },
    { bytes: 1024, weight: 3 },
    { bytes: 8192, weight: 1 },
    { bytes: 4096, weight: 0 },
  ];
  const n = 100_000;
  const got = draw(profile({ operations: { write: 1, insert: 1 }, values: { distribution: 'weighted', sizes } }), n).map((o) => o.value!.length);
  for (const s of sizes) assertBinomial(got.filter((g) => g === s.bytes).length, n, s.weight / 10, `${s.bytes} bytes`);
  assert.ok(got.every((g) => sizes.some((s) => s.bytes === g)), 'only the listed sizes');
  // The shipped replay profile's sizes, through its file.
  const replay = loadProfile('replay');
  assert.equal(replay.values.distribution, 'weighted');
  const r = draw({ ...replay, operations: { ...replay.operations, read: 0 } }, 50_000).map((o) => o.value!.length);
  for (const [bytes, share] of [[128, 0.6], [1024, 0.3], [8192, 0.1]] as const) assertBinomial(r.filter((g) => g === bytes).length, r.length, share, `replay ${bytes} bytes`);
});

test('stale reads: reads and scans are stale at the profile share, other operations never', () => {
  const n = 200_000;
  const ops = draw(profile({ operations: { read: 2, scan: 1, write: 1, cas: 1 }, consistency: { linearizable: 3, stale: 1 } }), n);
  const readers = ops.filter((o) => o.kind === 'read' || o.kind === 'scan');
  const others = ops.filter((o) => o.kind !== 'read' && o.kind !== 'scan');
  assertBinomial(readers.filter((o) => o.consistency === 'stale').length, readers.length, 0.25, 'stale share of reads and scans');
  for (const kind of ['read', 'scan'] as const) {
    const of = readers.filter((o) => o.kind === kind);
    assertBinomial(of.filter((o) => o.consistency === 'stale').length, of.length, 0.25, `stale share of ${kind}`);
  }
  assert.equal(others.filter((o) => o.consistency === 'stale').length, 0, 'writes and cas are linearizable');

  const lin = draw(profile({ operations: { read: 1 } }), 10_000);
  assert.ok(lin.every((o) => o.consistency === 'linearizable'), 'the default is linearizable only');
  const stale = draw(profile({ operations: { read: 1, scan: 1 }, consistency: { linearizable: 0, stale: 1 } }), 10_000);
  assert.ok(stale.every((o) => o.consistency === 'stale'), 'stale only');
  // The shipped diurnal profile: 10% stale.
  const d = draw(loadProfile('diurnal'), 100_000).filter((o) => o.kind === 'read');
  assertBinomial(d.filter((o) => o.consistency === 'stale').length, d.length, 0.1, 'diurnal stale share');
});

test('scan lengths are uniform over [min_length, max_length]; other operations have none', () => {
  const n = 100_000;
  const ops = draw(profile({ operations: { scan: 1, read: 1 }, scan: { min_length: 5, max_length: 14 } }), n);
  const scans = ops.filter((o) => o.kind === 'scan');
  for (let len = 5; len <= 14; len++) assertBinomial(scans.filter((o) => o.scanLength === len).length, scans.length, 0.1, `scan length ${len}`);
  assert.ok(scans.every((o) => o.scanLength >= 5 && o.scanLength <= 14));
  assert.ok(ops.filter((o) => o.kind !== 'scan').every((o) => o.scanLength === 0));
});
