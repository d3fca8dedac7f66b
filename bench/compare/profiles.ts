// Workload profiles in `bench compare`: each profile given with --profile runs on etcd's cluster
// and then on verdant's, with the same resolved rates, and the two summaries are set side by side.
//
// Percentage rates need a base (target_rate). Both systems get etcd's measured maximum as that
// base, so they see the identical offered load; absolute rates are used as written.
import { readdirSync } from 'node:fs';
import { ConfigError } from '../../runtime/common/config-error.js';
import type { ClusterUnderTest } from '../peers/cluster-under-test.js';
import { totalCpuSeconds } from '../peers/proc-cpu.js';
import { preloadKeys } from '../loadgen/preload.js';
import { loadProfile, shippedProfilesDir } from '../loadgen/profile/load.js';
import type { OperationKind, Profile } from '../loadgen/profile/profile.js';
import { OPERATION_KINDS } from '../loadgen/profile/profile.js';
import { expectedArrivals } from '../loadgen/rate-curve.js';
import type { LoadSummary } from '../loadgen/report.js';
import { runLoad } from '../loadgen/run.js';
import type { TargetOptions } from '../loadgen/target.js';
import { openTarget } from '../loadgen/targets/index.js';

export const PROFILE_METHOD =
  'profiles: each --profile fitted into --profile-duration and run open loop (Poisson, latency from intended send time) ' +
  'on both clusters after their latency step; percentage rates resolve against target_rate = etcd max_ops_per_s for ' +
  'both systems (identical offered load; absolute rates as written); keys preloaded closed loop before the run and ' +
  'not measured; server CPU over the run only';

/** One operation kind of a profile run. */
export interface ProfileOpResult {
  count: number;
  errors: number;
  errors_by_code: Record<string, number>;
  p50_ms: number;
  p99_ms: number;
}

/** One system's run of one profile. */
export interface ProfileSide {
  offered: number;
  ok: number;
  /** Arrivals drawn per second of the arrival window. */
  offered_rate: number;
  /** Successful ops per second, to the last reply. */
  achieved_rate: number;
  p50_ms: number;
  p99_ms: number;
  p999_ms: number;
  max_ms: number;
  errors: number;
  errors_by_code: Record<string, number>;
  not_found: number;
  cas_failed: number;
  abandoned: number;
  by_op: Partial<Record<OperationKind, ProfileOpResult>>;
  /** Kinds of the profile every attempt of which failed: the target cannot do them (as run here). */
  unsupported_ops: OperationKind[];
  server_cpu_s_per_op: number | null;
  client_cpu_s_per_op: number | null;
  client_saturated: boolean;
}

/** The profile could not be run on this system at all (e.g. its preload failed). */
export interface ProfileFailure {
  error: string;
}

export interface ProfileComparison {
  file: string | null;
  duration_s: number;
  /** The base of percentage rates: etcd's max_ops_per_s. */
  target_rate: number;
  /** Mean rate the resolved profile asks for (planned ops / duration). */
  planned_rate: number;
  planned_ops: number;
  etcd: ProfileSide | ProfileFailure;
  /** null when verdant was not measured. */
  verdant: ProfileSide | ProfileFailure | null;
  /** verdant achieved_rate / etcd achieved_rate; null unless both ran every operation kind. */
  ratio_ops: number | null;
  /** verdant p99 / etcd p99; null unless both ran every operation kind. */
  ratio_p99: number | null;
  note: string;
}

const r3 = (x: number) => Math.round(x * 1000) / 1000;
const perOp = (s: number, ops: number) => (ops > 0 ? Number((s / ops).toPrecision(4)) : null);

export function isFailure(x: ProfileSide | ProfileFailure | null): x is ProfileFailure {
  return x !== null && 'error' in x;
}

/** Names of the shipped profiles (profiles/workloads/*.yaml). */
export function shippedProfileNames(): string[] {
  try {
    return readdirSync(shippedProfilesDir())
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => f.slice(0, -5))
      .sort();
  } catch {
    return [];
  }
}

/**
 * Loads a --profile value with the compare's duration and base rate. A name or path that does not
 * exist is a ConfigError on `--profile`; errors inside a profile name the file and its field.
 */
export function loadCompareProfile(source: string, durationS: number, targetRate: number): Profile {
  try {
    return loadProfile(source, { duration: durationS, targetRate });
  } catch (err) {
    if (err instanceof ConfigError && err.fieldPath === '' && /cannot read profile/.test(err.message)) {
      const shipped = shippedProfileNames();
      throw new ConfigError('--profile', `${JSON.stringify(source)} is neither a readable file nor a shipped profile${shipped.length ? ` (shipped: ${shipped.join(', ')})` : ''}`);
    }
    throw err;
  }
}

/**
 * Checks every --profile before any cluster starts (with a placeholder base rate; the real one
 * is etcd's maximum). Returns the profile names, which key the result and must be distinct.
 */
export function validateCompareProfiles(sources: readonly string[], durationS: number): string[] {
  const names: string[] = [];
  sources.forEach((src, i) => {
    const p = loadCompareProfile(src, durationS, 1000);
    if (names.includes(p.name)) throw new ConfigError(`--profile[${i}]`, `a profile named ${JSON.stringify(p.name)} is already given (${JSON.stringify(sources[names.indexOf(p.name)])})`);
    names.push(p.name);
  });
  return names;
}

/** Summarizes one run; `serverCpuS` is the servers' CPU over the run. */
export function profileSide(profile: Profile, s: LoadSummary, serverCpuS: number): ProfileSide {
  const by_op: Partial<Record<OperationKind, ProfileOpResult>> = {};
  const unsupported: OperationKind[] = [];
  for (const k of OPERATION_KINDS) {
    const o = s.by_op[k];
    if (!o) continue;
    by_op[k] = { count: o.count, errors: o.errors, errors_by_code: o.errors_by_code, p50_ms: o.p50_ms, p99_ms: o.p99_ms };
    if (profile.operations[k] > 0 && o.count > 0 && o.errors === o.count) unsupported.push(k);
  }
  return {
    offered: s.offered,
    ok: s.ok,
    offered_rate: s.offered_rate,
    achieved_rate: s.achieved_rate,
    p50_ms: s.latency.p50_ms,
    p99_ms: s.latency.p99_ms,
    p999_ms: s.latency.p999_ms,
    max_ms: s.latency.max_ms,
    errors: s.errors,
    errors_by_code: s.errors_by_code,
    not_found: s.not_found,
    cas_failed: s.cas_failed,
    abandoned: s.abandoned,
    by_op,
    unsupported_ops: unsupported,
    server_cpu_s_per_op: perOp(serverCpuS, s.ok),
    client_cpu_s_per_op: perOp(s.client.cpu_s, s.ok),
    client_saturated: s.client.saturated,
  };
}

/** Runs one resolved profile on a running cluster: preload (not measured), then the open-loop run. */
export async function runProfileOn(
  cluster: ClusterUnderTest,
  profile: Profile,
  auth: Partial<TargetOptions>,
  log: (line: string) => void,
  signal?: AbortSignal,
): Promise<ProfileSide | ProfileFailure> {
  const pids = cluster.serverPids();
  try {
    if (profile.preload > 0) {
      log(`${cluster.name}: ${profile.name}: preloading ${profile.preload} keys`);
      const t = await openTarget(cluster.targetUrl(), { ...auth, connectionsPerEndpoint: profile.concurrency.connections, timeoutMs: profile.timeoutMs });
      try {
        await preloadKeys(t, profile, signal ? { signal } : {});
      } finally {
        await t.close();
      }
    }
    const mean = expectedArrivals(profile.phases, 0, profile.duration) / profile.duration;
    log(`${cluster.name}: ${profile.name}: ${profile.duration} s, mean ${mean.toFixed(0)} ops/s (open loop, Poisson)`);
    const cpu0 = totalCpuSeconds(pids);
    const run = await runLoad({
      profile: { ...profile, preload: 0 },
      target: cluster.targetUrl(),
      targetOptions: auth,
      ...(signal ? { signal } : {}),
    });
    const side = profileSide(profile, run.summary, totalCpuSeconds(pids) - cpu0);
    log(
      `${cluster.name}: ${profile.name}: achieved ${side.achieved_rate} ops/s of ${side.offered_rate} offered, ` +
        `p50 ${side.p50_ms} ms, p99 ${side.p99_ms} ms, errors ${side.errors}` +
        (side.unsupported_ops.length ? `, every ${side.unsupported_ops.join('/')} failed` : ''),
    );
    return side;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log(`${cluster.name}: ${profile.name}: could not run: ${message}`);
    return { error: message };
  }
}

function describeErrors(name: string, s: ProfileSide | ProfileFailure): string[] {
  if (isFailure(s)) return [`${name} could not run it: ${s.error}`];
  const out: string[] = [];
  for (const k of s.unsupported_ops) {
    const o = s.by_op[k]!;
    const codes = Object.entries(o.errors_by_code).map(([c, n]) => `${c} x${n}`).join(', ');
    out.push(`${name} cannot do ${k}: all ${o.count} failed (${codes})`);
  }
  // The other errors by code: every code counted, less those of the kinds reported above.
  const codes: Record<string, number> = { ...s.errors_by_code };
  for (const k of s.unsupported_ops) for (const [c, n] of Object.entries(s.by_op[k]!.errors_by_code)) codes[c] = (codes[c] ?? 0) - n;
  const rest = Object.entries(codes).filter(([, n]) => n > 0);
  if (rest.length > 0) out.push(`${name}: ${rest.reduce((a, [, n]) => a + n, 0)} errors (${rest.map(([c, n]) => `${c} x${n}`).join(', ')})`);
  if (s.client_saturated) out.push(`${name}: the load generator was saturated; latencies include client delay`);
  return out;
}

/** Sets the two runs of one profile side by side. */
export function compareProfile(
  profile: Profile,
  targetRate: number,
  etcd: ProfileSide | ProfileFailure,
  verdant: ProfileSide | ProfileFailure | null,
  unavailableNote: string,
): ProfileComparison {
  const planned = expectedArrivals(profile.phases, 0, profile.duration);
  const notes = [...describeErrors('etcd', etcd), ...(verdant ? describeErrors('verdant', verdant) : [unavailableNote])];
  const whole = (x: ProfileSide | ProfileFailure | null): x is ProfileSide => x !== null && !isFailure(x) && x.unsupported_ops.length === 0;
  const both = whole(etcd) && whole(verdant);
  if (!both && verdant !== null) notes.push('ratios are null: one system did not run every operation of the profile');
  return {
    file: profile.file ?? null,
    duration_s: r3(profile.duration),
    target_rate: r3(targetRate),
    planned_rate: r3(planned / profile.duration),
    planned_ops: Math.round(planned),
    etcd,
    verdant,
    ratio_ops: both && etcd.achieved_rate > 0 ? r3((verdant as ProfileSide).achieved_rate / etcd.achieved_rate) : null,
    ratio_p99: both && etcd.p99_ms > 0 ? r3((verdant as ProfileSide).p99_ms / etcd.p99_ms) : null,
    note: notes.join('; ') || 'both systems ran every operation without errors',
  };
}
