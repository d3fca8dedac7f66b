// Keeping the merge moving when instances carry unequal load. Two modes, both pure:
//
//   no-ops (Niagara §3.2): every few ticks, c_r = committed slots of instance r not yet merged;
//     each local leader l gets c_max - c_l no-ops (minus what it already has in flight), so a
//     lightly loaded instance never holds back a busy one for long.
//   skip records (Multi-Ring Paxos, ch. 5): every Δ ticks, a local leader whose instance grew by
//     μ < λ slots in the interval proposes ONE Skip record standing for λ - μ slots. λ and Δ adapt
//     to the measured rates (SkipPacer).

export interface PendingCount {
  readonly group: number;
  /** Committed slots not yet merged, c_r. */
  readonly pending: number;
}

export interface LeaderLoad {
  readonly group: number;
  /** Slots appended but not yet committed at this leader (they will count once committed). */
  readonly inFlight: number;
}

/** How many no-ops each local leader should propose now: c_max - c_l - in flight, capped. */
export function noopPlan(pending: readonly PendingCount[], leaders: readonly LeaderLoad[], cap: number): { group: number; count: number }[] {
  let cmax = 0;
  for (const p of pending) if (p.pending > cmax) cmax = p.pending;
  const out: { group: number; count: number }[] = [];
  if (cmax === 0) return out;
  for (const l of leaders) {
    const mine = pending.find((p) => p.group === l.group);
    if (!mine) continue;
    const deficit = cmax - mine.pending - l.inFlight;
    if (deficit > 0) out.push({ group: l.group, count: Math.min(deficit, cap) });
  }
  return out;
}

export interface SkipPacerOptions {
  /** Initial Δ in ticks. */
  readonly intervalTicks: number;
  readonly minIntervalTicks: number;
  readonly maxIntervalTicks: number;
  /** Fixed λ (slots per Δ); 0 = adaptive. */
  readonly lambda: number;
  readonly headroom: number;
  readonly lambdaMin: number;
  readonly lambdaMax: number;
}

export interface SkipDecision {
  readonly group: number;
  readonly count: number;
}

/** A SkipPacer as plain data, to move it between threads. */
export interface SkipPacerState {
  readonly interval: number;
  readonly left: number;
  readonly rateEst: number | null;
  readonly committed: [number, number][];
  readonly startIndex: [number, number][];
  readonly lastLambda: number;
}

/**
 * Rate-based skipping. The host feeds it the committed non-skip slots of every instance as they
 * arrive (onCommitted), ticks it, and at the end of each interval asks for a plan given the local
 * leaders' log ends. Rates are kept per tick so that a change of Δ does not change λ's meaning.
 */
export class SkipPacer {
  interval: number;
  private left: number;
  /** Smoothed slots per tick of the fastest instance; null before the first interval. */
  private rateEst: number | null = null;
  private readonly committed = new Map<number, number>();
  /** Log end of each local leader at the start of the interval (after its skip record, if any). */
  private readonly startIndex = new Map<number, number>();
  /** λ used at the last decision, in slots per interval (for stats and tests). */
  lastLambda = 0;

  constructor(private readonly o: SkipPacerOptions) {
    this.interval = o.intervalTicks;
    this.left = o.intervalTicks;
  }

  exportState(): SkipPacerState {
    return { interval: this.interval, left: this.left, rateEst: this.rateEst, committed: [...this.committed], startIndex: [...this.startIndex], lastLambda: this.lastLambda };
  }

  static fromState(o: SkipPacerOptions, s: SkipPacerState): SkipPacer {
    const p = new SkipPacer(o);
    p.interval = s.interval;
    p.left = s.left;
    p.rateEst = s.rateEst;
    for (const [k, v] of s.committed) p.committed.set(k, v);
    for (const [k, v] of s.startIndex) p.startIndex.set(k, v);
    p.lastLambda = s.lastLambda;
    return p;
  }

  onCommitted(group: number, slots: number): void {
    if (slots > 0) this.committed.set(group, (this.committed.get(group) ?? 0) + slots);
  }

  /** One tick; true when the interval is over and plan() should be called. */
  tick(): boolean {
    return --this.left <= 0;
  }

  /** λ in slots for an interval of `ticks`. */
  lambdaFor(ticks: number): number {
    if (this.o.lambda > 0) return Math.round((this.o.lambda * ticks) / this.o.intervalTicks);
    const est = this.rateEst ?? 0;
    const l = Math.ceil(this.o.headroom * est * ticks - 1e-9);
    return Math.min(this.o.lambdaMax, Math.max(this.o.lambdaMin, l));
  }

  /**
   * End of interval. `leaders`: this replica's leader instances and their current last index.
   * `backlog`: the largest number of committed slots waiting in the merge.
   * Returns one skip record per instance below λ; then starts the next interval.
   */
  plan(leaders: readonly { group: number; lastIndex: number }[], backlog: number): SkipDecision[] {
    const ticks = this.interval;
    let fastest = 0;
    for (const v of this.committed.values()) if (v > fastest) fastest = v;
    this.committed.clear();
    const rate = fastest / ticks;
    this.rateEst = this.rateEst === null ? rate : 0.5 * this.rateEst + 0.5 * rate;
    const lambda = this.lambdaFor(ticks);
    this.lastLambda = lambda;
    const out: SkipDecision[] = [];
    const seen = new Set<number>();
    for (const l of leaders) {
      seen.add(l.group);
      const start = this.startIndex.get(l.group);
      // A leader new to this interval has no measurement yet; it decides from the next one.
      if (start !== undefined) {
        const mu = Math.max(0, l.lastIndex - start);
        if (mu < lambda) out.push({ group: l.group, count: lambda - mu });
      }
    }
    for (const g of [...this.startIndex.keys()]) if (!seen.has(g)) this.startIndex.delete(g);
    // Adapt Δ: a backlog beyond what one interval's skips cover means Δ is too long for the
    // imbalance; no backlog at all lets it grow (fewer skip records).
    if (backlog > Math.max(1, lambda)) this.interval = Math.max(this.o.minIntervalTicks, Math.floor(this.interval / 2));
    else if (backlog === 0) this.interval = Math.min(this.o.maxIntervalTicks, this.interval + 1);
    this.left = this.interval;
    return out;
  }

  /** Records a leader's log end at the start of the next interval (call after proposing its skip). */
  startInterval(group: number, lastIndex: number): void {
    this.startIndex.set(group, lastIndex);
  }
}
