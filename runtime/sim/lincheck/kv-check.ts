// Linearizability of a KV history (put, get, compare-and-set, delete). Every operation touches one
// key, so the history is linearizable iff each key's sub-history is (P-compositionality): the
// checker partitions by key and searches each partition on its own, which turns one exponential
// search into many small ones.
import { isUnknown, type Operation } from './history.js';
import { searchPartition, type PreparedOp } from './search.js';

export interface LinCheckOptions {
  /** Search budget per partition; past it the verdict is 'unknown' instead of running for ever. */
  readonly maxStepsPerKey?: number;
}

export interface KeyVerdict {
  readonly key: string;
  readonly ops: number;
  readonly result: 'ok' | 'illegal' | 'unknown';
  readonly steps: number;
  /** When not ok: operations (indices into the input history) in the longest order found. */
  readonly longestPrefix: readonly number[];
  /** When illegal: the operation (index into the input history) no order could place. */
  readonly stuckAt: number | undefined;
}

export interface LinCheckResult {
  /** 'ok' only if every key is ok; 'illegal' if any key is; otherwise 'unknown' (budget hit). */
  readonly result: 'ok' | 'illegal' | 'unknown';
  readonly ops: number;
  readonly keys: number;
  readonly steps: number;
  /** The keys whose verdict is not ok, with details for a report. */
  readonly failures: readonly KeyVerdict[];
}

const PUT = 0;
const GET = 1;
const CAS = 2;
const DEL = 3;

interface KvOp extends PreparedOp {
  readonly kind: number;
  /** put/cas: the value written; cas: */
  readonly value: number;
  /** cas: the expected value. */
  readonly expected: number;
  /** get: value read; cas: 1 swapped, 0 not; -1 unknown outcome. */
  readonly out: number;
}

export function checkKvHistory(history: readonly Operation[], opts: LinCheckOptions = {}): LinCheckResult {
  const maxSteps = opts.maxStepsPerKey ?? 20_000_000;
  const byKey = new Map<string, number[]>();
  for (let i = 0; i < history.length; i++) {
    const op = history[i]!;
    // A read with no answer constrains nothing.
    if (op.input.op === 'get' && isUnknown(op.output)) continue;
    let list = byKey.get(op.input.key);
    if (!list) byKey.set(op.input.key, (list = []));
    list.push(i);
  }
  let steps = 0;
  let illegal = false;
  let unknown = false;
  const failures: KeyVerdict[] = [];
  for (const [key, idx] of byKey) {
    const prepared = prepare(history, idx);
    const r = searchPartition(prepared, 0, kvStep(prepared), maxSteps);
    steps += r.steps;
    if (r.result === 'ok') continue;
    if (r.result === 'illegal') illegal = true;
    else unknown = true;
    failures.push({
      key,
      ops: idx.length,
      result: r.result,
      steps: r.steps,
      longestPrefix: r.longestPrefix.map((p) => prepared[p]!.origin),
      stuckAt: r.stuckAt === undefined ? undefined : prepared[r.stuckAt]!.origin,
    });
  }
  return {
    result: illegal ? 'illegal' : unknown ? 'unknown' : 'ok',
    ops: history.length,
    keys: byKey.size,
    steps,
    failures,
  };
}

/**
 * Interns this key's values as small integers: 0 stands for "absent"; values no read returns and no
 * cas expects are indistinguishable to every later operation, so they all share id 1 (which keeps
 * the number of distinct model states, and so the search, small).
 */
function prepare(history: readonly Operation[], idx: readonly number[]): KvOp[] {
  const observed = new Set<string>();
  for (const origin of idx) {
    const op = history[origin]!;
    if (op.input.op === 'cas' && op.input.expected !== null) observed.add(op.input.expected);
    if (op.input.op === 'get' && !isUnknown(op.output)) {
      const v = (op.output as { value: string | null }).value;
      if (v !== null) observed.add(v);
    }
  }
  const ids = new Map<string, number>();
  const intern = (v: string | null): number => {
    if (v === null) return 0;
    if (!observed.has(v)) return 1;
    let id = ids.get(v);
    if (id === undefined) ids.set(v, (id = ids.size + 2));
    return id;
  };
  const classes = new Map<string, number>();
  const classOf = (kind: number, expected: number, value: number): number => {
    const k = `${kind}:${expected}:${value}`;
    let c = classes.get(k);
    if (c === undefined) classes.set(k, (c = classes.size));
    return c;
  };
  return idx.map((origin) => {
    const op = history[origin]!;
    const unknownOut = isUnknown(op.output);
    const ret = op.return === null || unknownOut ? Infinity : op.return;
    const inp = op.input;
    switch (inp.op) {
      case 'put': {
        const value = intern(inp.value);
        return { call: op.call, ret, origin, effectClass: classOf(PUT, 0, value), kind: PUT, value, expected: 0, out: -1 };
      }
      case 'delete':
        return { call: op.call, ret, origin, effectClass: classOf(DEL, 0, 0), kind: DEL, value: 0, expected: 0, out: -1 };
      case 'get':
        return { call: op.call, ret, origin, effectClass: -1, kind: GET, value: 0, expected: 0, out: intern((op.output as { value: string | null }).value) };
      case 'cas': {
        const value = intern(inp.value);
        const expected = intern(inp.expected);
        const out = unknownOut ? -1 : (op.output as { ok: boolean }).ok ? 1 : 0;
        return { call: op.call, ret, origin, effectClass: classOf(CAS, expected, value), kind: CAS, value, expected, out };
      }
    }
  });
}

function kvStep(ops: readonly KvOp[]): (state: number, i: number) => number {
  return (state, i) => {
    const op = ops[i]!;
    switch (op.kind) {
      case PUT:
        return op.value;
      case DEL:
        return 0;
      case GET:
        return state === op.out ? state : -1;
      default: {
        // An unknown cas that runs in a state it does not match simply fails; if it never took
        // effect at all, the search can leave it for last.
        const matches = state === op.expected;
        if (op.out === -1) return matches ? op.value : state;
        if (op.out === 1) return matches ? op.value : -1;
        return matches ? -1 : state;
      }
    }
  };
}

/** A short human-readable account of a failed check, naming the operations involved. */
export function describeFailure(history: readonly Operation[], r: LinCheckResult, maxOps = 12): string {
  const lines: string[] = [];
  for (const f of r.failures) {
    lines.push(`key ${JSON.stringify(f.key)}: ${f.result} (${f.ops} ops, ${f.steps} search steps)`);
    const tail = f.longestPrefix.slice(-maxOps);
    if (tail.length > 0) lines.push(`  longest linearizable order ends with:`);
    for (const i of tail) lines.push(`    ${formatOp(history[i]!)}`);
    if (f.stuckAt !== undefined) lines.push(`  cannot place: ${formatOp(history[f.stuckAt]!)}`);
  }
  return lines.join('\n');
}

export function formatOp(o: Operation): string {
  const inp = o.input;
  const args =
    inp.op === 'put' ? `${inp.key}=${inp.value}` : inp.op === 'cas' ? `${inp.key}: ${inp.expected} -> ${inp.value}` : inp.key;
  return `client ${o.clientId} ${inp.op}(${args}) -> ${JSON.stringify(o.output)} [${o.call}, ${o.return ?? 'inf'}]`;
}
