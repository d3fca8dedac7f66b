// Per-second counters and latency histogram, shared by the open- and closed-loop runners and
// merged across generator threads by second index.
import type { Histogram } from './hist.js';
import { decodeHistogram, encodeHistogram, newHistogram } from './hist.js';

export interface IntervalBucket {
  /** Second index from the run's start. */
  second: number;
  /** Arrivals whose intended send time falls in this second. */
  offered: number;
  /** Operations that completed in this second (ok + errors). */
  completed: number;
  errors: number;
  errorCodes: Record<string, number>;
  notFound: number;
  casFailed: number;
  /** Latency (intended send to reply, µs) of operations that succeeded in this second. */
  hist: Histogram;
}

export function newBucket(second: number): IntervalBucket {
  return { second, offered: 0, completed: 0, errors: 0, errorCodes: {}, notFound: 0, casFailed: 0, hist: newHistogram() };
}

/** A bucket as posted between threads. */
export type WireBucket = Omit<IntervalBucket, 'hist'> & { hist: string };

export function toWire(b: IntervalBucket): WireBucket {
  return { ...b, hist: encodeHistogram(b.hist) };
}

export function fromWire(w: WireBucket): IntervalBucket {
  return { ...w, hist: decodeHistogram(w.hist) };
}

export function mergeInto(into: IntervalBucket, b: IntervalBucket): void {
  into.offered += b.offered;
  into.completed += b.completed;
  into.errors += b.errors;
  into.notFound += b.notFound;
  into.casFailed += b.casFailed;
  for (const [k, v] of Object.entries(b.errorCodes)) into.errorCodes[k] = (into.errorCodes[k] ?? 0) + v;
  if (b.hist.totalCount > 0) into.hist.add(b.hist);
}

/** A short, stable label for an error: gRPC status name, errno code, or the error's name. */
export function errorCode(err: unknown): string {
  if (err && typeof err === 'object') {
    const c = (err as { code?: unknown }).code;
    if (typeof c === 'string' && c) return c;
    if (typeof c === 'number') return `CODE_${c}`;
    const n = (err as { name?: unknown }).name;
    if (typeof n === 'string' && n) return n;
  }
  return 'UNKNOWN';
}
