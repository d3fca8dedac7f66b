// The fault model of a simulated run. Rates are per message (drop, duplicate, long delay) or per
// simulated millisecond (crash, partition); sim.ts draws each run's own rates from these ranges, so
// a sweep covers calm and harsh runs alike.

export interface FaultConfig {
  /** Probability that a message is lost. */
  readonly drop: number;
  /** Probability that a message is delivered twice (the copy with its own delay). */
  readonly duplicate: number;
  /** One-way latency in ms, uniform in [min, max]; independent per message, so messages reorder. */
  readonly delayMin: number;
  readonly delayMax: number;
  /** Probability that a message is held back much longer (up to longDelay ms): strong reordering. */
  readonly longDelayRate: number;
  readonly longDelay: number;
  /** Mean ms between partition changes (0: never). A partition lasts partitionMin..partitionMax ms. */
  readonly partitionEvery: number;
  readonly partitionMin: number;
  readonly partitionMax: number;
  /** Mean ms between replica crashes (0: never). A crashed replica restarts after downMin..downMax ms. */
  readonly crashEvery: number;
  readonly downMin: number;
  readonly downMax: number;
  /** Never crash more than this many replicas at once (liveness, not safety). */
  readonly maxDown: number;
  /** Probability that a replica loses power during an fsync (just before it would complete): the
   *  sharpest test of what a core lets out before its writes are durable. */
  readonly crashInFsync: number;
  /** Clock drift: each replica's tick period is tickMs * (1 + d), d uniform in [-tickSkew, tickSkew].
   *  Raft is safe under any drift; lease reads are not (their documented clock assumption). */
  readonly tickSkew: number;
  /** fsync latency in ms, uniform in [min, max]. */
  readonly fsyncMin: number;
  readonly fsyncMax: number;
}

export const NO_FAULTS: FaultConfig = {
  drop: 0,
  duplicate: 0,
  delayMin: 1,
  delayMax: 3,
  longDelayRate: 0,
  longDelay: 0,
  partitionEvery: 0,
  partitionMin: 0,
  partitionMax: 0,
  crashEvery: 0,
  downMin: 0,
  downMax: 0,
  maxDown: 0,
  crashInFsync: 0,
  tickSkew: 0,
  fsyncMin: 1,
  fsyncMax: 2,
};

/** Draws one run's fault rates: each kind of fault is on with some probability and a random rate. */
export function drawFaults(rand: () => number, replicas: number): FaultConfig {
  const on = (p: number): boolean => rand() < p;
  const between = (lo: number, hi: number): number => lo + (hi - lo) * rand();
  const delayMax = Math.round(between(2, 15));
  return {
    drop: on(0.7) ? between(0.005, 0.08) : 0,
    duplicate: on(0.6) ? between(0.005, 0.05) : 0,
    delayMin: 1,
    delayMax,
    longDelayRate: on(0.5) ? between(0.002, 0.02) : 0,
    longDelay: 300,
    partitionEvery: on(0.75) ? Math.round(between(300, 1200)) : 0,
    partitionMin: 100,
    partitionMax: 800,
    crashEvery: on(0.8) ? Math.round(between(250, 1000)) : 0,
    downMin: 20,
    downMax: 600,
    maxDown: Math.max(1, Math.floor((replicas - 1) / 2)),
    crashInFsync: on(0.6) ? between(0.005, 0.04) : 0,
    tickSkew: on(0.5) ? between(0.05, 0.3) : 0,
    fsyncMin: 1,
    fsyncMax: Math.round(between(2, 12)),
  };
}

/**
 * Fixed fault mixes for targeted sweeps (`verdant sim --fault-mix NAME`), instead of per-seed
 * random rates. `lease-stress`: frequent partitions that often cut the leader off, fast links so a
 * majority elects and commits quickly, no crashes, and the largest clock drift (30%) on every
 * replica: the shape in which a lease that outlives its quorum serves stale reads. The default mix
 * catches such a lease in about 1 seed of 500; this one within a few seeds (docs/raft.md).
 */
export const FAULT_MIXES: Readonly<Record<string, FaultConfig>> = {
  'lease-stress': {
    ...NO_FAULTS,
    delayMin: 1,
    delayMax: 3,
    partitionEvery: 200,
    partitionMin: 150,
    partitionMax: 400,
    maxDown: 1,
    tickSkew: 0.3,
    fsyncMin: 1,
    fsyncMax: 2,
  },
};
