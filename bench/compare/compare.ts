// `verdant bench compare`: the same write workload against etcd and against verdant, one after
// the other, each on a fresh 3-member cluster on loopback with data on disk and fsync on commit.
//
// Method (docs/load.md, "Comparison method"):
//   1. warm up: closed loop, window 64, 2 s;
//   2. maximum: closed-loop puts at increasing windows (outstanding requests), extended by 4x
//      while the largest is still gaining; the best throughput any window reached is
//      max_ops_per_s;
//   3. latency: open-loop Poisson puts at 50% of *etcd's* maximum (a load both systems must carry)
//      for --duration; p50/p99 from the intended send time, server CPU from /proc divided by ops;
//   4. profiles (--profile, optional): each workload profile on the same running cluster, with
//      etcd's maximum as the base of its percentage rates (profiles.ts).
import type { ClusterUnderTest } from '../peers/cluster-under-test.js';
import { totalCpuSeconds } from '../peers/proc-cpu.js';
import type { ClosedLoopResult } from '../loadgen/closed-loop.js';
import { runClosedLoopPuts } from '../loadgen/closed-loop.js';
import { profileFromObject } from '../loadgen/profile/load.js';
import type { Profile } from '../loadgen/profile/profile.js';
import { runLoad } from '../loadgen/run.js';
import type { LoadSummary } from '../loadgen/report.js';
import { openTarget } from '../loadgen/targets/index.js';
import type { ProfileComparison, ProfileFailure, ProfileSide } from './profiles.js';
import { compareProfile, isFailure, loadCompareProfile, PROFILE_METHOD, runProfileOn } from './profiles.js';

export interface CompareOptions {
  /** Seconds per measurement step. */
  durationS: number;
  valueSize: number;
  /** Closed-loop windows tried for the maximum. */
  windows: number[];
  /** The probe extends past the listed windows (4x at a time) while still gaining, up to this. */
  maxWindow: number;
  keyCount: number;
  /** Connections per endpoint. */
  connections: number;
  /** Workload profiles (shipped names or files) run on each cluster after its latency step. */
  profiles: string[];
  /** Seconds each profile is fitted into (its whole timeline scales, as `verdant load --duration`). */
  profileDurationS: number;
  log: (line: string) => void;
  signal?: AbortSignal;
}

export const DEFAULT_COMPARE_OPTIONS: Omit<CompareOptions, 'log'> = {
  durationS: 10,
  valueSize: 1024,
  windows: [16, 64, 256, 1024],
  maxWindow: 16384,
  keyCount: 100_000,
  connections: 1,
  profiles: [],
  profileDurationS: 10,
};

export interface ProbePoint {
  window: number;
  ops_per_s: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
  server_cpu_s_per_op: number | null;
  client_cpu_s_per_op: number | null;
}

export interface SystemResult {
  name: string;
  max_ops_per_s: number;
  max_at_window: number;
  probe: ProbePoint[];
  /** The common offered load: 50% of etcd's maximum. */
  offered_rate: number;
  achieved_rate: number;
  p50_ms: number;
  p99_ms: number;
  p999_ms: number;
  errors: number;
  /** Server CPU seconds (all server processes, /proc) per completed op at the common load. */
  server_cpu_s_per_op: number | null;
  /** The same at the maximum. */
  server_cpu_s_per_op_at_max: number | null;
  client_cpu_s_per_op: number | null;
  client_saturated: boolean;
}

export interface CompareResult {
  peer: string;
  value_size: number;
  duration_s: number;
  method: string;
  etcd: SystemResult;
  verdant: SystemResult | null;
  /** verdant max_ops_per_s / etcd max_ops_per_s. */
  ratio_max_ops: number | null;
  /** verdant p99 / etcd p99 at the common load. */
  ratio_p99: number | null;
  note: string;
  /** Per profile name (--profile); empty when none was given. */
  profiles: Record<string, ProfileComparison>;
}

/** One system's measurements: the write probe and latency step, and its run of each profile. */
export interface SystemMeasurement {
  system: SystemResult;
  /** In --profile order; `profile` is the resolved profile both systems ran. */
  profiles: Array<{ profile: Profile; side: ProfileSide | ProfileFailure }>;
}

const r3 = (x: number) => Math.round(x * 1000) / 1000;
const perOp = (s: number, ops: number) => (ops > 0 ? Number((s / ops).toPrecision(4)) : null);

export const COMPARE_METHOD =
  'max: closed-loop puts (keys uniform over the key space) at increasing windows of outstanding requests, best throughput wins; ' +
  'latency: open-loop Poisson puts at 50% of etcd max, measured from intended send time; ' +
  'server CPU: utime+stime of all server processes from /proc over the step, per completed op';

/** The latency step's workload, as a profile (the same engine and report as `verdant load`). */
export function writeProfile(rate: number, o: Pick<CompareOptions, 'durationS' | 'valueSize' | 'keyCount' | 'connections'>): Profile {
  return profileFromObject({
    name: `puts-${o.valueSize}B`,
    description: 'durable single-key puts, uniform keys',
    seed: 42,
    phases: [{ type: 'constant', duration: o.durationS, rate }],
    operations: { write: 1 },
    keys: { count: o.keyCount, distribution: 'uniform', prefix: 'cmp/' },
    values: { size: o.valueSize },
    concurrency: { connections: o.connections, max_in_flight: 4096 },
  });
}

/**
 * Measures one system: its maximum, then latency and CPU at `base.commonRate`, then each profile
 * with `base.profileRate` as its target_rate (undefined: 50% of its own max, and its own max).
 */
export async function measureSystem(
  cluster: ClusterUnderTest,
  o: CompareOptions,
  base: { commonRate?: number; profileRate?: number } = {},
): Promise<SystemMeasurement> {
  const log = o.log;
  log(`${cluster.name}: starting 3 members`);
  await cluster.start();
  try {
    const pids = cluster.serverPids();
    const token = cluster.clientToken?.();
    const auth = token !== undefined ? { token } : {};
    const target = await openTarget(cluster.targetUrl(), { connectionsPerEndpoint: o.connections, ...auth });
    const probe: ProbePoint[] = [];
    let best: { point: ProbePoint; res: ClosedLoopResult } | undefined;
    try {
      log(`${cluster.name}: warm-up (closed loop, window 64, 2 s)`);
      await runClosedLoopPuts(target, { window: 64, durationS: 2, valueSize: o.valueSize, keyCount: o.keyCount, ...(o.signal ? { signal: o.signal } : {}) });
      let below = 0;
      // The listed windows, then, while the last one was still the best and gained >= 5% over
      // the one before, 4x larger windows up to maxWindow: the maximum must not be an artefact
      // of the list ending too early.
      const windows = [...o.windows];
      for (let i = 0; i < windows.length; i++) {
        const window = windows[i]!;
        if (o.signal?.aborted) break;
        const cpu0 = totalCpuSeconds(pids);
        const res = await runClosedLoopPuts(target, {
          window,
          durationS: o.durationS,
          valueSize: o.valueSize,
          keyCount: o.keyCount,
          seed: window,
          ...(o.signal ? { signal: o.signal } : {}),
        });
        const serverCpu = totalCpuSeconds(pids) - cpu0;
        const point: ProbePoint = {
          window,
          ops_per_s: res.ops_per_s,
          p50_ms: res.latency.p50_ms,
          p99_ms: res.latency.p99_ms,
          errors: res.errors,
          server_cpu_s_per_op: perOp(serverCpu, res.ok),
          client_cpu_s_per_op: perOp(res.client_cpu_s, res.ok),
        };
        probe.push(point);
        log(`${cluster.name}: window ${window}: ${res.ops_per_s} ops/s, p50 ${res.latency.p50_ms} ms, p99 ${res.latency.p99_ms} ms, errors ${res.errors}`);
        if (!best || point.ops_per_s > best.point.ops_per_s) {
          best = { point, res };
          below = 0;
        } else if (++below >= 2) {
          break; // two windows in a row below the best: past the knee
        }
        const prev = probe[probe.length - 2];
        if (i === windows.length - 1 && best.point === point && window * 4 <= o.maxWindow && (!prev || point.ops_per_s >= 1.05 * prev.ops_per_s)) {
          windows.push(window * 4);
        }
      }
    } finally {
      await target.close();
    }
    if (!best) throw new Error(`${cluster.name}: no throughput measured`);
    const rate = base.commonRate ?? best.point.ops_per_s * 0.5;
    log(`${cluster.name}: latency at ${rate.toFixed(0)} ops/s (open loop, Poisson, ${o.durationS} s)`);
    const cpu0 = totalCpuSeconds(pids);
    const run = await runLoad({
      profile: writeProfile(rate, o),
      target: cluster.targetUrl(),
      targetOptions: auth,
      ...(o.signal ? { signal: o.signal } : {}),
    });
    const serverCpu = totalCpuSeconds(pids) - cpu0;
    const s: LoadSummary = run.summary;
    log(`${cluster.name}: achieved ${s.achieved_rate} ops/s, p50 ${s.latency.p50_ms} ms, p99 ${s.latency.p99_ms} ms, errors ${s.errors}`);
    const profileRate = base.profileRate ?? best.point.ops_per_s;
    const profiles: SystemMeasurement['profiles'] = [];
    for (const src of o.profiles) {
      if (o.signal?.aborted) break;
      const profile = loadCompareProfile(src, o.profileDurationS, profileRate);
      profiles.push({ profile, side: await runProfileOn(cluster, profile, auth, log, o.signal) });
    }
    const system: SystemResult = {
      name: cluster.name,
      max_ops_per_s: best.point.ops_per_s,
      max_at_window: best.point.window,
      probe,
      offered_rate: r3(rate),
      achieved_rate: s.achieved_rate,
      p50_ms: s.latency.p50_ms,
      p99_ms: s.latency.p99_ms,
      p999_ms: s.latency.p999_ms,
      errors: s.errors,
      server_cpu_s_per_op: perOp(serverCpu, s.ok),
      server_cpu_s_per_op_at_max: best.point.server_cpu_s_per_op,
      client_cpu_s_per_op: perOp(s.client.cpu_s, s.ok),
      client_saturated: s.client.saturated,
    };
    return { system, profiles };
  } finally {
    log(`${cluster.name}: stopping`);
    await cluster.stop();
  }
}

/**
 * Runs etcd, then verdant if `verdant` is given (undefined: not available), and compares. The
 * verdant side's latency is measured at etcd's 50% load, and its profiles with etcd's maximum as
 * target_rate, so both carry the same offered load.
 */
export async function compareWithEtcd(etcd: ClusterUnderTest, verdant: ClusterUnderTest | undefined, o: CompareOptions, unavailableNote: string): Promise<CompareResult> {
  const em = await measureSystem(etcd, o);
  const e = em.system;
  const vm = verdant ? await measureSystem(verdant, o, { commonRate: e.offered_rate, profileRate: e.max_ops_per_s }) : null;
  const v = vm?.system ?? null;
  const notes: string[] = [];
  if (!verdant) notes.push(unavailableNote);
  for (const x of [e, v]) {
    if (x?.client_saturated) notes.push(`${x.name}: the load generator was saturated during the latency step; its latencies include client delay`);
  }
  const profiles: Record<string, ProfileComparison> = {};
  for (const { profile, side } of em.profiles) {
    const vside = vm ? (vm.profiles.find((p) => p.profile.name === profile.name)?.side ?? { error: 'not run (interrupted)' }) : null;
    profiles[profile.name] = compareProfile(profile, e.max_ops_per_s, side, vside, unavailableNote);
  }
  return {
    peer: 'etcd',
    value_size: o.valueSize,
    duration_s: o.durationS,
    method: o.profiles.length > 0 ? `${COMPARE_METHOD}; ${PROFILE_METHOD}` : COMPARE_METHOD,
    etcd: e,
    verdant: v,
    ratio_max_ops: v ? r3(v.max_ops_per_s / e.max_ops_per_s) : null,
    ratio_p99: v && e.p99_ms > 0 ? r3(v.p99_ms / e.p99_ms) : null,
    note: notes.join('; ') || 'both systems measured',
    profiles,
  };
}

/** A side-by-side table for people. */
export function compareTable(r: CompareResult): string {
  const rows: Array<[string, (s: SystemResult) => string]> = [
    ['max ops/s (closed loop)', (s) => `${s.max_ops_per_s} (window ${s.max_at_window})`],
    ['offered ops/s (50% etcd max)', (s) => `${s.offered_rate}`],
    ['achieved ops/s', (s) => `${s.achieved_rate}`],
    ['p50 ms', (s) => `${s.p50_ms}`],
    ['p99 ms', (s) => `${s.p99_ms}`],
    ['p99.9 ms', (s) => `${s.p999_ms}`],
    ['server CPU s/op', (s) => `${s.server_cpu_s_per_op ?? '-'}`],
    ['server CPU s/op at max', (s) => `${s.server_cpu_s_per_op_at_max ?? '-'}`],
    ['client CPU s/op', (s) => `${s.client_cpu_s_per_op ?? '-'}`],
    ['errors', (s) => `${s.errors}`],
  ];
  const col = (s: SystemResult | null, f: (s: SystemResult) => string) => (s ? f(s) : 'n/a');
  const table: Array<[string, string, string]> = rows.map(([k, f]) => [k, col(r.verdant, f), f(r.etcd)]);
  table.push(['ratio max ops (verdant/etcd)', `${r.ratio_max_ops ?? 'n/a'}`, '']);
  const notes = [`note: ${r.note}`];
  for (const [name, p] of Object.entries(r.profiles)) {
    table.push([`profile ${name} (${p.duration_s} s, target_rate ${p.target_rate})`, '', '']);
    for (const [k, f] of PROFILE_ROWS) table.push([`  ${k}`, sideText(p.verdant, f), sideText(p.etcd, f)]);
    table.push(['  ratio ops, p99 (verdant/etcd)', `${p.ratio_ops ?? 'n/a'}, ${p.ratio_p99 ?? 'n/a'}`, '']);
    notes.push(`${name}: ${p.note}`);
  }
  const w0 = Math.max(...table.map(([k]) => k.length));
  const w1 = Math.max(7, ...table.map(([, v]) => v.length));
  const lines = [`${''.padEnd(w0)}  ${'verdant'.padEnd(w1)}  etcd`];
  for (const [k, v, e] of table) lines.push(`${k.padEnd(w0)}  ${v.padEnd(w1)}  ${e}`.trimEnd());
  return [...lines, ...notes].join('\n');
}

const PROFILE_ROWS: Array<[string, (s: ProfileSide) => string]> = [
  ['offered ops/s', (s) => `${s.offered_rate}`],
  ['achieved ops/s', (s) => `${s.achieved_rate}`],
  ['p50 ms', (s) => `${s.p50_ms}`],
  ['p99 ms', (s) => `${s.p99_ms}`],
  ['server CPU s/op', (s) => `${s.server_cpu_s_per_op ?? '-'}`],
  ['client CPU s/op', (s) => `${s.client_cpu_s_per_op ?? '-'}`],
  ['errors', (s) => `${s.errors}${s.unsupported_ops.length ? ` (every ${s.unsupported_ops.join('/')} failed)` : ''}`],
];

function sideText(s: ProfileSide | ProfileFailure | null, f: (s: ProfileSide) => string): string {
  if (s === null) return 'n/a';
  return isFailure(s) ? 'failed' : f(s);
}
