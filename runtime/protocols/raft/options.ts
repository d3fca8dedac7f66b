// Options of the Raft core, their defaults and validation. docs/raft.md explains each one.

/** Deliberately broken variants, for proving that the simulator's checks can fail. */
export const RAFT_BUGS = ['commit-without-quorum', 'vote-twice', 'read-without-readindex', 'lease-until-step-down'] as const;
export type RaftBug = (typeof RAFT_BUGS)[number];

export interface RaftOptions {
  /** Consensus group number carried by every message; multi-Raft runs one core per group. */
  group: number;
  /** Base election timeout in ticks; the effective one is drawn from [electionTicks, 2*electionTicks). */
  electionTicks: number;
  /** Leader heartbeat interval in ticks; must be below electionTicks. */
  heartbeatTicks: number;
  preVote: boolean;
  /** A leader that has not heard from a quorum within electionTicks steps down. */
  checkQuorum: boolean;
  /** Followers forward proposals to the leader. */
  forwardProposals: boolean;
  /** Followers forward readIndex requests to the leader. */
  forwardReads: boolean;
  /** Serve reads from the leader's lease instead of a heartbeat round (needs checkQuorum). */
  leaseReads: boolean;
  /**
   * Lease reads: bound on clock drift, as a fraction of the nominal tick period. Every replica's
   * tick period (as the core sees ticks) lies in [p(1-d), p(1+d)]; see leaseTicks and docs/raft.md.
   */
  maxClockDrift: number;
  /** Batching: at most this many entries per AppendEntries. */
  maxEntriesPerMsg: number;
  /** Batching: at most this many payload bytes per AppendEntries (one larger entry still goes alone). */
  maxBytesPerMsg: number;
  /** Flow control: AppendEntries in flight per follower in replicate state. */
  maxInflightMsgs: number;
  /** Flow control: payload bytes in flight per follower (0 = no byte limit). */
  maxInflightBytes: number;
  /** Largest accepted entry payload; larger proposals get 'too-large', larger received entries are rejected. */
  maxEntryBytes: number;
  /** A leader refuses proposals ('busy') while this many uncommitted payload bytes are pending (0 = no limit). */
  maxUncommittedBytes: number;
  /** Size of one snapshot chunk on the wire. */
  snapshotChunkBytes: number;
  /** Snapshot chunks in flight per follower. */
  snapshotChunksInFlight: number;
  /** Largest snapshot a follower accepts. */
  maxSnapshotBytes: number;
  /** Entries kept in memory below a compaction point, so slightly lagging followers need no snapshot. */
  compactionRetainEntries: number;
  /** A learner is promoted only if its match index is within this many entries of the leader's last index. */
  promoteMaxLag: number;
  /** On restart: the index the host's state machine already holds (default: the snapshot index). */
  applied: number | undefined;
  /** Injected bugs (see RAFT_BUGS); all off by default. */
  bugs: readonly string[];
}

export const DEFAULT_RAFT_OPTIONS: Readonly<RaftOptions> = Object.freeze({
  group: 0,
  electionTicks: 10,
  heartbeatTicks: 1,
  preVote: true,
  checkQuorum: true,
  forwardProposals: true,
  forwardReads: true,
  leaseReads: false,
  maxClockDrift: 0.3,
  maxEntriesPerMsg: 4096,
  maxBytesPerMsg: 1 << 20,
  maxInflightMsgs: 256,
  maxInflightBytes: 32 << 20,
  maxEntryBytes: 1 << 20,
  maxUncommittedBytes: 64 << 20,
  snapshotChunkBytes: 64 << 10,
  snapshotChunksInFlight: 4,
  maxSnapshotBytes: 512 << 20,
  compactionRetainEntries: 1024,
  promoteMaxLag: 1024,
  applied: undefined,
  bugs: [],
});

function posInt(o: RaftOptions, k: keyof RaftOptions, min: number): void {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
    throw new Error(`raft option ${k}: expected an integer >= ${min}, got ${JSON.stringify(v)}`);
  }
}

/** Merges user options over the defaults and validates them; throws a descriptive Error. */
export function resolveRaftOptions(partial: Partial<RaftOptions> | undefined): RaftOptions {
  const o: RaftOptions = { ...DEFAULT_RAFT_OPTIONS, ...(partial ?? {}) };
  for (const k of Object.keys(partial ?? {})) {
    if (!(k in DEFAULT_RAFT_OPTIONS)) throw new Error(`raft option ${k}: unknown option`);
  }
  posInt(o, 'group', 0);
  posInt(o, 'electionTicks', 2);
  posInt(o, 'heartbeatTicks', 1);
  posInt(o, 'maxEntriesPerMsg', 1);
  posInt(o, 'maxBytesPerMsg', 1);
  posInt(o, 'maxInflightMsgs', 1);
  posInt(o, 'maxInflightBytes', 0);
  posInt(o, 'maxEntryBytes', 0);
  posInt(o, 'maxUncommittedBytes', 0);
  posInt(o, 'snapshotChunkBytes', 1);
  posInt(o, 'snapshotChunksInFlight', 1);
  posInt(o, 'maxSnapshotBytes', 0);
  posInt(o, 'compactionRetainEntries', 0);
  posInt(o, 'promoteMaxLag', 0);
  if (o.applied !== undefined) posInt(o, 'applied', 0);
  if (o.heartbeatTicks >= o.electionTicks) {
    throw new Error(`raft option heartbeatTicks: must be below electionTicks (${o.electionTicks}), got ${o.heartbeatTicks}`);
  }
  for (const k of ['preVote', 'checkQuorum', 'forwardProposals', 'forwardReads', 'leaseReads'] as const) {
    if (typeof o[k] !== 'boolean') throw new Error(`raft option ${k}: expected a boolean, got ${JSON.stringify(o[k])}`);
  }
  if (typeof o.maxClockDrift !== 'number' || !Number.isFinite(o.maxClockDrift) || o.maxClockDrift < 0 || o.maxClockDrift >= 1) {
    throw new Error(`raft option maxClockDrift: expected a number in [0, 1), got ${JSON.stringify(o.maxClockDrift)}`);
  }
  if (o.leaseReads && !o.checkQuorum) {
    throw new Error('raft option leaseReads: requires checkQuorum (the lease is only safe if a leader steps down in time)');
  }
  if (o.leaseReads && leaseTicks(o) < 1) {
    throw new Error(
      `raft option leaseReads: with electionTicks ${o.electionTicks} and maxClockDrift ${o.maxClockDrift} the lease would last no tick; raise electionTicks or lower maxClockDrift`,
    );
  }
  if (!Array.isArray(o.bugs)) throw new Error('raft option bugs: expected an array of bug names');
  for (const b of o.bugs) {
    if (!(RAFT_BUGS as readonly string[]).includes(b)) {
      throw new Error(`raft option bugs: unknown bug ${JSON.stringify(b)} (known: ${RAFT_BUGS.join(', ')})`);
    }
  }
  if (o.bugs.includes('lease-until-step-down') && !o.leaseReads) {
    throw new Error('raft option bugs: lease-until-step-down breaks lease reads, so it needs leaseReads: true');
  }
  return o;
}

/**
 * How many consecutive leader ticks a lease lasts, counting the tick in which the confirming
 * heartbeat round was sent: a round sent at leader tick s and acknowledged by a quorum lets the
 * leader serve reads while its tick count is at most s + leaseTicks - 1.
 *
 * A voter that receives the round resets its lease clock and grants no vote (other than to a
 * leadership-transfer target) for electionTicks of its own ticks, i.e. for more than
 * (electionTicks - 1) * p_f of real time; electionTicks is also the lower end of the randomized
 * election timeout, so it is the shortest time any follower honours. The leader at tick count c has
 * spent less than (c - s + 1) * p_l since sending. With p_l <= p(1+d) and p_f >= p(1-d), reads are
 * safe while (c - s + 1) <= (electionTicks - 1)(1-d)/(1+d).
 */
export function leaseTicks(o: Pick<RaftOptions, 'electionTicks' | 'maxClockDrift'>): number {
  // The small epsilon keeps exact quotients (e.g. drift 0) from rounding down a whole tick.
  return Math.floor(((o.electionTicks - 1) * (1 - o.maxClockDrift)) / (1 + o.maxClockDrift) + 1e-9);
}
