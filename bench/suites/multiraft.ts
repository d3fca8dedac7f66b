// `npm run bench -- multiraft`: multi-Raft (Niagara) in real replica processes. For R = 1, 2, 4
// instances: 3 replicas on loopback, fsync on, 1 KB puts, closed loop (the kv bench's cluster and
// load machinery, bench/suites/kv.ts), clients spread over all replicas (each submits to a local
// instance leader). Per R, three layouts of the actors:
//
//   main      every actor on the main thread (the default placement)
//   together  all R instances and the sequencer on one worker executor
//   apart     one worker executor per instance (the sequencer and kv on one more)
//
// (for R = 1 "apart" is "together" and is not run twice), plus `raft`: single Raft (no multi-Raft
// at all) as the reference for R = 1.
//
//   --instances LIST   R values (default 1,2,4)
//   --layouts LIST     main,together,apart (default all three)
//   --progress LIST    noop,skip (default noop)
//   --no-raft          leave out the single-Raft reference
//   --seconds S, --warmup W, --clients C, --depth D, --value-bytes B, --keys N, --rounds R, --config JSON
//                      as for `bench kv` (defaults 10 s, 2 s, 16 clients x 32 outstanding, 1024 B)
//
// Reported per run: ops/s, p50/p99 (ms), replica CPU-seconds per op (all three processes, all
// threads), and from the global log of replica 1 over the measured window: no-op entries and skip
// records (and the slots they stand for) per committed command, client commands per log entry.
// The last line is one JSON object with these per R, layout and progress mode, plus ratios against
// R = 1 of the same layout.
import os from 'node:os';
import type { StatusResult } from '../../runtime/replica/local-cluster.js';
import { median, parse, round, runVariant, type RunResult, type Variant } from './kv.js';

interface MrOpts {
  instances: number[];
  layouts: string[];
  progress: string[];
  raft: boolean;
}

function parseMr(args: string[]): MrOpts {
  const get = (name: string, d: string): string => {
    const i = args.indexOf(name);
    return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : d;
  };
  const instances = get('--instances', '1,2,4').split(',').map(Number);
  for (const r of instances) if (!Number.isInteger(r) || r < 1 || r > 16) throw new Error(`--instances: expected R values in 1..16, got ${get('--instances', '')}`);
  const layouts = get('--layouts', 'main,together,apart').split(',').filter(Boolean);
  for (const l of layouts) if (!['main', 'together', 'apart'].includes(l)) throw new Error(`--layouts: unknown layout ${l} (main | together | apart)`);
  const progress = get('--progress', 'noop').split(',').filter(Boolean);
  for (const p of progress) if (p !== 'noop' && p !== 'skip') throw new Error(`--progress: unknown mode ${p} (noop | skip)`);
  return { instances, layouts, progress, raft: !args.includes('--no-raft') };
}

function placement(layout: string, R: number): Record<string, unknown> {
  const raft = (ex: (g: number) => number) => Object.fromEntries(Array.from({ length: R }, (_, g) => [`raft/${g}`, ex(g)]));
  if (layout === 'main') return { workers: 0 };
  if (layout === 'together') return { workers: 1, placement: { ...raft(() => 1), sequencer: 1 } };
  return { workers: R + 1, placement: { ...raft((g) => g + 1), sequencer: R + 1, kv: R + 1 } };
}

type Ok = Extract<StatusResult, { ok: true }>;

function counter(s: StatusResult | undefined, key: string): number {
  if (!s || !s.ok) return 0;
  const m = (s as Ok).status.multiraft as { counters?: Record<string, number> } | undefined;
  return m?.counters?.[key] ?? 0;
}

/** Global-log figures over the window, from replica 1 (every replica merges the same log). */
function collectMultiRaft(before: StatusResult[], after: StatusResult[], ops: number): Record<string, number> {
  const b = before.find((s) => s.id === 1);
  const a = after.find((s) => s.id === 1);
  const d = (k: string) => counter(a, k) - counter(b, k);
  const entries = d('merge.commands');
  let proposedNoops = 0;
  let proposedSkips = 0;
  for (const s of after) proposedNoops += counter(s, 'noopsProposed') - counter(before.find((x) => x.id === s.id), 'noopsProposed');
  for (const s of after) proposedSkips += counter(s, 'skipRecordsProposed') - counter(before.find((x) => x.id === s.id), 'skipRecordsProposed');
  const per = (x: number) => (ops > 0 ? round(x / ops, 4) : 0);
  return {
    noop_entries_per_command: per(d('merge.noops')),
    skip_records_per_command: per(d('merge.skipRecords')),
    skipped_slots_per_command: per(d('merge.skipSlots')),
    commands_per_entry: entries > 0 ? round(ops / entries, 1) : 0,
    noops_proposed: proposedNoops,
    skip_records_proposed: proposedSkips,
    stall_runs: d('stallRuns'),
  };
}

interface Row {
  R: number;
  layout: string;
  progress: string;
  runs: RunResult[];
}

function summary(runs: RunResult[]): Record<string, number> {
  const m = (f: (r: RunResult) => number) => median(runs.map(f));
  const out: Record<string, number> = {
    ops_per_s: m((r) => r.ops_per_s),
    p50_ms: m((r) => r.p50_ms),
    p99_ms: m((r) => r.p99_ms),
    cpu_s_per_op: m((r) => r.cpu_s_per_op),
    cpu_us_per_op: round(m((r) => r.cpu_s_per_op) * 1e6, 1),
    errors: runs.reduce((a, r) => a + r.errors, 0),
  };
  for (const k of Object.keys(runs[0]?.extra ?? {})) out[k] = m((r) => r.extra[k] ?? 0);
  return out;
}

export default async function multiraft(args: string[]): Promise<Record<string, unknown>> {
  const o = parse(args);
  const mo = parseMr(args);
  const log = (s: string) => process.stderr.write(s + '\n');
  const plan: { key: string; R: number; layout: string; progress: string; variant: Variant }[] = [];
  if (mo.raft && mo.instances.includes(1)) {
    plan.push({ key: 'raft', R: 1, layout: 'main', progress: '-', variant: { name: 'raft', overrides: { runtime: { workers: 0 } } } });
  }
  for (const R of mo.instances) {
    for (const layout of mo.layouts) {
      if (R === 1 && layout === 'apart' && mo.layouts.includes('together')) continue;
      for (const progress of mo.progress) {
        const key = `R${R}/${layout}/${progress}`;
        plan.push({
          key,
          R,
          layout,
          progress,
          variant: {
            name: key,
            overrides: { groups: R, multiraft: { progress }, runtime: placement(layout, R) },
            spread: true,
            collect: (b, a, ops) => collectMultiRaft(b, a, ops),
          },
        });
      }
    }
  }
  log(
    `multiraft bench: 3 replicas, fsync on, ${o.valueBytes} B values, ${o.clients} clients x ${o.depth} outstanding (spread over the replicas), ${o.seconds} s (+${o.warmup} s warmup), ${plan.length} variants x ${o.rounds} round(s), ${os.cpus().length} CPUs`,
  );
  const rows = new Map<string, Row>();
  for (let round = 0; round < o.rounds; round++) {
    const order = round % 2 === 0 ? plan : [...plan].reverse();
    for (const p of order) {
      const r = await runVariant(o, p.variant, log);
      if (r.extra.noop_entries_per_command !== undefined) {
        log(`    ${p.key}: ${r.extra.noop_entries_per_command} no-op entries, ${r.extra.skip_records_per_command} skip records (${r.extra.skipped_slots_per_command} slots) per command; ${r.extra.commands_per_entry} commands per entry`);
      }
      const row = rows.get(p.key) ?? { R: p.R, layout: p.layout, progress: p.progress, runs: [] };
      row.runs.push(r);
      rows.set(p.key, row);
    }
  }
  const results: Record<string, Record<string, unknown>> = {};
  for (const [key, row] of rows) results[key] = { R: row.R, layout: row.layout, progress: row.progress, ...summary(row.runs) };
  // Per R: the figures of each layout (and progress mode), and the speed-up over R = 1.
  const byR: Record<string, Record<string, unknown>> = {};
  for (const R of mo.instances) {
    const entry: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(results)) {
      if (v.R !== R || key === 'raft') continue;
      const name = mo.progress.length > 1 ? `${String(v.layout)}/${String(v.progress)}` : String(v.layout);
      const base = results[`R1/${String(v.layout)}/${String(v.progress)}`] ?? results[`R1/together/${String(v.progress)}`];
      entry[name] = { ...v, ops_vs_R1: base ? round((v.ops_per_s as number) / (base.ops_per_s as number), 3) : null };
    }
    byR[String(R)] = entry;
  }
  const ratios: Record<string, number> = {};
  const raft = results.raft;
  const r1 = results[`R1/main/${mo.progress[0]}`];
  if (raft && r1) {
    ratios.multiraft_R1_vs_raft_ops = round((r1.ops_per_s as number) / (raft.ops_per_s as number), 3);
    ratios.multiraft_R1_vs_raft_cpu_per_op = round((r1.cpu_s_per_op as number) / (raft.cpu_s_per_op as number), 3);
  }
  return {
    bench: 'multiraft',
    replicas: 3,
    fsync: true,
    value_bytes: o.valueBytes,
    concurrency: o.clients * o.depth,
    seconds: o.seconds,
    rounds: o.rounds,
    cpus: os.cpus().length,
    raft: raft ?? null,
    by_R: byR,
    ratios,
    runs: [...rows.values()].flatMap((r) => r.runs.map((x) => ({ R: r.R, layout: r.layout, progress: r.progress, ...x }))),
  };
}
