// Latency histograms (HdrHistogram, microseconds, 3 significant digits) and their summaries.
import type { Histogram } from 'hdr-histogram-js';
import { build, decodeFromCompressedBase64, encodeIntoCompressedBase64 } from 'hdr-histogram-js';

export type { Histogram };

export function newHistogram(): Histogram {
  return build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3, autoResize: true });
}

/** Records a duration in microseconds (at least 1). */
export function recordUs(h: Histogram, us: number): void {
  h.recordValue(us < 1 ? 1 : Math.round(us));
}

export function encodeHistogram(h: Histogram): string {
  return encodeIntoCompressedBase64(h);
}

export function decodeHistogram(s: string): Histogram {
  return decodeFromCompressedBase64(s);
}

export interface LatencySummary {
  count: number;
  mean_ms: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  p999_ms: number;
  max_ms: number;
}

const ms = (us: number) => Math.round(us) / 1000;

/**
 * The value at a percentile, never above the largest value recorded. HdrHistogram answers with
 * the highest value equivalent to the bucket's (up to 0.1% above what was recorded at 3 digits),
 * while maxValue is the recorded maximum; unclamped, a report could show p99.9 > max.
 */
export function percentileUs(h: Histogram, percentile: number): number {
  return Math.min(h.getValueAtPercentile(percentile), h.maxValue);
}

export function summarize(h: Histogram): LatencySummary {
  if (h.totalCount === 0) return { count: 0, mean_ms: 0, p50_ms: 0, p90_ms: 0, p99_ms: 0, p999_ms: 0, max_ms: 0 };
  return {
    count: h.totalCount,
    mean_ms: ms(Math.min(h.mean, h.maxValue)),
    p50_ms: ms(percentileUs(h, 50)),
    p90_ms: ms(percentileUs(h, 90)),
    p99_ms: ms(percentileUs(h, 99)),
    p999_ms: ms(percentileUs(h, 99.9)),
    max_ms: ms(h.maxValue),
  };
}
