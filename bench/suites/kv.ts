// `npm run bench -- kv`: durable 1 KB puts against a 3-replica verdant cluster on loopback
// (separate processes, fsync on: sync mode 'always', the default), closed loop: C clients, each
// with `depth` requests outstanding (pipelined on its connection).
//
//   --seconds S        measured seconds per run (default 10), after --warmup W (default 2)
//   --clients C        client objects (own connections and sessions; default 16)
//   --depth D          requests outstanding per client (default 32)
//   --value-bytes B    value size (default 1024); --keys N key space (default 100000)
//   --placement LIST   main | worker | main-tls, comma-separated: variants run side by side (default
//                      main,worker). main: every actor on the main thread; worker: raft/0, sequencer
//                      and kv on one worker thread (the transports and the WAL stay on the main
//                      thread); main-tls: main with TLS between replicas and to clients (--tls)
//   --rounds R         runs per variant, interleaved (default 1); medians are reported
//   --cpu-prof DIR     run the replicas under node --cpu-prof, profiles into DIR
//   --config JSON      merged into every replica's config (e.g. '{"client":{"maxBatchBytes":1048576}}')
//
// The last line is one JSON object: per variant ops/s, p50/p99/p999 latency (ms), CPU-seconds
// per op over all replica processes (utime+stime from /proc/<pid>/stat), the load generator's
// own CPU, batching figures from the leader; and the worker/main and main-tls/main ratios.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KvClient } from '../../runtime/client/index.js';
import {
  clusterStatus,
  initCluster,
  readToken,
  startReplicaProcess,
  stopPid,
  waitForLeader,
  type StatusResult,
} from '../../runtime/replica/local-cluster.js';
import { processCpuSeconds } from '../peers/proc-cpu.js';

export interface Opts {
  seconds: number;
  warmup: number;
  clients: number;
  depth: number;
  valueBytes: number;
  keys: number;
  placements: string[];
  rounds: number;
  cpuProf: string | null;
  config: Record<string, unknown>;
}

export function parse(args: string[]): Opts {
  const get = (name: string, d: string): string => {
    const i = args.indexOf(name);
    return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : d;
  };
  const num = (name: string, d: number, min = 1): number => {
    const v = Number(get(name, String(d)));
    if (!Number.isFinite(v) || v < min) throw new Error(`${name}: expected a number >= ${min}`);
    return v;
  };
  const placements = get('--placement', 'main,worker').split(',').filter(Boolean);
  for (const p of placements) if (!(p in PLACEMENTS)) throw new Error(`--placement: unknown variant ${p} (${Object.keys(PLACEMENTS).join(' | ')})`);
  const prof = get('--cpu-prof', '');
  return {
    seconds: num('--seconds', 10),
    warmup: num('--warmup', 2, 0),
    clients: num('--clients', 16),
    depth: num('--depth', 32),
    valueBytes: num('--value-bytes', 1024, 0),
    keys: num('--keys', 100_000),
    placements,
    rounds: num('--rounds', 1),
    cpuProf: prof === '' ? null : path.resolve(prof),
    config: JSON.parse(get('--config', '{}')) as Record<string, unknown>,
  };
}

const PLACEMENTS: Record<string, object> = {
  main: { runtime: { workers: 0 } },
  worker: { runtime: { workers: 1, placement: { 'raft/0': 1, sequencer: 1, kv: 1 } } },
  // main with mutual TLS between replicas and TLS on the client port (cluster up --tls).
  'main-tls': { runtime: { workers: 0 } },
};

/** One configuration to measure: its name, what it merges into every replica's config, how clients connect. */
export interface Variant {
  readonly name: string;
  readonly overrides: Record<string, unknown>;
  /** Client i lists the endpoints starting at replica i (multi-Raft: every replica takes writes). */
  readonly spread?: boolean;
  /** TLS between replicas and on the client port (certificates made with openssl). */
  readonly tls?: boolean;
  /** Figures of the measured window from every replica's /v1/status before and after it. */
  readonly collect?: (before: StatusResult[], after: StatusResult[], ops: number, seconds: number) => Record<string, number>;
}

export interface RunResult {
  placement: string;
  ops_per_s: number;
  p50_ms: number;
  p99_ms: number;
  p999_ms: number;
  cpu_s_per_op: number;
  replica_cpu_s: number;
  replica_cpu_s_by_id: Record<string, number>;
  client_cpu_s: number;
  errors: number;
  commands_per_batch: number;
  fsyncs_per_s: number;
  leader_ready_loops_per_s: number;
  leader_persist_ms_avg: number;
  loadavg1: number;
  extra: Record<string, number>;
}

function pct(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

async function run(o: Opts, placement: string, log: (s: string) => void): Promise<RunResult> {
  return runVariant(o, { name: placement, overrides: PLACEMENTS[placement] as Record<string, unknown>, tls: placement.endsWith('-tls') }, log);
}

/** Starts a 3-replica cluster with the variant's config, runs the closed-loop load, measures, stops it. */
export async function runVariant(o: Opts, v: Variant, log: (s: string) => void): Promise<RunResult> {
  const placement = v.name;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'verdant-bench-kv-'));
  const overrides = { ...o.config, ...v.overrides };
  const { manifest } = await initCluster(path.join(root, 'c'), { replicas: 3, overrides: overrides as never, ...(v.tls ? { tls: true } : {}) });
  const nodeArgs = o.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${path.join(o.cpuProf, placement)}`] : [];
  const procs = manifest.replicas.map((r) => startReplicaProcess(manifest, r.id, { nodeArgs }));
  const clients: KvClient[] = [];
  let failed = true;
  try {
    await waitForLeader(manifest, 30_000);
    const token = readToken(manifest.clientTokenFile);
    const endpoints = manifest.replicas.map((r) => r.client);
    for (let i = 0; i < o.clients; i++) {
      const k = v.spread ? i % endpoints.length : 0;
      const eps = [...endpoints.slice(k), ...endpoints.slice(0, k)];
      clients.push(
        await KvClient.connect({
          endpoints: eps,
          token,
          requestTimeoutMs: 30_000,
          maxSessions: Math.max(1, Math.ceil(o.depth / 64)),
          ...(manifest.tls ? { tls: { ca: fs.readFileSync(manifest.tls.ca) } } : {}),
        }),
      );
    }
    const value = Buffer.alloc(o.valueBytes, 0x61);
    const keys = Array.from({ length: o.keys }, (_, i) => `key-${i.toString().padStart(8, '0')}`);
    const maxSamples = 20_000_000;
    const lat = new Float64Array(maxSamples);
    let n = 0;
    let errors = 0;
    let measuring = false;
    let stop = false;
    let k = 0;
    const loop = async (c: KvClient): Promise<void> => {
      while (!stop) {
        const key = keys[(k = (k + 7919) % o.keys)]!;
        const t = performance.now();
        try {
          await c.put(key, value);
          if (measuring && n < maxSamples) lat[n++] = performance.now() - t;
        } catch {
          if (measuring) errors++;
        }
      }
    };
    const loops = clients.flatMap((c) => Array.from({ length: o.depth }, () => loop(c)));
    await new Promise((r) => setTimeout(r, o.warmup * 1000));
    const leaderId = (await clusterStatus(manifest)).find((s) => s.ok && s.status.role === 'leader')?.id;
    const statusBefore = await clusterStatus(manifest, 5000);
    const leaderBefore = leaderStats(statusBefore, leaderId);
    const pids = procs.map((p) => p.pid!);
    const cpu0 = pids.map((p) => processCpuSeconds(p) ?? 0);
    const client0 = process.cpuUsage();
    const load = os.loadavg()[0]!;
    const t0 = performance.now();
    measuring = true;
    await new Promise((r) => setTimeout(r, o.seconds * 1000));
    measuring = false;
    const elapsed = (performance.now() - t0) / 1000;
    const count = n;
    const cpu1 = pids.map((p) => processCpuSeconds(p) ?? NaN);
    const clientCpu = process.cpuUsage(client0);
    const statusAfter = await clusterStatus(manifest, 5000);
    const leaderAfter = leaderStats(statusAfter, leaderId);
    stop = true;
    await Promise.all(loops);
    const sorted = lat.subarray(0, count).sort();
    const byId: Record<string, number> = {};
    let total = 0;
    pids.forEach((_, i) => {
      const d = cpu1[i]! - cpu0[i]!;
      byId[String(manifest.replicas[i]!.id)] = round(d, 3);
      total += d;
    });
    const batches = leaderAfter.batches - leaderBefore.batches;
    const r: RunResult = {
      placement,
      ops_per_s: Math.round(count / elapsed),
      p50_ms: round(pct(sorted, 0.5), 3),
      p99_ms: round(pct(sorted, 0.99), 3),
      p999_ms: round(pct(sorted, 0.999), 3),
      cpu_s_per_op: count > 0 ? total / count : NaN,
      replica_cpu_s: round(total, 3),
      replica_cpu_s_by_id: byId,
      client_cpu_s: round((clientCpu.user + clientCpu.system) / 1e6, 3),
      errors,
      commands_per_batch: batches > 0 ? round((leaderAfter.commands - leaderBefore.commands) / batches, 1) : 0,
      fsyncs_per_s: round((leaderAfter.fsyncs - leaderBefore.fsyncs) / elapsed, 1),
      leader_ready_loops_per_s: round((leaderAfter.ready - leaderBefore.ready) / elapsed, 1),
      leader_persist_ms_avg: round((leaderAfter.persistMs - leaderBefore.persistMs) / Math.max(1, leaderAfter.persists - leaderBefore.persists), 3),
      loadavg1: load,
      extra: v.collect ? v.collect(statusBefore, statusAfter, count, elapsed) : {},
    };
    failed = false;
    log(`  ${placement}: ${r.ops_per_s} ops/s, p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms, ${(r.cpu_s_per_op * 1e6).toFixed(1)} µs replica CPU/op, ${r.commands_per_batch} commands/batch, ${r.fsyncs_per_s} leader fsyncs/s, ${r.leader_ready_loops_per_s} ready loops/s, ${r.leader_persist_ms_avg} ms per persist`);
    return r;
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(procs.map((p) => (p.pid !== undefined && p.exitCode === null ? stopPid(p.pid, 15_000) : Promise.resolve())));
    // A failed run keeps its cluster directory (configs, replica logs) for a post-mortem.
    if (failed) log(`  ${placement}: run failed; cluster kept in ${root}`);
    else fs.rmSync(root, { recursive: true, force: true });
  }
}

function leaderStats(all: StatusResult[], id: number | undefined): { batches: number; commands: number; fsyncs: number; ready: number; persists: number; persistMs: number } {
  const st = all.find((s) => s.id === id);
  if (!st || !st.ok) return { batches: 0, commands: 0, fsyncs: 0, ready: 0, persists: 0, persistMs: 0 };
  const s = st.status as unknown as { client: { batches: number; commands: number }; storage: { fsyncs: number }; groups: { readyLoops: number; counters: Record<string, number> }[] };
  const g = s.groups[0];
  return { batches: s.client.batches, commands: s.client.commands, fsyncs: s.storage.fsyncs, ready: g?.readyLoops ?? 0, persists: g?.counters.persists ?? 0, persistMs: g?.counters.persistMs ?? 0 };
}

export function round(v: number, d: number): number {
  const f = 10 ** d;
  return Math.round(v * f) / f;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

export default async function kv(args: string[]): Promise<Record<string, unknown>> {
  const o = parse(args);
  const log = (s: string) => process.stderr.write(s + '\n');
  log(`kv bench: 3 replicas, fsync on, ${o.valueBytes} B values, ${o.clients} clients x ${o.depth} outstanding, ${o.seconds} s (+${o.warmup} s warmup), variants ${o.placements.join(', ')}, ${o.rounds} round(s)`);
  const runs: RunResult[] = [];
  for (let round = 0; round < o.rounds; round++) {
    const order = round % 2 === 0 ? o.placements : [...o.placements].reverse();
    for (const p of order) runs.push(await run(o, p, log));
  }
  const variants: Record<string, Record<string, number>> = {};
  for (const p of o.placements) {
    const rs = runs.filter((r) => r.placement === p);
    variants[p] = {
      ops_per_s: median(rs.map((r) => r.ops_per_s)),
      p50_ms: median(rs.map((r) => r.p50_ms)),
      p99_ms: median(rs.map((r) => r.p99_ms)),
      p999_ms: median(rs.map((r) => r.p999_ms)),
      cpu_s_per_op: median(rs.map((r) => r.cpu_s_per_op)),
      cpu_us_per_op: round(median(rs.map((r) => r.cpu_s_per_op)) * 1e6, 1),
      client_cpu_s: median(rs.map((r) => r.client_cpu_s)),
      commands_per_batch: median(rs.map((r) => r.commands_per_batch)),
      errors: rs.reduce((a, r) => a + r.errors, 0),
    };
  }
  const ratios: Record<string, number> = {};
  if (variants.main && variants.worker) {
    ratios.worker_vs_main_ops = round(variants.worker.ops_per_s! / variants.main.ops_per_s!, 3);
    ratios.worker_vs_main_cpu_per_op = round(variants.worker.cpu_s_per_op! / variants.main.cpu_s_per_op!, 3);
  }
  if (variants.main && variants['main-tls']) {
    ratios.tls_vs_main_ops = round(variants['main-tls'].ops_per_s! / variants.main.ops_per_s!, 3);
    ratios.tls_vs_main_cpu_per_op = round(variants['main-tls'].cpu_s_per_op! / variants.main.cpu_s_per_op!, 3);
    ratios.tls_vs_main_p99 = round(variants['main-tls'].p99_ms! / variants.main.p99_ms!, 3);
  }
  const first = variants[o.placements[0]!]!;
  return {
    bench: 'kv',
    replicas: 3,
    fsync: true,
    value_bytes: o.valueBytes,
    clients: o.clients,
    depth: o.depth,
    concurrency: o.clients * o.depth,
    seconds: o.seconds,
    ops_per_s: first.ops_per_s,
    p50_ms: first.p50_ms,
    p99_ms: first.p99_ms,
    cpu_s_per_op: first.cpu_s_per_op,
    variants,
    ratios,
    runs,
  };
}
