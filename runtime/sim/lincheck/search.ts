// The Wing & Gong / Lowe search for one partition of a history, as Porcupine does it:
// operations' call and return events sit in a doubly linked list in time order; the search walks
// it, tentatively linearizing any call whose effect the sequential model accepts, and backtracks
// when it meets the return of an operation it has not linearized yet. Lowe's memoization prunes
// revisits: a (set of linearized operations, model state) pair seen before cannot lead anywhere
// new.
//
// Three refinements keep long histories with unknown outcomes tractable:
//  - Compact sets. Completed operations are numbered in call order; everything below the first
//    unlinearized one ("low") is linearized, and nothing past the last call that precedes low's
//    return is. So (low, the few words between) identifies the completed part of the set. Its hash
//    is maintained incrementally (Zobrist keys).
//  - Dominance. An operation with unknown outcome never has to be linearized (its return is at
//    infinity), so a configuration that linearized a superset of another's unknown operations, with
//    the same completed set and state, can do nothing the other cannot: it is pruned.
//  - Symmetry. Unknown operations with the same effect (the caller's `effectClass`) are
//    interchangeable once called, so only the earliest-called unlinearized one of each class is a
//    candidate. The linearized members of a class are then always a prefix of it, which also makes
//    the dominance check bite.
// Model states are small integers (the KV model interns values), which keeps the memo table and
// the step function allocation-free.

/** One operation prepared for the search. */
export interface PreparedOp {
  readonly call: number;
  /** Infinity when the outcome is unknown. */
  readonly ret: number;
  /** Index into the caller's operation array, for reporting. */
  readonly origin: number;
  /** Unknown-outcome operations with equal class have identical effects on every state. */
  readonly effectClass: number;
}

/** Next state after applying op `i` (index into the ops given) in `state`, or -1 if rejected. */
export type StepFn = (state: number, i: number) => number;

export interface SearchResult {
  readonly result: 'ok' | 'illegal' | 'unknown';
  /** Search steps taken (each tried call or backtrack). */
  readonly steps: number;
  /** When illegal or unknown: the longest sequence of operations (indices into `ops`) the search
   *  linearized before a dead end; empty when ok. */
  readonly longestPrefix: readonly number[];
  /** When illegal: an operation that had to be linearized next but could not be. */
  readonly stuckAt: number | undefined;
}

interface MemoEntry {
  readonly low: number;
  readonly state: number;
  readonly window: Uint32Array;
  readonly unknown: Uint32Array | null;
}

const HEAD = 0;

export function searchPartition(
  input: readonly PreparedOp[],
  initState: number,
  step: StepFn,
  maxSteps: number,
): SearchResult {
  const n = input.length;
  if (n === 0) return { result: 'ok', steps: 0, longestPrefix: [], stuckAt: undefined };

  // Internal numbering i: by call time. perm[i] = index into input.
  const perm = Array.from({ length: n }, (_, i) => i).sort((a, b) => input[a]!.call - input[b]!.call || a - b);
  const call = new Float64Array(n);
  const ret = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    call[i] = input[perm[i]!]!.call;
    ret[i] = input[perm[i]!]!.ret;
  }
  // Completed operations get dense numbers k in call order; unknown ones numbers u of their own.
  const slot = new Int32Array(n);
  let kn = 0;
  let un = 0;
  for (let i = 0; i < n; i++) slot[i] = ret[i] === Infinity ? un++ : kn++;
  const knownOp = new Int32Array(kn);
  for (let i = 0; i < n; i++) if (ret[i] !== Infinity) knownOp[slot[i]!] = i;
  // windowEnd[k]: first completed number whose call comes after completed op k's return.
  const windowEnd = new Int32Array(kn + 1);
  for (let k = 0, j = 0; k < kn; k++) {
    const r = ret[knownOp[k]!]!;
    if (j < k) j = k;
    while (j < kn && call[knownOp[j]!]! <= r) j++;
    windowEnd[k] = j;
  }
  windowEnd[kn] = kn;

  // Symmetry classes of unknown operations: rank within the class, and how many are linearized.
  const classOf = new Int32Array(n).fill(-1);
  const rank = new Int32Array(n);
  const classIds = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    if (ret[i] !== Infinity) continue;
    const ext = input[perm[i]!]!.effectClass;
    let c = classIds.get(ext);
    if (c === undefined) classIds.set(ext, (c = classIds.size));
    classOf[i] = c;
  }
  const classCount = new Int32Array(classIds.size);
  for (let i = 0; i < n; i++) if (classOf[i]! >= 0) rank[i] = classCount[classOf[i]!]!++;
  const classDone = new Int32Array(classIds.size);

  // Event nodes: call of op i is node i+1, its return node n+i+1. Returns at infinity sort last.
  const order: number[] = new Array(2 * n);
  for (let i = 0; i < n; i++) {
    order[2 * i] = i + 1;
    order[2 * i + 1] = n + i + 1;
  }
  const timeOf = (node: number): number => (node <= n ? call[node - 1]! : ret[node - n - 1]!);
  // Calls before returns at equal times: touching operations count as concurrent (permissive).
  order.sort((a, b) => {
    const ta = timeOf(a);
    const tb = timeOf(b);
    if (ta !== tb) return ta < tb ? -1 : 1;
    return (a <= n ? 0 : 1) - (b <= n ? 0 : 1) || a - b;
  });
  const next = new Int32Array(2 * n + 1).fill(-1);
  const prev = new Int32Array(2 * n + 1).fill(-1);
  let last = HEAD;
  for (const node of order) {
    next[last] = node;
    prev[node] = last;
    last = node;
  }

  const known = new Uint32Array(((kn + 31) >>> 5) + 1);
  const unknown = un > 0 ? new Uint32Array((un + 31) >>> 5) : null;
  const zobrist = new Int32Array(kn);
  let seed = 0x2545f491;
  for (let k = 0; k < kn; k++) {
    // xorshift32: fixed keys keep the search deterministic.
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    zobrist[k] = seed;
  }
  let hash = 0;
  let low = 0;
  const memo = new Map<number, MemoEntry[]>();

  /** Records the current configuration; false if it, or one that dominates it, was seen. */
  const remember = (state: number): boolean => {
    const wFrom = low >>> 5;
    const wTo = (windowEnd[low]! + 31) >>> 5;
    const key = (hash ^ Math.imul(state + 1, 0x9e3779b1) ^ Math.imul(low + 1, 0x85ebca6b)) | 0;
    let bucket = memo.get(key);
    if (bucket === undefined) {
      bucket = [];
      memo.set(key, bucket);
    } else {
      outer: for (const e of bucket) {
        if (e.state !== state || e.low !== low) continue;
        for (let w = wFrom; w < wTo; w++) if (e.window[w - wFrom] !== known[w]) continue outer;
        if (e.unknown !== null) {
          for (let w = 0; w < e.unknown.length; w++) if ((e.unknown[w]! & ~unknown![w]!) !== 0) continue outer;
        }
        return false;
      }
    }
    bucket.push({ low, state, window: known.slice(wFrom, wTo), unknown: unknown ? unknown.slice() : null });
    return true;
  };

  const toggle = (i: number): void => {
    const s = slot[i]!;
    if (ret[i] === Infinity) unknown![s >>> 5]! ^= 1 << (s & 31);
    else {
      known[s >>> 5]! ^= 1 << (s & 31);
      hash ^= zobrist[s]!;
    }
  };
  const isKnownSet = (k: number): boolean => (known[k >>> 5]! & (1 << (k & 31))) !== 0;

  const lift = (c: number): void => {
    next[prev[c]!] = next[c]!;
    if (next[c]! !== -1) prev[next[c]!] = prev[c]!;
    const r = c + n;
    next[prev[r]!] = next[r]!;
    if (next[r]! !== -1) prev[next[r]!] = prev[r]!;
  };
  const unlift = (c: number): void => {
    const r = c + n;
    next[prev[r]!] = r;
    if (next[r]! !== -1) prev[next[r]!] = r;
    next[prev[c]!] = c;
    if (next[c]! !== -1) prev[next[c]!] = c;
  };

  const stackNode = new Int32Array(n);
  const stackState = new Int32Array(n);
  const stackLow = new Int32Array(n);
  let depth = 0;
  let state = initState;
  let steps = 0;
  let best: number[] = [];
  let stuckAt: number | undefined;
  const external = (i: number): number => perm[i]!;

  // Two passes over the candidates at each configuration: first completed operations, then
  // unknown ones. Reaching a (completed set, state) pair with as few unknown operations as possible
  // first lets dominance prune the variants that linearized more of them.
  let entry = next[HEAD]!;
  let unknownPass = false;
  const stackPass = new Uint8Array(n);
  while (entry !== -1) {
    if (++steps > maxSteps) return { result: 'unknown', steps, longestPrefix: best, stuckAt: undefined };
    if (entry <= n) {
      const i = entry - 1;
      const c = classOf[i]!;
      // Not this pass's kind, or an unknown op that is not the first unlinearized one of its class
      // (a duplicate choice).
      if ((c >= 0) !== unknownPass || (c >= 0 && rank[i] !== classDone[c])) {
        entry = next[entry]!;
        continue;
      }
      const ns = step(state, perm[i]!);
      if (ns >= 0) {
        toggle(i);
        const savedLow = low;
        while (low < kn && isKnownSet(low)) low++;
        if (remember(ns)) {
          if (c >= 0) classDone[c]!++;
          stackNode[depth] = entry;
          stackState[depth] = state;
          stackLow[depth] = savedLow;
          stackPass[depth] = unknownPass ? 1 : 0;
          depth++;
          state = ns;
          lift(entry);
          entry = next[HEAD]!;
          unknownPass = false;
          continue;
        }
        low = savedLow;
        toggle(i);
      }
      entry = next[entry]!;
    } else {
      const i = entry - n - 1;
      // Only unknown-outcome operations remain: they may simply not have taken effect.
      if (ret[i] === Infinity) return { result: 'ok', steps, longestPrefix: [], stuckAt: undefined };
      if (!unknownPass && un > 0) {
        unknownPass = true;
        entry = next[HEAD]!;
        continue;
      }
      if (depth > best.length || stuckAt === undefined) {
        // Copy only at a new deepest dead end (copying on every new depth would cost O(n^2)).
        best = Array.from(stackNode.subarray(0, depth), (e) => external(e - 1));
        stuckAt = external(i);
      }
      if (depth === 0) return { result: 'illegal', steps, longestPrefix: best, stuckAt };
      depth--;
      const callNode = stackNode[depth]!;
      const j = callNode - 1;
      state = stackState[depth]!;
      low = stackLow[depth]!;
      unknownPass = stackPass[depth] === 1;
      toggle(j);
      if (classOf[j]! >= 0) classDone[classOf[j]!]!--;
      unlift(callNode);
      entry = next[callNode]!;
    }
  }
  return { result: 'ok', steps, longestPrefix: [], stuckAt: undefined };
}
