// Options of the multi-Raft core. Raft options (electionTicks, maxEntriesPerMsg, ...) may be given in
// the same object and apply to every instance; docs/multiraft.md lists the multi-Raft ones.
import { DEFAULT_RAFT_OPTIONS, RAFT_BUGS, resolveRaftOptions } from '../raft/options.js';
import type { RaftOptions } from '../raft/options.js';

export const MULTIRAFT_BUGS = ['merge-out-of-order', 'read-before-pglobal'] as const;
export type MultiRaftBug = (typeof MULTIRAFT_BUGS)[number];

export type ProgressMode = 'noop' | 'skip' | 'none';

export interface MultiRaftOptions {
  /** R at bootstrap (epoch 0). Every replica must be given the same value, on every restart. */
  instances: number;
  /** Upper bound for R (changes beyond it are refused). */
  maxInstances: number;
  /** How instances without load keep the merge moving: Niagara's no-ops, or Multi-Ring skip records. */
  progress: ProgressMode;
  /** No-op mode: run the rule (§3.2) every this many ticks. */
  noopIntervalTicks: number;
  /** No-op mode: at most this many no-ops per instance and round. */
  maxNoopsPerRound: number;
  /** Skip mode: initial interval Δ in ticks. */
  skipIntervalTicks: number;
  /** Skip mode: Δ adapts within [min, max]; equal bounds keep it fixed. */
  skipIntervalMinTicks: number;
  skipIntervalMaxTicks: number;
  /** Skip mode: target λ in slots per Δ; 0 = adapt to the measured rates. */
  skipLambda: number;
  /** Skip mode, adaptive λ: λ = headroom × the fastest instance's recent rate, within [min, max]. */
  skipHeadroom: number;
  skipLambdaMin: number;
  skipLambdaMax: number;
  /** Spread instance leaders over the replicas (transfer leadership away when above a fair share). */
  balanceLeaders: boolean;
  balanceIntervalTicks: number;
  /** How often instance leaders bring their group's membership to the replica set of the global log. */
  membershipIntervalTicks: number;
  /** Merge states kept for compaction. */
  checkpoints: number;
  /** Re-propose an awaited Seal or Join record after this many ticks without it appearing. */
  controlRetryTicks: number;
  /** Injected bugs: multi-Raft's (MULTIRAFT_BUGS) and Raft's (RAFT_BUGS), by name. */
  bugs: readonly string[];
}

export const DEFAULT_MULTIRAFT_OPTIONS: Readonly<MultiRaftOptions> = Object.freeze({
  instances: 2,
  maxInstances: 64,
  progress: 'noop' as ProgressMode,
  noopIntervalTicks: 1,
  maxNoopsPerRound: 4096,
  skipIntervalTicks: 2,
  skipIntervalMinTicks: 1,
  skipIntervalMaxTicks: 8,
  skipLambda: 0,
  skipHeadroom: 1.5,
  skipLambdaMin: 0,
  skipLambdaMax: 1 << 20,
  balanceLeaders: true,
  balanceIntervalTicks: 20,
  membershipIntervalTicks: 2,
  checkpoints: 64,
  controlRetryTicks: 20,
  bugs: [],
});

export interface ResolvedOptions {
  readonly mr: MultiRaftOptions;
  /** Per-instance Raft options, without `group` (set per instance). */
  readonly raft: Partial<RaftOptions>;
  readonly mrBugs: ReadonlySet<MultiRaftBug>;
}

function int(o: MultiRaftOptions, k: keyof MultiRaftOptions, min: number, max = Number.MAX_SAFE_INTEGER): void {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new Error(`multiraft option ${k}: expected an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
  }
}

/** Splits and validates options; throws a descriptive Error naming the option. */
export function resolveMultiRaftOptions(partial: Record<string, unknown> | undefined): ResolvedOptions {
  const mrPart: Record<string, unknown> = {};
  const raftPart: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(partial ?? {})) {
    if (k === 'bugs') continue;
    if (k in DEFAULT_MULTIRAFT_OPTIONS) mrPart[k] = v;
    else if (k === 'group') throw new Error('multiraft option group: instances are numbered by the core; do not set it');
    else if (k in DEFAULT_RAFT_OPTIONS) raftPart[k] = v;
    else throw new Error(`multiraft option ${k}: unknown option`);
  }
  const o = { ...DEFAULT_MULTIRAFT_OPTIONS, ...mrPart } as MultiRaftOptions;
  // An initial Δ the user did not choose follows the bounds the user did choose.
  if (!('skipIntervalTicks' in mrPart) && typeof o.skipIntervalMinTicks === 'number' && typeof o.skipIntervalMaxTicks === 'number') {
    o.skipIntervalTicks = Math.min(Math.max(o.skipIntervalTicks, o.skipIntervalMinTicks), o.skipIntervalMaxTicks);
  }
  int(o, 'maxInstances', 1, 1 << 16);
  int(o, 'instances', 1, o.maxInstances);
  if (o.progress !== 'noop' && o.progress !== 'skip' && o.progress !== 'none') {
    throw new Error(`multiraft option progress: expected "noop", "skip" or "none", got ${JSON.stringify(o.progress)}`);
  }
  int(o, 'noopIntervalTicks', 1);
  int(o, 'maxNoopsPerRound', 1);
  int(o, 'skipIntervalMinTicks', 1);
  int(o, 'skipIntervalMaxTicks', o.skipIntervalMinTicks);
  int(o, 'skipIntervalTicks', o.skipIntervalMinTicks, o.skipIntervalMaxTicks);
  int(o, 'skipLambda', 0, 1 << 30);
  int(o, 'skipLambdaMin', 0, 1 << 30);
  int(o, 'skipLambdaMax', Math.max(1, o.skipLambdaMin), 1 << 30);
  if (typeof o.skipHeadroom !== 'number' || !Number.isFinite(o.skipHeadroom) || o.skipHeadroom < 1 || o.skipHeadroom > 100) {
    throw new Error(`multiraft option skipHeadroom: expected a number in 1..100, got ${JSON.stringify(o.skipHeadroom)}`);
  }
  if (typeof o.balanceLeaders !== 'boolean') throw new Error(`multiraft option balanceLeaders: expected a boolean, got ${JSON.stringify(o.balanceLeaders)}`);
  int(o, 'balanceIntervalTicks', 1);
  int(o, 'membershipIntervalTicks', 1);
  int(o, 'checkpoints', 1, 1 << 16);
  int(o, 'controlRetryTicks', 1);
  const bugs = partial?.bugs ?? [];
  if (!Array.isArray(bugs)) throw new Error('multiraft option bugs: expected an array of bug names');
  const mrBugs = new Set<MultiRaftBug>();
  const raftBugs: string[] = [];
  for (const b of bugs) {
    if ((MULTIRAFT_BUGS as readonly unknown[]).includes(b)) mrBugs.add(b as MultiRaftBug);
    else if ((RAFT_BUGS as readonly unknown[]).includes(b)) raftBugs.push(b as string);
    else throw new Error(`multiraft option bugs: unknown bug ${JSON.stringify(b)} (known: ${[...MULTIRAFT_BUGS, ...RAFT_BUGS].join(', ')})`);
  }
  o.bugs = bugs as string[];
  if (raftBugs.length > 0) raftPart.bugs = raftBugs;
  // Validate the Raft part once, here, so errors name the option before any instance exists.
  resolveRaftOptions({ ...(raftPart as Partial<RaftOptions>), group: 0 });
  return { mr: o, raft: raftPart as Partial<RaftOptions>, mrBugs };
}
