// Core-only Raft throughput: 3 replicas in one thread, an instantaneous in-process network (messages
// are handed over by reference), instant "persistence", 100-byte entries, batching on. Measures
// entries committed per second at the leader. Variants run side by side in one process.
//
// The `sim-host` variant runs the same workload through the simulator's host loop and durable store
// (runtime/sim/throughput.ts), which works for any registered protocol.
//
//   npm run bench -- raft-core [--seconds S] [--reps R] [--entry-bytes N] [--only VARIANT]
import type { NodeId } from '../../runtime/protocols/api.js';
import { raftCodec } from '../../runtime/protocols/raft/codec.js';
import { RaftCore } from '../../runtime/protocols/raft/core.js';
import type { RaftMessage } from '../../runtime/protocols/raft/messages.js';
import type { RaftOptions } from '../../runtime/protocols/raft/options.js';
import { SeededRng } from '../../runtime/protocols/rng.js';
import { getProtocol } from '../../runtime/protocols/registry.js';
import { measureCoreThroughput } from '../../runtime/sim/throughput.js';

interface Variant {
  readonly name: string;
  readonly options: Partial<RaftOptions>;
  /** Proposals submitted per round (a round = every replica handles one Ready, then delivery). */
  readonly proposalsPerRound: number;
  /** Pass every message through the binary codec (encode + decode), as the network would. */
  readonly codec?: boolean;
  /** Drive the cores with the simulator's host loop and DurableStore instead of the loop below. */
  readonly simHost?: boolean;
}

const VARIANTS: readonly Variant[] = [
  { name: 'batched', options: {}, proposalsPerRound: 2048 },
  { name: 'msg-256-entries', options: { maxEntriesPerMsg: 256 }, proposalsPerRound: 2048 },
  { name: 'msg-64-entries', options: { maxEntriesPerMsg: 64 }, proposalsPerRound: 2048 },
  { name: 'unbatched-msg-1-entry', options: { maxEntriesPerMsg: 1 }, proposalsPerRound: 2048 },
  { name: 'propose-16-per-round', options: {}, proposalsPerRound: 16 },
  { name: 'batched-through-codec', options: {}, proposalsPerRound: 2048, codec: true },
  { name: 'sim-host', options: {}, proposalsPerRound: 2048, simHost: true },
];

function arg(args: string[], name: string, dflt: number): number {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const v = Number(args[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name}: expected a positive number, got ${args[i + 1]}`);
  return v;
}

function run(v: Variant, seconds: number, entryBytes: number): { entries: number; seconds: number; rounds: number } {
  if (v.simHost) {
    const r = measureCoreThroughput({
      factory: getProtocol('raft'),
      options: v.options,
      replicas: 3,
      entryBytes,
      window: v.proposalsPerRound,
      entries: Number.MAX_SAFE_INTEGER,
      maxMs: seconds * 1000,
      seed: 1,
    });
    return { entries: r.committed, seconds: r.seconds, rounds: 0 };
  }
  const ids: NodeId[] = [1, 2, 3];
  const membership = { voters: ids, learners: [] };
  const cores = ids.map((id) => new RaftCore({ id, membership, rng: new SeededRng(id), durable: [] }, v.options));
  const byId: RaftCore[] = [];
  for (const c of cores) byId[c.id] = c;
  const applied = [0, 0, 0, 0];
  let queue: RaftMessage[] = [];
  let committed = 0;
  const leader = cores[0]!;
  const emptySnapshot = new Uint8Array(0);
  const compactEvery = 65_536;

  const round = (): void => {
    for (const c of cores) {
      if (!c.hasReady()) continue;
      const rd = c.ready();
      for (const m of rd.sendNow) queue.push(m);
      for (const m of rd.sendAfterPersist) queue.push(m);
      const n = rd.committed.length;
      if (n > 0) {
        applied[c.id] = rd.committed[n - 1]!.index;
        if (c === leader) committed += n;
      }
      c.advance(rd);
    }
    const q = queue;
    queue = [];
    if (v.codec) {
      for (let i = 0; i < q.length; i++) byId[q[i]!.to]!.step(raftCodec.decode(raftCodec.encode(q[i]!)));
    } else {
      for (let i = 0; i < q.length; i++) byId[q[i]!.to]!.step(q[i]!);
    }
    for (const c of cores) {
      const a = applied[c.id]!;
      const g = c.groups()[0]!;
      if (a - g.firstIndex > compactEvery) c.compact(a, emptySnapshot);
    }
  };

  leader.campaign();
  for (let i = 0; i < 20 && leader.groups()[0]!.role !== 'leader'; i++) round();
  if (leader.groups()[0]!.role !== 'leader') throw new Error('raft-core bench: no leader elected');
  for (let i = 0; i < 10; i++) round();

  const payload = new Uint8Array(entryBytes);
  committed = 0;
  let rounds = 0;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  let now = start;
  while (now < deadline) {
    for (let k = 0; k < 16; k++) {
      for (let i = 0; i < v.proposalsPerRound; i++) if (!leader.propose(payload).ok) break;
      round();
      rounds++;
    }
    now = performance.now();
  }
  const elapsed = (now - start) / 1000;
  for (const c of cores) {
    const ic = c.stats().counters.internalErrors;
    if (ic !== 0) throw new Error(`raft-core bench: internal error in node ${c.id}: ${String(c.lastInternalError)}`);
  }
  return { entries: committed, seconds: elapsed, rounds };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

export default async function raftCore(args: string[]): Promise<Record<string, unknown>> {
  const seconds = arg(args, '--seconds', 2);
  const reps = Math.round(arg(args, '--reps', 5));
  const entryBytes = arg(args, '--entry-bytes', 100);
  const oi = args.indexOf('--only');
  const only = oi >= 0 ? args[oi + 1] : undefined;
  const variants = only === undefined ? VARIANTS : VARIANTS.filter((v) => v.name === only);
  if (variants.length === 0) throw new Error(`--only: unknown variant ${only} (known: ${VARIANTS.map((v) => v.name).join(', ')})`);
  run(variants[0]!, 0.5, entryBytes); // warm-up (JIT)
  // The machine is shared and noisy: run the variants interleaved in short slices and keep the
  // median of each, so a burst of outside load hits all of them alike.
  const samples: Record<string, number[]> = {};
  for (let rep = 0; rep < reps; rep++) {
    for (const v of variants) {
      const r = run(v, seconds / reps, entryBytes);
      (samples[v.name] ??= []).push(r.entries / r.seconds);
    }
  }
  const results: Record<string, number> = {};
  for (const v of variants) {
    results[v.name] = Math.round(median(samples[v.name]!));
    const all = samples[v.name]!.map((x) => Math.round(x / 1000)).join(', ');
    process.stderr.write(`${v.name}: median ${results[v.name]} entries/s (slices, thousands/s: ${all})\n`);
  }
  const out: Record<string, unknown> = { entry_bytes: entryBytes, replicas: 3, seconds_per_variant: seconds, slices: reps, variants: results };
  const main = results['batched'];
  if (main === undefined) return out;
  out.entries_committed_per_s = main;
  const ratio = (name: string) => (results[name] ? +(main / results[name]!).toFixed(2) : undefined);
  out.ratio_batched_vs_unbatched = ratio('unbatched-msg-1-entry');
  out.ratio_batched_vs_msg64 = ratio('msg-64-entries');
  out.ratio_batched_vs_propose16 = ratio('propose-16-per-round');
  out.ratio_batched_vs_codec = ratio('batched-through-codec');
  out.ratio_batched_vs_sim_host = ratio('sim-host');
  return out;
}
