// The offered rate as a function of time, from a profile's compiled phases. Pure functions of
// plain data, so the arrival scheduler, the tests and the report all agree on what was offered.
import type { CompiledPhase } from './profile/profile.js';

/** Rate (ops/s) of a phase at `t` seconds from the phase's start. */
export function phaseRateAt(p: CompiledPhase, t: number): number {
  switch (p.type) {
    case 'constant':
      return p.rate;
    case 'step': {
      const i = Math.min(p.levels.length - 1, Math.max(0, Math.floor(t / p.hold)));
      return p.levels[i]!;
    }
    case 'ramp':
      return p.from + (p.to - p.from) * Math.min(1, Math.max(0, t / p.duration));
    case 'sine':
      // Starts at min (shift 0) and reaches max half a period later: a day from midnight.
      return p.min + ((p.max - p.min) * (1 - Math.cos(2 * Math.PI * (t / p.period + p.shift)))) / 2;
    case 'spike':
      return t >= p.at && t < p.at + p.length ? p.peak : p.base;
    case 'replay':
      return replayRateAt(p.times, p.rates, p.interpolate, t);
  }
}

function replayRateAt(times: number[], rates: number[], interpolate: 'step' | 'linear', t: number): number {
  // Binary search for the last row at or before t.
  let lo = 0;
  let hi = times.length - 1;
  if (t <= times[0]!) return rates[0]!;
  if (t >= times[hi]!) return rates[hi]!;
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (times[mid]! <= t) lo = mid;
    else hi = mid;
  }
  if (interpolate === 'step') return rates[lo]!;
  const f = (t - times[lo]!) / (times[hi]! - times[lo]!);
  return rates[lo]! + (rates[hi]! - rates[lo]!) * f;
}

/** An upper bound of the phase's rate over its whole duration (for thinning). */
export function phaseMaxRate(p: CompiledPhase): number {
  switch (p.type) {
    case 'constant':
      return p.rate;
    case 'step':
      return Math.max(...p.levels);
    case 'ramp':
      return Math.max(p.from, p.to);
    case 'sine':
      return Math.max(p.min, p.max);
    case 'spike':
      return Math.max(p.base, p.length > 0 && p.at < p.duration ? p.peak : p.base);
    case 'replay':
      return Math.max(...p.rates);
  }
}

/** Rate at absolute time t (seconds from the run's start); 0 past the end. */
export function rateAt(phases: readonly CompiledPhase[], t: number): number {
  for (const p of phases) {
    if (t < p.start + p.duration) return t >= p.start ? phaseRateAt(p, t - p.start) : 0;
  }
  return 0;
}

/** Expected number of arrivals in [t0, t1): the integral of the rate, by Simpson's rule per 10 ms. */
export function expectedArrivals(phases: readonly CompiledPhase[], t0: number, t1: number): number {
  if (t1 <= t0) return 0;
  const n = Math.max(2, Math.ceil((t1 - t0) / 0.01) * 2);
  const h = (t1 - t0) / n;
  let s = rateAt(phases, t0) + rateAt(phases, t1 - 1e-9);
  for (let i = 1; i < n; i++) s += (i % 2 === 1 ? 4 : 2) * rateAt(phases, t0 + i * h);
  return (s * h) / 3;
}
