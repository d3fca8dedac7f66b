// Progress rules of multi-Raft side by side: Niagara's no-ops vs Multi-Ring-style skip records,
// under equal, skewed and oscillating load, for R = 2 and 4. Protocol level, in one process: three
// replicas' cores, a network that delivers every message one step later, instant persistence, a
// tick every 5 steps. Commands are proposed at the leader of the instance the load pattern picks,
// so the skew is exactly the one asked for. Reported per variant:
//   latency (steps from proposal to applied at the proposing replica, p50/p99),
//   wasted entries per command (no-op entries, or skip records; log entries that carry no command),
//   skipped slots per command (skip mode: merge slots the records stand for),
//   merge buffer (committed entries waiting in a replica's sequencer; mean and max),
//   CPU microseconds per command (all three replicas share this thread).
// Time is in steps, not seconds: the point is the ratio between the two modes in one run.
//
//   npm run bench -- multiraft-progress [--steps N] [--rate C] [--instances 2,4]
import { MultiRaftCore } from '../../runtime/protocols/multiraft/core.js';
import type { RaftMessage } from '../../runtime/protocols/raft/messages.js';
import { SeededRng } from '../../runtime/protocols/rng.js';

type Load = 'equal' | 'skewed' | 'oscillating';
type Mode = 'noop' | 'skip';

interface Result {
  commands: number;
  latency_p50_steps: number;
  latency_p99_steps: number;
  wasted_entries_per_command: number;
  skipped_slots_per_command: number;
  merge_buffer_mean: number;
  merge_buffer_max: number;
  cpu_us_per_command: number;
}

const STEPS_PER_TICK = 5;
const PERIOD = 400;

/** Offered commands per step for instance g at step t. */
function rateOf(load: Load, g: number, r: number, t: number, total: number): number {
  if (load === 'equal' || r === 1) return total / r;
  const hot = load === 'skewed' ? 0 : Math.floor(t / PERIOD) % r;
  return g === hot ? total * 0.7 : (total * 0.3) / (r - 1);
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function runVariant(r: number, load: Load, mode: Mode, steps: number, total: number): Result {
  const ids = [1, 2, 3];
  const membership = { voters: ids, learners: [] };
  const seed = new SeededRng(42);
  const options = { instances: r, progress: mode, balanceLeaders: true, electionTicks: 10 };
  const cores = ids.map((id) => new MultiRaftCore({ id, membership, rng: seed.fork(), durable: [] }, options));
  let inFlight: RaftMessage[] = [];
  const proposedAt = new Map<string, { step: number; node: number }>();
  const latencies: number[] = [];
  const dec = new TextDecoder();
  const enc = new TextEncoder();
  let step = 0;
  let measuring = false;
  let bufSum = 0;
  let bufMax = 0;
  let bufSamples = 0;

  const handle = (): void => {
    const next: RaftMessage[] = [];
    for (let i = 0; i < cores.length; i++) {
      const c = cores[i]!;
      while (c.hasReady()) {
        const rd = c.ready();
        for (const m of rd.sendNow) next.push(m);
        for (const m of rd.sendAfterPersist) next.push(m);
        for (const e of rd.committed) {
          const k = dec.decode(e.data);
          const p = proposedAt.get(k);
          if (p && p.node === i) {
            proposedAt.delete(k);
            if (measuring) latencies.push(step - p.step);
          }
        }
        c.advance(rd);
      }
    }
    for (const m of inFlight) cores[m.to - 1]!.step(m);
    inFlight = next;
  };

  // Warm up: elect leaders and spread them.
  for (; step < 400; step++) {
    handle();
    if (step % STEPS_PER_TICK === 0) for (const c of cores) c.tick();
  }
  const counters0 = cores.map((c) => ({ ...c.stats().counters }));
  const acc = new Array<number>(r).fill(0);
  let n = 0;
  let proposed = 0;
  const cpu0 = process.cpuUsage();
  measuring = true;
  const end = step + steps;
  for (; step < end; step++) {
    for (let g = 0; g < r; g++) {
      acc[g]! += rateOf(load, g, r, step, total);
      while (acc[g]! >= 1) {
        acc[g]! -= 1;
        const node = cores.findIndex((c) => {
          const v = c.instance(g)?.groups()[0];
          return v !== undefined && v.role === 'leader' && v.termAt(v.commit) === v.term;
        });
        if (node < 0) continue;
        const key = `c${n++}`;
        if (cores[node]!.instance(g)!.propose(enc.encode(key)).ok) {
          proposedAt.set(key, { step, node });
          proposed++;
        }
      }
    }
    handle();
    if (step % STEPS_PER_TICK === 0) for (const c of cores) c.tick();
    let worst = 0;
    for (const c of cores) {
      const s = c.sequencer();
      let b = 0;
      for (const g of s.rotation()) b += s.bufferedEntries(g);
      if (b > worst) worst = b;
    }
    bufSum += worst;
    bufSamples++;
    if (worst > bufMax) bufMax = worst;
  }
  // Drain what is still in flight (counted, but its latency is not sampled).
  measuring = false;
  for (let k = 0; k < 2000 && proposedAt.size > 0; k++, step++) {
    handle();
    if (step % STEPS_PER_TICK === 0) for (const c of cores) c.tick();
  }
  const cpu = process.cpuUsage(cpu0);
  const delta = (k: string): number => cores.reduce((a, c, i) => a + ((c.stats().counters[k] ?? 0) - (counters0[i]![k] ?? 0)), 0);
  const wasted = mode === 'noop' ? delta('noopsProposed') : delta('skipRecordsProposed');
  latencies.sort((a, b) => a - b);
  return {
    commands: proposed,
    latency_p50_steps: pct(latencies, 50),
    latency_p99_steps: pct(latencies, 99),
    wasted_entries_per_command: round(wasted / Math.max(1, proposed)),
    skipped_slots_per_command: round(delta('skipSlotsProposed') / Math.max(1, proposed)),
    merge_buffer_mean: round(bufSum / Math.max(1, bufSamples)),
    merge_buffer_max: bufMax,
    cpu_us_per_command: round((cpu.user + cpu.system) / Math.max(1, proposed)),
  };
}

/** skip / noop, or null when the no-op figure is 0 (no meaningful ratio). */
function ratio(a: number, b: number): number | null {
  return b > 0 ? round(a / b) : null;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function argOf(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

export default async function (args: string[]): Promise<object> {
  const steps = Number(argOf(args, '--steps') ?? 4000);
  const total = Number(argOf(args, '--rate') ?? 1.5);
  const rs = (argOf(args, '--instances') ?? '2,4').split(',').map(Number);
  if (!Number.isSafeInteger(steps) || steps < 100) throw new Error(`--steps: expected an integer >= 100, got ${argOf(args, '--steps')}`);
  if (!Number.isFinite(total) || total <= 0) throw new Error(`--rate: expected commands per step > 0, got ${argOf(args, '--rate')}`);
  if (rs.some((x) => !Number.isSafeInteger(x) || x < 1 || x > 16)) throw new Error('--instances: expected a comma-separated list of integers in 1..16');
  const out: Record<string, unknown> = { steps, commands_per_step: total, steps_per_tick: STEPS_PER_TICK, oscillation_period_steps: PERIOD };
  // Warm the JIT up so the first variant's CPU figure is not inflated.
  runVariant(rs[0]!, 'equal', 'noop', Math.min(steps, 1000), total);
  runVariant(rs[0]!, 'equal', 'skip', Math.min(steps, 1000), total);
  for (const r of rs) {
    const perR: Record<string, unknown> = {};
    for (const load of ['equal', 'skewed', 'oscillating'] as const) {
      const noop = runVariant(r, load, 'noop', steps, total);
      const skip = runVariant(r, load, 'skip', steps, total);
      process.stderr.write(`R=${r} ${load}: noop ${JSON.stringify(noop)}\nR=${r} ${load}: skip ${JSON.stringify(skip)}\n`);
      perR[load] = {
        noop,
        skip,
        skip_vs_noop: {
          latency_p50: ratio(skip.latency_p50_steps, noop.latency_p50_steps),
          latency_p99: ratio(skip.latency_p99_steps, noop.latency_p99_steps),
          wasted_entries: ratio(skip.wasted_entries_per_command, noop.wasted_entries_per_command),
          merge_buffer_mean: ratio(skip.merge_buffer_mean, noop.merge_buffer_mean),
          cpu_per_command: ratio(skip.cpu_us_per_command, noop.cpu_us_per_command),
        },
      };
    }
    out[`R${r}`] = perR;
  }
  return out;
}
