// Linearizability checker speed on generated histories (a real sequential execution with random
// overlap), 8 concurrent clients; for each shape, the linearizable history and the same history
// with one answer corrupted (which the checker must refute, usually the slower case).
//   npm run bench -- lincheck [--ops N]
import { checkKvHistory } from '../../runtime/sim/lincheck/kv-check.js';
import { corruptOneOutput, generateLinearizableHistory } from '../../runtime/sim/lincheck/generate.js';

export default async function lincheck(args: string[]): Promise<Record<string, unknown>> {
  const i = args.indexOf('--ops');
  const ops = i >= 0 ? Number(args[i + 1]) : 10_000;
  const shapes = [
    { keys: 1, unknownRate: 0 },
    { keys: 10, unknownRate: 0 },
    { keys: 10, unknownRate: 0.02 },
    { keys: 100, unknownRate: 0.02 },
  ];
  const rows: Record<string, unknown>[] = [];
  for (const s of shapes) {
    let okMs = 0;
    let badMs = 0;
    let refuted = 0;
    const seeds = [1, 2, 3];
    for (const seed of seeds) {
      const h = generateLinearizableHistory({ seed, ops, clients: 8, keys: s.keys, unknownRate: s.unknownRate });
      let t = performance.now();
      const r = checkKvHistory(h);
      okMs += performance.now() - t;
      if (r.result !== 'ok') throw new Error(`generated history rejected (seed ${seed}, ${JSON.stringify(s)})`);
      const bad = corruptOneOutput(h, seed);
      t = performance.now();
      const rb = checkKvHistory(bad.history);
      badMs += performance.now() - t;
      if (rb.result === 'illegal') refuted++;
    }
    const row = {
      ops,
      clients: 8,
      keys: s.keys,
      unknown_rate: s.unknownRate,
      linearizable_ms: Math.round(okMs / seeds.length),
      corrupted_ms: Math.round(badMs / seeds.length),
      corrupted_refuted: `${refuted}/${seeds.length}`,
    };
    console.error(JSON.stringify(row));
    rows.push(row);
  }
  return { ops, clients: 8, worst_ms: Math.max(...rows.map((r) => Math.max(r.linearizable_ms as number, r.corrupted_ms as number))), shapes: rows };
}
