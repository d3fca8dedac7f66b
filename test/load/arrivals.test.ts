import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PoissonArrivals } from '../../bench/loadgen/arrivals.js';
import type { CompiledPhase } from '../../bench/loadgen/profile/profile.js';
import { expectedArrivals } from '../../bench/loadgen/rate-curve.js';
import { SeededRng } from '../../runtime/protocols/rng.js';

function drain(a: PoissonArrivals): number[] {
  const out: number[] = [];
  for (let t = a.next(); t !== undefined; t = a.next()) out.push(t);
  return out;
}

/** Kolmogorov–Smirnov statistic of samples against a CDF. */
function ksStatistic(samples: number[], cdf: (x: number) => number): number {
  const xs = [...samples].sort((a, b) => a - b);
  const n = xs.length;
  let d = 0;
  for (let i = 0; i < n; i++) {
    const f = cdf(xs[i]!);
    d = Math.max(d, (i + 1) / n - f, f - i / n);
  }
  return d;
}

/** Critical KS value at significance 0.001 for large n. */
const ksCritical = (n: number) => 1.95 / Math.sqrt(n);

function gaps(times: number[]): number[] {
  const g: number[] = [];
  for (let i = 1; i < times.length; i++) g.push(times[i]! - times[i - 1]!);
  return g;
}

const constant = (rate: number, duration: number): CompiledPhase[] => [{ type: 'constant', start: 0, duration, rate }];

test('constant rate: count matches and inter-arrival times are exponential (KS)', () => {
  const rate = 1000;
  const duration = 200;
  const times = drain(new PoissonArrivals(constant(rate, duration), new SeededRng(12345)));
  const n = times.length;
  const expected = rate * duration;
  assert.ok(Math.abs(n - expected) < 4 * Math.sqrt(expected), `count ${n} vs ${expected}`);
  assert.ok(times.every((t, i) => t >= 0 && t < duration && (i === 0 || t >= times[i - 1]!)), 'times are ordered and in range');
  const g = gaps(times);
  const mean = g.reduce((a, b) => a + b, 0) / g.length;
  assert.ok(Math.abs(mean * rate - 1) < 0.01, `mean gap ${mean}`);
  const d = ksStatistic(g, (x) => 1 - Math.exp(-rate * x));
  assert.ok(d < ksCritical(g.length), `KS D=${d} >= ${ksCritical(g.length)}`);
  // The test has teeth: evenly spaced arrivals at the same rate are rejected.
  const even = Array.from({ length: g.length }, () => 1 / rate);
  assert.ok(ksStatistic(even, (x) => 1 - Math.exp(-rate * x)) > ksCritical(g.length));
});

test('counts per 10 ms are Poisson: dispersion index ~ 1', () => {
  const rate = 1000;
  const duration = 200;
  const times = drain(new PoissonArrivals(constant(rate, duration), new SeededRng(777)));
  const bins = new Array<number>(duration * 100).fill(0);
  for (const t of times) bins[Math.floor(t * 100)]!++;
  const mean = bins.reduce((a, b) => a + b, 0) / bins.length;
  const variance = bins.reduce((a, b) => a + (b - mean) ** 2, 0) / (bins.length - 1);
  const index = variance / mean;
  // Standard error of the index is sqrt(2/(bins-1)) ~ 0.01.
  assert.ok(Math.abs(index - 1) < 0.05, `dispersion index ${index}`);
  // P(0 arrivals in a bin) = e^-10 per bin; the observed share must be near it.
  const zeros = bins.filter((b) => b === 0).length / bins.length;
  assert.ok(zeros < 0.001, `share of empty 10 ms bins ${zeros}`);
});

test('time-varying rate: per-second counts follow the curve (ramp, sine, step, spike)', () => {
  const phases: CompiledPhase[] = [
    { type: 'ramp', start: 0, duration: 20, from: 0, to: 2000 },
    { type: 'sine', start: 20, duration: 20, period: 20, min: 200, max: 1800, shift: 0 },
    { type: 'step', start: 40, duration: 10, levels: [100, 3000], hold: 5 },
    { type: 'spike', start: 50, duration: 10, base: 100, peak: 4000, at: 3, length: 2 },
  ];
  const times = drain(new PoissonArrivals(phases, new SeededRng(99)));
  const counts = new Array<number>(60).fill(0);
  for (const t of times) counts[Math.floor(t)]!++;
  for (let s = 0; s < 60; s++) {
    const e = expectedArrivals(phases, s, s + 1);
    const sd = Math.sqrt(Math.max(e, 1));
    assert.ok(Math.abs(counts[s]! - e) < 5 * sd + 2, `second ${s}: ${counts[s]} vs expected ${e.toFixed(1)}`);
  }
  const total = expectedArrivals(phases, 0, 60);
  assert.ok(Math.abs(times.length - total) < 4 * Math.sqrt(total));
});

test('N streams at rate r/N add up to one Poisson stream at rate r', () => {
  const rate = 800;
  const duration = 100;
  const root = new SeededRng(5);
  const merged = [0, 1, 2, 3].flatMap(() => drain(new PoissonArrivals(constant(rate, duration), root.fork(), 1 / 4))).sort((a, b) => a - b);
  const expected = rate * duration;
  assert.ok(Math.abs(merged.length - expected) < 4 * Math.sqrt(expected), `merged count ${merged.length}`);
  const g = gaps(merged);
  const d = ksStatistic(g, (x) => 1 - Math.exp(-rate * x));
  assert.ok(d < ksCritical(g.length), `KS D=${d}`);
});

test('arrivals are reproducible from the seed and independent of anything else', () => {
  const a = drain(new PoissonArrivals(constant(100, 10), new SeededRng(3)));
  const b = drain(new PoissonArrivals(constant(100, 10), new SeededRng(3)));
  const c = drain(new PoissonArrivals(constant(100, 10), new SeededRng(4)));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

test('a zero-rate phase yields nothing and the next phase starts on time', () => {
  const phases: CompiledPhase[] = [
    { type: 'constant', start: 0, duration: 5, rate: 0 },
    { type: 'constant', start: 5, duration: 5, rate: 200 },
  ];
  const times = drain(new PoissonArrivals(phases, new SeededRng(8)));
  assert.ok(times.length > 0);
  assert.ok(times.every((t) => t >= 5 && t < 10));
});
