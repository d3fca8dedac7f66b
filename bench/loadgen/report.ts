// Builds the per-second timeline and the run summary from the generator threads' reports.
import os from 'node:os';
import type { EngineFinal } from './engine.js';
import type { Histogram, LatencySummary } from './hist.js';
import { newHistogram, percentileUs, summarize } from './hist.js';
import type { IntervalBucket } from './interval.js';
import { mergeInto, newBucket } from './interval.js';
import type { OperationKind, Profile } from './profile/profile.js';
import { OPERATION_KINDS } from './profile/profile.js';
import { expectedArrivals } from './rate-curve.js';

export interface TimelineRow {
  /** Second index from the start of the run. */
  t: number;
  /** Length of this interval in seconds (the last one may be shorter). */
  span_s: number;
  /** Rate the profile asked for, averaged over the interval (ops/s). */
  planned_rate: number;
  /** Arrivals actually drawn for this interval (Poisson: close to planned, not equal). */
  offered: number;
  offered_rate: number;
  ok: number;
  achieved_rate: number;
  errors: number;
  not_found: number;
  cas_failed: number;
  p50_ms: number;
  p99_ms: number;
  p999_ms: number;
  max_ms: number;
  /** The generator process's CPU in this second, % of one core (all threads). */
  client_cpu_pct: number | null;
}

export interface OpSummary extends LatencySummary {
  errors: number;
  errors_by_code: Record<string, number>;
}

export interface ClientSummary {
  workers: number;
  cpu_user_s: number;
  cpu_system_s: number;
  cpu_s: number;
  /** cpu_s / elapsed: cores' worth of CPU the generator used. */
  cpu_cores_used: number;
  cores_available: number;
  /** How late requests left their intended send time: the generator's own delay. */
  send_lag_ms: { p50: number; p99: number; max: number };
  max_in_flight: number;
  max_queued: number;
  /** True if the generator itself was the bottleneck; then latencies say little about the server. */
  saturated: boolean;
  note: string;
}

export interface LoadSummary {
  profile: string;
  profile_file: string | null;
  target: string;
  seed: number;
  started_at: string;
  planned_duration_s: number;
  /** From the start to the last reply (includes draining replies after the last arrival). */
  elapsed_s: number;
  partial: boolean;
  interrupted: string | null;
  rate_scale: number;
  time_scale: number;
  planned_ops: number;
  offered: number;
  sent: number;
  ok: number;
  errors: number;
  errors_by_code: Record<string, number>;
  not_found: number;
  cas_failed: number;
  /** Unanswered or still queued when the run ended (interrupt, or the drain deadline passed). */
  abandoned: number;
  /** offered / the time arrivals ran. */
  offered_rate: number;
  /** ok / elapsed_s. */
  achieved_rate: number;
  latency: LatencySummary;
  by_op: Partial<Record<OperationKind, OpSummary>>;
  client: ClientSummary;
}

export interface LoadResult {
  summary: LoadSummary;
  timeline: TimelineRow[];
}

const round = (x: number, digits = 3) => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

export class RunAggregator {
  private readonly buckets = new Map<number, IntervalBucket>();
  private readonly cpuBySecond = new Map<number, number>();
  private readonly finals: EngineFinal[] = [];

  addInterval(b: IntervalBucket): void {
    const have = this.buckets.get(b.second);
    if (have) mergeInto(have, b);
    else {
      const fresh = newBucket(b.second);
      mergeInto(fresh, b);
      this.buckets.set(b.second, fresh);
    }
  }

  bucketFor(second: number): IntervalBucket | undefined {
    return this.buckets.get(second);
  }

  addCpuSample(second: number, pctOfOneCore: number): void {
    this.cpuBySecond.set(second, pctOfOneCore);
  }

  addFinal(f: EngineFinal): void {
    this.finals.push(f);
  }

  timeline(profile: Profile, elapsed: number): TimelineRow[] {
    const lastSecond = Math.max(Math.ceil(elapsed) - 1, ...this.buckets.keys(), -1);
    const rows: TimelineRow[] = [];
    for (let s = 0; s <= lastSecond; s++) {
      const b = this.buckets.get(s) ?? newBucket(s);
      const span = Math.max(1e-3, Math.min(1, elapsed - s));
      const ok = b.completed - b.errors;
      const lat = summarize(b.hist);
      rows.push({
        t: s,
        span_s: round(span),
        planned_rate: round(expectedArrivals(profile.phases, s, s + span) / span, 1),
        offered: b.offered,
        offered_rate: round(b.offered / span, 1),
        ok,
        achieved_rate: round(ok / span, 1),
        errors: b.errors,
        not_found: b.notFound,
        cas_failed: b.casFailed,
        p50_ms: lat.p50_ms,
        p99_ms: lat.p99_ms,
        p999_ms: lat.p999_ms,
        max_ms: lat.max_ms,
        client_cpu_pct: this.cpuBySecond.has(s) ? round(this.cpuBySecond.get(s)!, 1) : null,
      });
    }
    return rows;
  }

  summary(meta: {
    profile: Profile;
    target: string;
    startedAt: Date;
    /** Start to last reply, seconds. */
    elapsed: number;
    /** Seconds during which arrivals were generated. */
    arrivalWindow: number;
    interrupted: string | null;
    cpu: NodeJS.CpuUsage;
    workers: number;
  }): LoadSummary {
    const { profile, elapsed } = meta;
    const all = newHistogram();
    let offered = 0;
    let completed = 0;
    let errors = 0;
    let notFound = 0;
    let casFailed = 0;
    const errorsByCode: Record<string, number> = {};
    for (const b of this.buckets.values()) {
      if (b.hist.totalCount > 0) all.add(b.hist);
      offered += b.offered;
      completed += b.completed;
      errors += b.errors;
      notFound += b.notFound;
      casFailed += b.casFailed;
      for (const [k, v] of Object.entries(b.errorCodes)) errorsByCode[k] = (errorsByCode[k] ?? 0) + v;
    }
    const byOpHist: Record<string, { count: number; errors: number; errorCodes: Record<string, number>; hist: Histogram }> = {};
    const lag = newHistogram();
    let sent = 0;
    let abandoned = 0;
    let maxInFlight = 0;
    let maxQueued = 0;
    for (const f of this.finals) {
      sent += f.sent;
      abandoned += f.abandoned;
      maxInFlight += f.maxInFlight;
      maxQueued += f.maxQueued;
      if (f.sendLag.totalCount > 0) lag.add(f.sendLag);
      for (const k of OPERATION_KINDS) {
        const s = f.byOp[k];
        if (s.count === 0) continue;
        const into = (byOpHist[k] ??= { count: 0, errors: 0, errorCodes: {}, hist: newHistogram() });
        into.count += s.count;
        into.errors += s.errors;
        for (const [c, n] of Object.entries(s.errorCodes)) into.errorCodes[c] = (into.errorCodes[c] ?? 0) + n;
        if (s.hist.totalCount > 0) into.hist.add(s.hist);
      }
    }
    const by_op: Partial<Record<OperationKind, OpSummary>> = {};
    for (const k of OPERATION_KINDS) {
      const s = byOpHist[k];
      if (s) by_op[k] = { ...summarize(s.hist), count: s.count, errors: s.errors, errors_by_code: s.errorCodes };
    }
    const cpuUser = meta.cpu.user / 1e6;
    const cpuSystem = meta.cpu.system / 1e6;
    const cpuS = cpuUser + cpuSystem;
    const cores = os.availableParallelism();
    const lagP99 = lag.totalCount > 0 ? percentileUs(lag, 99) / 1000 : 0;
    const coresUsed = elapsed > 0 ? cpuS / elapsed : 0;
    // One generator thread cannot use more than one core; near that, it is the bottleneck.
    const cpuBound = coresUsed > 0.9 * Math.min(meta.workers, cores);
    const lagBound = lagP99 > 10;
    const saturated = cpuBound || lagBound;
    const why = [cpuBound ? `CPU ${round(coresUsed, 2)} cores for ${meta.workers} thread(s)` : '', lagBound ? `send lag p99 ${round(lagP99, 1)} ms` : '']
      .filter(Boolean)
      .join(', ');
    const note = saturated
      ? `generator could not keep up (${why}): latencies include client-side delay, so they overstate the server's; ` +
        'check the machine is not CPU-starved, lower the rate, or add workers if a core is free'
      : 'generator kept up: send lag and CPU are within bounds';
    const ok = completed - errors;
    return {
      profile: profile.name,
      profile_file: profile.file ?? null,
      target: meta.target,
      seed: profile.seed,
      started_at: meta.startedAt.toISOString(),
      planned_duration_s: round(profile.duration),
      elapsed_s: round(elapsed),
      partial: meta.interrupted !== null,
      interrupted: meta.interrupted,
      rate_scale: profile.rateScale,
      time_scale: round(profile.timeScale, 6),
      planned_ops: Math.round(expectedArrivals(profile.phases, 0, profile.duration)),
      offered,
      sent,
      ok,
      errors,
      errors_by_code: errorsByCode,
      not_found: notFound,
      cas_failed: casFailed,
      abandoned,
      offered_rate: round(meta.arrivalWindow > 0 ? offered / meta.arrivalWindow : 0, 1),
      achieved_rate: round(elapsed > 0 ? ok / elapsed : 0, 1),
      latency: summarize(all),
      by_op,
      client: {
        workers: meta.workers,
        cpu_user_s: round(cpuUser),
        cpu_system_s: round(cpuSystem),
        cpu_s: round(cpuS),
        cpu_cores_used: round(coresUsed),
        cores_available: cores,
        send_lag_ms: {
          p50: lag.totalCount > 0 ? round(percentileUs(lag, 50) / 1000) : 0,
          p99: round(lagP99),
          max: lag.totalCount > 0 ? round(lag.maxValue / 1000) : 0,
        },
        max_in_flight: maxInFlight,
        max_queued: maxQueued,
        saturated,
        note,
      },
    };
  }
}
