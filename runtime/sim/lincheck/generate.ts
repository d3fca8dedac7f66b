// Random linearizable KV histories, for testing and benchmarking the checker: each client runs
// operations one after another with random durations and gaps, every operation takes effect at a
// random instant inside its [call, return] interval, and outputs come from really executing the
// operations in the order of those instants on a sequential map.
import { SeededRng } from '../../protocols/rng.js';
import type { KvInput, KvOutput, Operation } from './history.js';

export interface GenerateOptions {
  readonly seed: number;
  readonly ops: number;
  readonly clients: number;
  readonly keys: number;
  /** Fraction of writes whose client never learns the outcome (half of them take effect). */
  readonly unknownRate?: number;
  /** Mean operation duration relative to the mean gap between a client's operations. */
  readonly overlap?: number;
}

export function generateLinearizableHistory(o: GenerateOptions): Operation[] {
  const rng = new SeededRng(o.seed);
  const unknownRate = o.unknownRate ?? 0;
  const overlap = o.overlap ?? 4;
  const clientTime = new Array<number>(o.clients).fill(0);
  type Pending = { clientId: number; input: KvInput; call: number; ret: number; at: number; unknown: boolean; applies: boolean };
  const pending: Pending[] = [];
  let written = 0;
  for (let n = 0; n < o.ops; n++) {
    const c = rng.nextInt(o.clients);
    const call = clientTime[c]! + 1 + rng.nextInt(10);
    const ret = call + 1 + rng.nextInt(Math.max(1, Math.round(10 * overlap)));
    const key = `k${rng.nextInt(o.keys)}`;
    const r = rng.nextFloat();
    const value = `v${written++}`;
    let input: KvInput;
    if (r < 0.4) input = { op: 'get', key };
    else if (r < 0.7) input = { op: 'put', key, value };
    else if (r < 0.9) input = { op: 'cas', key, expected: rng.nextInt(3) === 0 ? null : `v${rng.nextInt(Math.max(1, written))}`, value };
    else input = { op: 'delete', key };
    const unknown = input.op !== 'get' && rng.nextFloat() < unknownRate;
    pending.push({ clientId: c, input, call, ret, at: call + rng.nextFloat() * (ret - call), unknown, applies: !unknown || rng.nextInt(2) === 0 });
    clientTime[c] = ret;
  }
  // Execute in linearization order; collect outputs.
  const order = pending.map((_, i) => i).sort((a, b) => pending[a]!.at - pending[b]!.at);
  const outputs: KvOutput[] = new Array(pending.length);
  const store = new Map<string, string>();
  for (const i of order) {
    const p = pending[i]!;
    const inp = p.input;
    if (!p.applies) {
      outputs[i] = { unknown: true };
      continue;
    }
    let out: KvOutput;
    switch (inp.op) {
      case 'get':
        out = { value: store.get(inp.key) ?? null };
        break;
      case 'put':
        store.set(inp.key, inp.value);
        out = { ok: true };
        break;
      case 'delete':
        store.delete(inp.key);
        out = { ok: true };
        break;
      case 'cas': {
        const ok = (store.get(inp.key) ?? null) === inp.expected;
        if (ok) store.set(inp.key, inp.value);
        out = { ok };
        break;
      }
    }
    outputs[i] = p.unknown ? { unknown: true } : out;
  }
  return pending.map((p, i) => ({
    clientId: p.clientId,
    input: p.input,
    call: p.call,
    output: outputs[i]!,
    return: p.unknown ? null : p.ret,
  }));
}

/**
 * The same history with one completed get or cas answer changed to a different one. The result is
 * usually not linearizable; occasionally the new answer is also explainable by some other order.
 */
export function corruptOneOutput(history: readonly Operation[], seed: number): { history: Operation[]; index: number } {
  const rng = new SeededRng(seed);
  const candidates = history
    .map((o, i) => ({ o, i }))
    .filter(({ o }) => (o.input.op === 'get' || o.input.op === 'cas') && o.return !== null);
  if (candidates.length === 0) throw new Error('corruptOneOutput: no completed get or cas to corrupt');
  const { o, i } = candidates[rng.nextInt(candidates.length)]!;
  let output: KvOutput;
  if (o.input.op === 'cas') output = { ok: !(o.output as { ok: boolean }).ok };
  else {
    const was = (o.output as { value: string | null }).value;
    // Another value this key held at some time, or absent, or a value never written.
    const seen = history.filter((h) => h.input.key === o.input.key && h.input.op !== 'get' && h.input.op !== 'delete');
    const choices: (string | null)[] = [null, 'never-written', ...seen.map((h) => (h.input as { value: string }).value)];
    const pick = choices.filter((c) => c !== was);
    output = { value: pick[rng.nextInt(pick.length)]! };
  }
  const copy = history.slice();
  copy[i] = { ...o, output };
  return { history: copy, index: i };
}
