// Core-only Raft throughput: 3 replicas in one thread, zero-latency network, instant fsync,
// 100-byte entries, batching on, logs compacted every 64Ki entries as a host would. Variants run
// side by side; the headline is the first (batched, 256 proposals handed to the leader per round).
//   npm run bench -- raft-core [--entries N] [--window W] [--protocol NAME]
import { getProtocol } from '../../runtime/protocols/registry.js';
import { measureCoreThroughput } from '../../runtime/sim/throughput.js';

function arg(args: string[], name: string, dflt: string): string {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : dflt;
}

export default async function raftCore(args: string[]): Promise<Record<string, unknown>> {
  const protocol = arg(args, '--protocol', 'raft');
  const entries = Number(arg(args, '--entries', '1000000'));
  const window = Number(arg(args, '--window', '256'));
  const factory = getProtocol(protocol);
  const variants: { name: string; options: Record<string, unknown>; window: number; entries: number }[] = [
    { name: `batched, ${window} proposals per round`, options: {}, window, entries },
    { name: 'batched, 4096 proposals per round', options: {}, window: 4096, entries },
    { name: 'unbatched (1 entry per message)', options: { maxEntriesPerMsg: 1 }, window, entries: Math.min(entries, 100_000) },
    { name: 'one proposal at a time', options: {}, window: 1, entries: Math.min(entries, 50_000) },
  ];
  const out: Record<string, unknown>[] = [];
  // Warm up the JIT on a short run first.
  measureCoreThroughput({ factory, options: {}, replicas: 3, entryBytes: 100, window, entries: 100_000, maxMs: 5000, seed: 1 });
  for (const v of variants) {
    const r = measureCoreThroughput({ factory, options: v.options, replicas: 3, entryBytes: 100, window: v.window, entries: v.entries, maxMs: 20_000, seed: 2 });
    const row = {
      variant: v.name,
      entries_committed_per_s: Math.round(r.entriesPerSecond),
      committed: r.committed,
      seconds: Number(r.seconds.toFixed(3)),
      messages: r.messages,
      entries_per_append: Number(r.entriesPerAppendMessage.toFixed(1)),
    };
    console.error(JSON.stringify(row));
    out.push(row);
  }
  const head = out[0]!.entries_committed_per_s as number;
  return {
    protocol,
    replicas: 3,
    entry_bytes: 100,
    window,
    entries_committed_per_s: head,
    batched_vs_unbatched: Number((head / (out[2]!.entries_committed_per_s as number)).toFixed(1)),
    batched_vs_one_at_a_time: Number((head / (out[3]!.entries_committed_per_s as number)).toFixed(1)),
    variants: out,
  };
}
