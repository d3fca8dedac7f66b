// Core-only throughput: N replicas of a protocol in one thread, a zero-latency FIFO network and
// instant "fsync" into the simulator's DurableStore, so what is measured is the cores themselves
// (batching, pipelining, per-message cost) plus the unavoidable host work of the contract. The
// leader is kept supplied with proposals; throughput is entries committed (applied at the leader)
// per second of wall time.
import type { Envelope, NodeId, ProtocolCore, ProtocolFactory } from '../protocols/api.js';
import { SeededRng } from '../protocols/rng.js';
import { DurableStore } from './durable-store.js';

export interface ThroughputOptions {
  readonly factory: ProtocolFactory<Envelope, any>;
  readonly options: Record<string, unknown>;
  readonly replicas: number;
  readonly entryBytes: number;
  /** Proposals outstanding at the leader before the network is drained again. */
  readonly window: number;
  /** Stop after this many committed entries... */
  readonly entries: number;
  /** ...or this much wall time, whichever comes first. */
  readonly maxMs: number;
  readonly seed: number;
  /** Every replica compacts its log after this many applied entries, as a real host would. */
  readonly compactEvery?: number;
}

export interface ThroughputResult {
  readonly committed: number;
  readonly seconds: number;
  readonly entriesPerSecond: number;
  readonly messages: number;
  readonly entriesPerAppendMessage: number;
  readonly readies: number;
}

export function measureCoreThroughput(o: ThroughputOptions): ThroughputResult {
  const ids: NodeId[] = Array.from({ length: o.replicas }, (_, i) => i + 1);
  const membership = { voters: ids, learners: [] };
  const rng = new SeededRng(o.seed);
  const cores: ProtocolCore<Envelope>[] = ids.map((id) =>
    o.factory.create({ id, membership, rng: rng.fork(), durable: [] }, o.options),
  );
  const stores = ids.map(() => new DurableStore());
  let queue: Envelope[] = [];
  let messages = 0;
  let entriesSent = 0;
  let appendMsgs = 0;
  let readies = 0;
  const committedAt = new Array<number>(o.replicas).fill(0);
  const appliedAt = new Array<number>(o.replicas).fill(0);
  const compactedAt = new Array<number>(o.replicas).fill(0);
  const compactEvery = o.compactEvery ?? 65_536;
  const image = new Uint8Array(16);

  const drainNode = (i: number): boolean => {
    const core = cores[i]!;
    let any = false;
    while (core.hasReady()) {
      any = true;
      readies++;
      const rd = core.ready();
      for (const w of rd.writes) {
        const problem = stores[i]!.apply(w);
        if (problem) throw new Error(`replica ${i + 1}: ${problem}`);
      }
      for (const m of rd.sendNow) queue.push(m);
      for (const m of rd.sendAfterPersist) queue.push(m);
      committedAt[i]! += rd.committed.length;
      if (rd.committed.length > 0) appliedAt[i] = rd.committed[rd.committed.length - 1]!.index;
      core.advance(rd);
      if (compactEvery > 0 && appliedAt[i]! - compactedAt[i]! >= compactEvery) {
        compactedAt[i] = appliedAt[i]!;
        core.compact(appliedAt[i]!, image);
      }
    }
    return any;
  };
  const settle = (): void => {
    for (;;) {
      let any = false;
      for (let i = 0; i < cores.length; i++) if (drainNode(i)) any = true;
      if (queue.length === 0 && !any) return;
      const batch = queue;
      queue = [];
      for (const m of batch) {
        messages++;
        const ents = (m as { entries?: readonly unknown[] }).entries;
        if (ents && ents.length > 0) {
          entriesSent += ents.length;
          appendMsgs++;
        }
        cores[m.to - 1]!.step(m);
      }
    }
  };

  // Elect a leader with ticks.
  let leader = -1;
  for (let t = 0; t < 10_000 && leader < 0; t++) {
    for (const c of cores) c.tick();
    settle();
    leader = cores.findIndex((c) => c.groups()[0]?.role === 'leader');
  }
  if (leader < 0) throw new Error('no leader elected');
  settle();

  const payload = new Uint8Array(o.entryBytes);
  for (let i = 0; i < payload.length; i++) payload[i] = i & 0xff;
  const base = committedAt[leader]!;
  const lc = cores[leader]!;
  const start = performance.now();
  let elapsed = 0;
  let ticks = 0;
  while (committedAt[leader]! - base < o.entries) {
    for (let k = 0; k < o.window; k++) {
      const r = lc.propose(payload);
      if (!r.ok) break;
    }
    settle();
    // Keep logical time moving so heartbeats and check-quorum behave as in a real run.
    if (++ticks % 8 === 0) {
      for (const c of cores) c.tick();
      settle();
    }
    elapsed = performance.now() - start;
    if (elapsed > o.maxMs) break;
    if (cores[leader]!.groups()[0]?.role !== 'leader') throw new Error('leader lost leadership during the measurement');
  }
  const committed = committedAt[leader]! - base;
  const seconds = elapsed / 1000;
  return {
    committed,
    seconds,
    entriesPerSecond: committed / seconds,
    messages,
    entriesPerAppendMessage: appendMsgs > 0 ? entriesSent / appendMsgs : 0,
    readies,
  };
}
