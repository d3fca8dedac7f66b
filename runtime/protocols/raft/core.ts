// The Raft core: a pure, deterministic state machine for one consensus group (etcd-io/raft style).
// docs/raft.md describes the design; runtime/protocols/api.ts the contract it implements.
import { EntryType, NONE } from '../api.js';
import type {
  CoreInit,
  Entry,
  GroupDurableState,
  GroupView,
  GroupWrite,
  HardState,
  Membership,
  MembershipChange,
  NodeId,
  ProposeResult,
  ProtocolCore,
  ProtocolStats,
  Ready,
  ReadState,
  RejectReason,
  Rng,
  Role,
  Snapshot,
} from '../api.js';
import { RaftLog } from './log.js';
import { applyChange, decodeMembership, encodeMembership, isValidNodeId, membershipProblem } from './membership.js';
import { CAMPAIGN_TRANSFER, EMPTY_ENTRIES, MsgType, makeMessage } from './messages.js';
import type { RaftMessage, SnapshotChunk } from './messages.js';
import { leaseTicks, resolveRaftOptions } from './options.js';
import type { RaftOptions } from './options.js';
import { Progress, ProgressState } from './progress.js';
import { checkMessage } from './validate.js';
import type { ValidationLimits } from './validate.js';

const StateType = { Follower: 0, PreCandidate: 1, Candidate: 2, Leader: 3 } as const;
type StateType = (typeof StateType)[keyof typeof StateType];

const EMPTY_DATA = new Uint8Array(0);
const EMPTY: readonly never[] = Object.freeze([]);

interface ConfigRecord {
  readonly index: number;
  readonly membership: Membership;
}

interface PendingRead {
  readonly ctx: number;
  readonly from: NodeId;
  readonly index: number;
  readonly seq: number;
}

interface IncomingSnapshot {
  readonly from: NodeId;
  readonly meta: SnapshotChunk['meta'];
  readonly buf: Uint8Array;
  received: number;
}

const COUNTERS = [
  'preVoteCampaigns',
  'elections',
  'leaderElected',
  'votesGranted',
  'votesIgnoredInLease',
  'checkQuorumStepDowns',
  'transfers',
  'transfersAborted',
  'timeoutNowSent',
  'appendRejects',
  'staleAppendRejects',
  'snapshotsSent',
  'snapshotChunksSent',
  'snapshotResends',
  'snapshotsInstalled',
  'compactions',
  'compactIgnored',
  'proposalsForwarded',
  'proposalsDropped',
  'readsForwarded',
  'readsDropped',
  'staleReadResponses',
  'leaseReadsServed',
  'leaseReadsFallback',
  'votesRefusedInLease',
  'ignoredLate',
  'leaderRemovedStepDowns',
  'internalErrors',
] as const;
type Counter = (typeof COUNTERS)[number];

function quorum(n: number): number {
  return (n >>> 1) + 1;
}

export class RaftCore implements ProtocolCore<RaftMessage> {
  readonly id: NodeId;
  readonly group: number;
  private readonly o: RaftOptions;
  private readonly rng: Rng;
  private readonly limits: ValidationLimits;
  private readonly bugCommitWithoutQuorum: boolean;
  private readonly bugVoteTwice: boolean;
  private readonly bugReadWithoutReadIndex: boolean;
  private readonly bugLeaseUntilStepDown: boolean;
  /** Lease reads: ticks a confirmed lease lasts (options.leaseTicks); 0 when lease reads are off. */
  private readonly leaseTicks: number;

  // Persistent state (with the log).
  private term = 0;
  private vote: NodeId = NONE;
  private readonly log = new RaftLog();
  /** The last hard state handed out in a Ready (durable or being written). */
  private handedHard: HardState = { term: 0, vote: NONE, commit: 0 };

  // Volatile state.
  private state: StateType = StateType.Follower;
  private lead: NodeId = NONE;
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private readonly votes = new Map<NodeId, boolean>();
  private leadTransferee: NodeId = NONE;
  private uncommittedBytes = 0;

  // Membership: the base configuration (at the log's base index) and the Config entries after it.
  private baseMembership: Membership;
  private configs: ConfigRecord[] = [];
  private membership: Membership;
  private voterIds: NodeId[] = [];
  private selfVoter = false;
  private selfMember = false;
  private readonly known = new Set<NodeId>();

  // Leader state.
  private prs: Progress[] = [];
  private readonly prMap = new Map<NodeId, Progress>();
  private scratch: number[] = [];

  // Snapshots.
  private snapshot: Snapshot | null = null;
  private compactedWrite: Snapshot | null = null;
  private incoming: IncomingSnapshot | null = null;

  // Reads.
  private pendingReads: PendingRead[] = [];
  private pendingHead = 0;
  private queuedReads: { ctx: number; from: NodeId }[] = [];
  private readSeqNext = 1;
  private readSeqSent = 0;
  private readBcastNeeded = false;
  private readonly forwardedReads = new Set<number>();

  // Lease reads (docs/raft.md, "Lease reads"). Follower side: for this many more ticks this replica
  // keeps its promise to a leader it heard from (or, after a restart, to any leader it may have
  // acknowledged before the crash) to vote for nobody but a transfer target.
  private voteHold = 0;
  // Leader side: ticks since becoming leader; leaseRing[t % leaseTicks] holds the first read-round
  // sequence number issued at or after leader tick t, for the last leaseTicks ticks.
  private leaderTicks = 0;
  private readonly leaseRing: Float64Array;
  /** Set once this term's leader has sent TimeoutNow: its target may win without our lease expiring. */
  private leaseRevoked = false;

  // Outputs accumulated for the next Ready.
  private msgsNow: RaftMessage[] = [];
  private msgsAfter: RaftMessage[] = [];
  private readStates: ReadState[] = [];
  private needAppendScan = false;
  private needCommitBcast = false;
  private pendingForward: Entry[] = [];

  // The Ready handed out and not yet advanced.
  private outstanding: Ready<RaftMessage> | null = null;
  private rdLastIndex = 0;
  private rdLastTerm = 0;
  private rdSnapshot = false;
  private rdApplying = 0;

  private readonly rejected: Partial<Record<RejectReason, number>> = {};
  private readonly counters: Record<Counter, number>;
  /** The last exception caught inside step() (a bug in this core if ever set). */
  lastInternalError: unknown = null;
  private readonly view: GroupView;

  constructor(init: CoreInit, options?: Partial<RaftOptions>) {
    this.o = resolveRaftOptions(options);
    if (!isValidNodeId(init.id)) throw new Error(`raft: invalid node id ${String(init.id)}`);
    const mp = membershipProblem(init.membership, false);
    if (mp !== null) throw new Error(`raft: invalid initial membership: ${mp}`);
    this.id = init.id;
    this.group = this.o.group;
    this.rng = init.rng;
    this.limits = { id: this.id, group: this.group, maxEntryBytes: this.o.maxEntryBytes, maxSnapshotBytes: this.o.maxSnapshotBytes };
    const bugs = this.o.bugs;
    this.bugCommitWithoutQuorum = bugs.includes('commit-without-quorum');
    this.bugVoteTwice = bugs.includes('vote-twice');
    this.bugReadWithoutReadIndex = bugs.includes('read-without-readindex');
    this.bugLeaseUntilStepDown = bugs.includes('lease-until-step-down');
    this.leaseTicks = this.o.leaseReads ? leaseTicks(this.o) : 0;
    this.leaseRing = new Float64Array(this.leaseTicks);
    this.counters = Object.fromEntries(COUNTERS.map((k) => [k, 0])) as Record<Counter, number>;

    this.baseMembership = init.membership;
    this.membership = init.membership;
    const durable = init.durable.find((d) => d.group === this.group);
    if (durable) this.restoreDurable(durable);
    // A restarted replica has forgotten when it last heard from a leader. If it ever had a term it
    // may have acknowledged a lease-confirming round just before the crash: keep the promise.
    if (this.leaseTicks > 0 && this.term > 0) this.voteHold = this.o.electionTicks;
    this.setMembership(this.configs.length > 0 ? this.configs[this.configs.length - 1]!.membership : this.baseMembership);
    this.resetRandomizedElectionTimeout();
    this.view = this.makeView();
  }

  private restoreDurable(d: GroupDurableState): void {
    const log = this.log;
    const s = d.snapshot;
    if (s) {
      const p = membershipProblem(s.meta.membership, true);
      if (p !== null) throw new Error(`raft: durable snapshot of group ${d.group}: ${p}`);
      log.base = s.meta.index;
      log.baseTerm = s.meta.term;
      this.snapshot = s;
      this.baseMembership = s.meta.membership;
    }
    let prevTerm = log.baseTerm;
    for (const e of d.entries) {
      if (e.index !== log.lastIndex() + 1) {
        throw new Error(`raft: durable log of group ${d.group} is not contiguous: entry ${e.index} after ${log.lastIndex()}`);
      }
      if (e.term < prevTerm) throw new Error(`raft: durable log of group ${d.group}: term decreases at index ${e.index}`);
      prevTerm = e.term;
      log.append(e);
      if (e.type === EntryType.Config) this.configs.push({ index: e.index, membership: decodeMembership(e.data) });
    }
    const hs = d.hardState;
    this.term = hs.term;
    this.vote = hs.vote;
    this.handedHard = hs;
    const commit = Math.max(hs.commit, log.base);
    if (commit > log.lastIndex()) {
      throw new Error(`raft: durable hard state of group ${d.group} commits ${commit} beyond the last durable index ${log.lastIndex()}`);
    }
    log.committed = commit;
    log.stabled = log.lastIndex();
    log.inProgress = log.stabled;
    const applied = this.o.applied ?? log.base;
    if (applied < log.base || applied > commit) {
      throw new Error(`raft option applied: ${applied} must lie between the snapshot index ${log.base} and the commit index ${commit}`);
    }
    log.applied = applied;
    log.applying = applied;
  }

  // ---------------------------------------------------------------- inputs

  step(m: RaftMessage): void {
    try {
      this.stepChecked(m);
    } catch (e) {
      this.reject('unexpected');
      this.counters.internalErrors++;
      this.lastInternalError = e;
    }
  }

  tick(): void {
    if (this.voteHold > 0) this.voteHold--;
    if (this.state === StateType.Leader) this.tickLeader();
    else this.tickElection();
  }

  propose(data: Uint8Array): ProposeResult {
    if (data.length > this.o.maxEntryBytes) return { ok: false, error: 'too-large', leader: this.lead };
    if (this.state === StateType.Leader) {
      if (this.leadTransferee !== NONE) return { ok: false, error: 'transferring', leader: this.id };
      if (!this.admitUncommitted(data.length)) return { ok: false, error: 'busy', leader: this.id };
      const e = this.appendEntry(EntryType.Normal, data);
      return { ok: true, index: e.index };
    }
    if (this.lead === NONE) return { ok: false, error: 'no-leader', leader: NONE };
    if (!this.o.forwardProposals) return { ok: false, error: 'not-leader', leader: this.lead };
    this.pendingForward.push({ index: 0, term: 0, type: EntryType.Normal, data });
    return { ok: true };
  }

  /**
   * Leader only, never forwarded: append a protocol-internal entry of type Noop or Skip. Multi-Raft
   * uses it for its progress no-ops, skip records and sequencer control records, which must not be
   * mistaken for client commands (Normal entries carry opaque client bytes).
   */
  proposeEntry(type: EntryType, data: Uint8Array): ProposeResult {
    if (type !== EntryType.Noop && type !== EntryType.Skip) throw new Error(`raft: proposeEntry accepts Noop or Skip entries, not type ${String(type)}`);
    if (data.length > this.o.maxEntryBytes) return { ok: false, error: 'too-large', leader: this.lead };
    if (this.state !== StateType.Leader) return { ok: false, error: this.lead === NONE ? 'no-leader' : 'not-leader', leader: this.lead };
    if (this.leadTransferee !== NONE) return { ok: false, error: 'transferring', leader: this.id };
    const e = this.appendEntry(type, data);
    return { ok: true, index: e.index };
  }

  readIndex(ctx: number): void {
    if (this.bugReadWithoutReadIndex) {
      // BUG (injected): answer from the local commit index with no leadership check at all.
      this.readStates.push({ ctx, index: this.log.committed });
      return;
    }
    if (this.state === StateType.Leader) {
      this.handleReadRequest(ctx, this.id);
    } else if (this.lead !== NONE && this.o.forwardReads) {
      this.forwardedReads.add(ctx);
      this.counters.readsForwarded++;
      this.sendNow(makeMessage(MsgType.ReadIndex, this.group, this.id, this.lead, 0, 0, 0, 0, EMPTY_ENTRIES, false, 0, ctx, null));
    } else {
      this.readStates.push({ ctx, error: 'not-leader', leader: this.lead });
    }
  }

  /**
   * Starts an election now (as if the election timeout fired), skipping the timer. With lease reads
   * on, a replica that heard from a leader within electionTicks ignores it: campaigning would break
   * the promise that leader's lease rests on.
   */
  campaign(): void {
    if (this.voteHold > 0) {
      this.counters.votesRefusedInLease++;
      return;
    }
    this.hup(false);
  }

  compact(appliedIndex: number, data: Uint8Array): void {
    const log = this.log;
    const snapIndex = this.snapshot ? this.snapshot.meta.index : 0;
    if (!Number.isSafeInteger(appliedIndex) || !(data instanceof Uint8Array) || appliedIndex <= snapIndex || appliedIndex > log.applied) {
      this.counters.compactIgnored++;
      return;
    }
    const t = log.term(appliedIndex);
    if (t === undefined) {
      this.counters.compactIgnored++;
      return;
    }
    const membership = this.membershipAt(appliedIndex);
    if (membership.voters.length === 0) {
      // A joiner bootstrapped empty has not yet seen the configuration for this point of the log;
      // a snapshot without one could never be restored or sent. Keep the log until it has.
      this.counters.compactIgnored++;
      return;
    }
    const snap: Snapshot = { meta: { index: appliedIndex, term: t, membership }, data };
    this.snapshot = snap;
    this.compactedWrite = snap;
    const newBase = Math.max(log.base, appliedIndex - this.o.compactionRetainEntries);
    if (newBase > log.base) {
      this.baseMembership = this.membershipAt(newBase);
      this.configs = this.configs.filter((c) => c.index > newBase);
      log.compactTo(newBase);
      this.rebuildKnown();
    }
    this.counters.compactions++;
  }

  proposeMembership(change: MembershipChange): ProposeResult {
    if (this.state !== StateType.Leader) {
      return { ok: false, error: this.lead === NONE ? 'no-leader' : 'not-leader', leader: this.lead };
    }
    if (this.leadTransferee !== NONE) return { ok: false, error: 'transferring', leader: this.id };
    // One change at a time, and only once an entry of this term is committed (Ongaro, raft-dev 2015):
    // that commit proves no uncommitted configuration of an earlier term can still take effect.
    if (this.log.term(this.log.committed) !== this.term || this.lastConfigIndex() > this.log.committed) {
      return { ok: false, error: 'busy', leader: this.id };
    }
    const out = applyChange(this.membership, change);
    if (!out.ok) return { ok: false, error: out.error, leader: this.id };
    if (out.next === null) return { ok: true };
    if (change.type === 'promote') {
      const pr = this.prMap.get(change.node);
      if (!pr || pr.match + this.o.promoteMaxLag < this.log.lastIndex()) return { ok: false, error: 'busy', leader: this.id };
    }
    const e = this.appendEntry(EntryType.Config, encodeMembership(out.next));
    return { ok: true, index: e.index };
  }

  transferLeadership(to: NodeId): boolean {
    if (this.state !== StateType.Leader || to === this.id) return false;
    const pr = this.prMap.get(to);
    if (!pr || pr.isLearner || !this.voterIds.includes(to)) return false;
    if (this.leadTransferee === to) return true;
    this.leadTransferee = to;
    this.electionElapsed = 0;
    this.counters.transfers++;
    if (pr.match === this.log.lastIndex()) {
      this.sendTimeoutNow(to);
    } else {
      // Catch the target up first, from its confirmed match (appends in flight may have been lost),
      // rather than wait for the next heartbeat answer to reveal where it stands.
      if (pr.state !== ProgressState.Snapshot) pr.becomeProbe();
      this.needAppendScan = true;
    }
    return true;
  }

  // ---------------------------------------------------------------- outputs

  hasReady(): boolean {
    this.flushSends();
    const log = this.log;
    return (
      this.msgsNow.length > 0 ||
      this.msgsAfter.length > 0 ||
      this.readStates.length > 0 ||
      log.hasNextCommitted() ||
      log.hasUnstableEntries() ||
      (log.unstableSnapshot !== null && !log.snapshotInProgress) ||
      this.compactedWrite !== null ||
      this.hardStateChanged()
    );
  }

  ready(): Ready<RaftMessage> {
    if (this.outstanding !== null) throw new Error('raft: ready() called again before advance()');
    this.flushSends();
    const log = this.log;
    let hard: HardState | null = null;
    let mustSync = false;
    let termOrVoteChanged = false;
    if (this.hardStateChanged()) {
      termOrVoteChanged = this.term !== this.handedHard.term || this.vote !== this.handedHard.vote;
      mustSync = termOrVoteChanged;
      hard = { term: this.term, vote: this.vote, commit: log.committed };
      this.handedHard = hard;
    }
    const ents = log.unstableEntries();
    if (ents.length > 0) {
      const last = ents[ents.length - 1]!;
      this.rdLastIndex = last.index;
      this.rdLastTerm = last.term;
      log.inProgress = last.index;
      mustSync = true;
    } else {
      this.rdLastIndex = 0;
    }
    let snap: Snapshot | null = null;
    if (log.unstableSnapshot !== null && !log.snapshotInProgress) {
      snap = log.unstableSnapshot;
      log.snapshotInProgress = true;
      this.rdSnapshot = true;
      mustSync = true;
    } else {
      this.rdSnapshot = false;
    }
    const compacted = this.compactedWrite;
    this.compactedWrite = null;
    let writes: readonly GroupWrite[] = EMPTY;
    if (hard !== null || ents.length > 0 || snap !== null || compacted !== null) {
      writes = [{ group: this.group, hardState: hard, entries: ents, snapshot: snap, compacted }];
    }
    const committed = log.nextCommitted();
    if (committed.length > 0) log.applying = committed[committed.length - 1]!.index;
    this.rdApplying = log.applying;
    let sendNow = this.msgsNow.length > 0 ? this.msgsNow : EMPTY;
    let sendAfterPersist = this.msgsAfter.length > 0 ? this.msgsAfter : EMPTY;
    if (termOrVoteChanged && sendNow !== EMPTY) {
      // Nothing stamped with a term may leave before that term (and our vote in it) is durable.
      // A multi-voter leader's term is durable before it wins (its vote requests wait for the
      // fsync), but a single voter elects itself within one step: were its appends sent at once,
      // a crash could restart it in the old term, re-elect it in the same term and let it append
      // different entries at the same index and term.
      sendAfterPersist = sendAfterPersist === EMPTY ? sendNow : [...sendNow, ...sendAfterPersist];
      sendNow = EMPTY;
    }
    const readStates = this.readStates.length > 0 ? this.readStates : EMPTY;
    if (this.msgsNow.length > 0) this.msgsNow = [];
    if (this.msgsAfter.length > 0) this.msgsAfter = [];
    if (readStates !== EMPTY) this.readStates = [];
    const rd: Ready<RaftMessage> = { writes, mustSync, sendNow, sendAfterPersist, committed, readStates };
    this.outstanding = rd;
    return rd;
  }

  advance(rd: Ready<RaftMessage>): void {
    if (rd !== this.outstanding) throw new Error('raft: advance() must be given the Ready returned by the last ready()');
    this.outstanding = null;
    const log = this.log;
    if (this.rdSnapshot && log.snapshotInProgress) {
      log.unstableSnapshot = null;
      log.snapshotInProgress = false;
    }
    if (this.rdLastIndex > 0) log.stableTo(this.rdLastIndex, this.rdLastTerm);
    log.inProgress = log.stabled;
    if (log.applied < this.rdApplying) log.applied = this.rdApplying;
    if (this.state === StateType.Leader) {
      const self = this.prMap.get(this.id);
      if (self && self.maybeUpdate(log.stabled) && this.maybeCommit()) this.onLeaderCommit();
    }
  }

  groups(): readonly GroupView[] {
    return [this.view];
  }

  stats(): ProtocolStats {
    return { rejected: { ...this.rejected }, counters: { ...this.counters } };
  }

  /** The newest snapshot this core holds (from compact() or from a leader), or null. */
  latestSnapshot(): Snapshot | null {
    return this.snapshot;
  }

  // ---------------------------------------------------------------- step

  private reject(r: RejectReason): void {
    this.rejected[r] = (this.rejected[r] ?? 0) + 1;
  }

  private stepChecked(m: RaftMessage): void {
    const bad = checkMessage(m, this.limits);
    if (bad !== null) {
      this.reject(bad);
      return;
    }
    const t = m.type;
    if (!this.known.has(m.from) && !this.acceptsFromStranger(m)) {
      this.reject('unknown-sender');
      return;
    }
    // Term-less messages: forwarded proposals and reads.
    if (t === MsgType.Prop) return this.handleForwardedProposals(m);
    if (t === MsgType.ReadIndex) return this.handleForwardedRead(m);
    if (t === MsgType.ReadIndexResp) return this.handleReadIndexResp(m);

    if (m.term > this.term) {
      if (t === MsgType.Vote || t === MsgType.PreVote) {
        const force = m.ctx === CAMPAIGN_TRANSFER;
        const inLease = this.o.checkQuorum && ((this.lead !== NONE && this.electionElapsed < this.o.electionTicks) || this.voteHold > 0);
        if (!force && inLease) {
          // We heard from a leader recently: a disruptive (e.g. rejoining) candidate is ignored.
          this.counters.votesIgnoredInLease++;
          return;
        }
      }
      if (t === MsgType.PreVote || (t === MsgType.PreVoteResp && !m.reject)) {
        // Pre-votes are sent for a future term and change nobody's term.
      } else if (t === MsgType.App || t === MsgType.Heartbeat || t === MsgType.Snap) {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      this.reject('stale-term');
      if ((this.o.checkQuorum || this.o.preVote) && (t === MsgType.App || t === MsgType.Heartbeat)) {
        // Tell a stale leader about the newer term so it steps down instead of lingering.
        this.sendNow(this.msg(MsgType.AppResp, m.from, this.term, 0, 0, false, 0, 0));
      } else if (t === MsgType.PreVote) {
        this.sendNow(this.msg(MsgType.PreVoteResp, m.from, this.term, 0, 0, true, 0, 0));
      }
      return;
    }

    if (t === MsgType.Vote || t === MsgType.PreVote) return this.handleVoteRequest(m);
    switch (this.state) {
      case StateType.Leader:
        return this.stepLeader(m);
      case StateType.Follower:
        return this.stepFollower(m);
      default:
        return this.stepCandidate(m);
    }
  }

  /**
   * Leader and candidate traffic is processed whoever sends it (dissertation §4.1): a lagging
   * replica must follow a leader, and vote for a candidate, that joined after the last
   * configuration it knows. So is everything a replica outside its own configuration receives (a
   * joiner bootstrapped empty). Responses, forwarded requests and TimeoutNow only make sense from
   * known members; peers are authenticated by the transport, not here.
   */
  private acceptsFromStranger(m: RaftMessage): boolean {
    if (!this.selfMember) return true;
    switch (m.type) {
      case MsgType.App:
      case MsgType.Heartbeat:
      case MsgType.Snap:
      case MsgType.Vote:
      case MsgType.PreVote:
        return true;
      case MsgType.TimeoutNow:
        return m.from === this.lead;
      default:
        return false;
    }
  }

  private handleVoteRequest(m: RaftMessage): void {
    const pre = m.type === MsgType.PreVote;
    let canVote = this.vote === m.from || (this.vote === NONE && this.lead === NONE) || (pre && m.term > this.term);
    if (canVote && this.voteHold > 0 && this.vote !== m.from && m.ctx !== CAMPAIGN_TRANSFER) {
      // Lease mode: this replica may have confirmed a leader's lease within electionTicks. Reaching
      // the candidate's term by some other message (a late answer carrying a newer term, say) does
      // not release that promise.
      this.counters.votesRefusedInLease++;
      canVote = false;
    }
    // BUG (injected): grant a vote even if this replica already voted for someone else this term.
    if (!pre && this.bugVoteTwice) canVote = true;
    const log = this.log;
    const lastTerm = log.lastTerm();
    const upToDate = m.logTerm > lastTerm || (m.logTerm === lastTerm && m.index >= log.lastIndex());
    if (canVote && upToDate) {
      if (pre) {
        this.sendNow(this.msg(MsgType.PreVoteResp, m.from, m.term, 0, 0, false, 0, 0));
      } else {
        this.electionElapsed = 0;
        this.vote = m.from;
        this.counters.votesGranted++;
        this.sendAfter(this.msg(MsgType.VoteResp, m.from, this.term, 0, 0, false, 0, 0));
      }
    } else if (pre) {
      this.sendNow(this.msg(MsgType.PreVoteResp, m.from, this.term, 0, 0, true, 0, 0));
    } else {
      this.sendAfter(this.msg(MsgType.VoteResp, m.from, this.term, 0, 0, true, 0, 0));
    }
  }

  private stepLeader(m: RaftMessage): void {
    const pr = this.prMap.get(m.from);
    switch (m.type) {
      case MsgType.AppResp:
        if (pr) this.handleAppendResponse(m, pr);
        else this.counters.ignoredLate++;
        return;
      case MsgType.HeartbeatResp:
        if (pr) this.handleHeartbeatResponse(m, pr);
        else this.counters.ignoredLate++;
        return;
      case MsgType.SnapResp:
        if (pr) this.handleSnapshotResponse(m, pr);
        else this.counters.ignoredLate++;
        return;
      case MsgType.VoteResp:
      case MsgType.PreVoteResp:
        this.counters.ignoredLate++;
        return;
      default:
        // Another leader's traffic in our own term, or TimeoutNow to a leader.
        this.reject('unexpected');
    }
  }

  private stepCandidate(m: RaftMessage): void {
    switch (m.type) {
      case MsgType.App:
        this.becomeFollower(m.term, m.from);
        return this.handleAppend(m);
      case MsgType.Heartbeat:
        this.becomeFollower(m.term, m.from);
        return this.handleHeartbeat(m);
      case MsgType.Snap:
        this.becomeFollower(m.term, m.from);
        return this.handleSnapshotChunk(m);
      case MsgType.PreVoteResp:
      case MsgType.VoteResp: {
        const mine = this.state === StateType.PreCandidate ? MsgType.PreVoteResp : MsgType.VoteResp;
        if (m.type !== mine || !this.voterIds.includes(m.from) || this.votes.has(m.from)) {
          this.counters.ignoredLate++;
          return;
        }
        this.votes.set(m.from, !m.reject);
        const r = this.tally();
        if (r > 0) {
          if (this.state === StateType.PreCandidate) this.startElection(false);
          else this.becomeLeader();
        } else if (r < 0) {
          this.becomeFollower(this.term, NONE);
        }
        return;
      }
      case MsgType.TimeoutNow:
        this.counters.ignoredLate++;
        return;
      default:
        this.counters.ignoredLate++;
    }
  }

  private stepFollower(m: RaftMessage): void {
    switch (m.type) {
      case MsgType.App:
        this.electionElapsed = 0;
        this.setLead(m.from);
        return this.handleAppend(m);
      case MsgType.Heartbeat:
        this.electionElapsed = 0;
        this.setLead(m.from);
        return this.handleHeartbeat(m);
      case MsgType.Snap:
        this.electionElapsed = 0;
        this.setLead(m.from);
        return this.handleSnapshotChunk(m);
      case MsgType.TimeoutNow:
        if (!this.canCampaign()) {
          this.reject('unexpected');
          return;
        }
        this.hup(true);
        return;
      default:
        this.counters.ignoredLate++;
    }
  }

  // ---------------------------------------------------------------- follower side of replication

  private handleAppend(m: RaftMessage): void {
    if (this.leaseTicks > 0) this.voteHold = this.o.electionTicks;
    const log = this.log;
    if (m.index < log.committed) {
      this.sendAfter(this.msg(MsgType.AppResp, m.from, this.term, log.committed, 0, false, 0, 0));
      return;
    }
    if (log.matchTerm(m.index, m.logTerm)) {
      if (!this.appendFromLeader(m.entries)) {
        // The leader asks us to overwrite a committed entry: impossible for a correct leader.
        this.reject('unexpected');
        return;
      }
      const lastNew = m.index + m.entries.length;
      log.commitTo(m.commit < lastNew ? m.commit : lastNew);
      this.sendAfter(this.msg(MsgType.AppResp, m.from, this.term, lastNew, 0, false, 0, 0));
      return;
    }
    // Fast backtracking: point the leader at the last index whose term could still match.
    let hintIndex = Math.min(m.index, log.lastIndex());
    hintIndex = log.findConflictByTerm(hintIndex, m.logTerm);
    const hintTerm = log.term(hintIndex) ?? 0;
    this.counters.appendRejects++;
    this.sendAfter(this.msg(MsgType.AppResp, m.from, this.term, m.index, hintTerm, true, hintIndex, 0));
  }

  /** Appends entries that follow a matching prefix; false if that would overwrite a committed entry. */
  private appendFromLeader(ents: readonly Entry[]): boolean {
    const log = this.log;
    const n = ents.length;
    let i = 0;
    const last = log.lastIndex();
    if (n > 0 && ents[0]!.index <= last) {
      for (; i < n; i++) {
        const e = ents[i]!;
        if (e.index > last) break;
        if (log.term(e.index) !== e.term) {
          if (e.index <= log.committed) return false;
          this.truncateFrom(e.index);
          break;
        }
      }
    }
    for (; i < n; i++) {
      const e = ents[i]!;
      log.append(e);
      if (e.type === EntryType.Config) this.onConfigAppended(e);
    }
    return true;
  }

  private truncateFrom(i: number): void {
    this.log.truncateFrom(i);
    let changed = false;
    while (this.configs.length > 0 && this.configs[this.configs.length - 1]!.index >= i) {
      this.configs.pop();
      changed = true;
    }
    if (changed) this.setMembership(this.configs.length > 0 ? this.configs[this.configs.length - 1]!.membership : this.baseMembership);
  }

  private handleHeartbeat(m: RaftMessage): void {
    if (this.leaseTicks > 0) this.voteHold = this.o.electionTicks;
    // The leader sends min(our match, its commit), so this never commits an unverified entry.
    if (m.commit <= this.log.lastIndex()) this.log.commitTo(m.commit);
    this.sendNow(this.msg(MsgType.HeartbeatResp, m.from, this.term, 0, 0, false, 0, m.ctx));
  }

  private handleSnapshotChunk(m: RaftMessage): void {
    if (this.leaseTicks > 0) this.voteHold = this.o.electionTicks;
    const c = m.snapshot!;
    const meta = c.meta;
    const log = this.log;
    if (meta.index <= log.committed) {
      this.incoming = null;
      this.sendAfter(this.msg(MsgType.AppResp, m.from, this.term, log.committed, 0, false, 0, 0));
      return;
    }
    let inc = this.incoming;
    if (inc === null || inc.meta.index !== meta.index || inc.meta.term !== meta.term || inc.buf.length !== c.total) {
      if (c.offset !== 0) {
        this.sendNow(this.msg(MsgType.SnapResp, m.from, this.term, meta.index, meta.term, true, 0, 0));
        return;
      }
      inc = { from: m.from, meta, buf: new Uint8Array(c.total), received: 0 };
      this.incoming = inc;
    }
    if (c.offset !== inc.received) {
      // A gap (resend from what we hold) or a duplicate (just restate what we hold).
      this.sendNow(this.msg(MsgType.SnapResp, m.from, this.term, meta.index, meta.term, c.offset > inc.received, inc.received, 0));
      return;
    }
    inc.buf.set(c.data, c.offset);
    inc.received += c.data.length;
    if (inc.received < inc.buf.length) {
      this.sendNow(this.msg(MsgType.SnapResp, m.from, this.term, meta.index, meta.term, false, inc.received, 0));
      return;
    }
    this.incoming = null;
    const snap: Snapshot = { meta: inc.meta, data: inc.buf };
    if (log.matchTerm(meta.index, meta.term)) {
      // We already hold the entry the snapshot ends with: keep the log, just commit up to it.
      log.commitTo(meta.index);
      this.sendAfter(this.msg(MsgType.AppResp, m.from, this.term, log.committed, 0, false, 0, 0));
      return;
    }
    log.restore(snap);
    this.snapshot = snap;
    // A compaction snapshot not yet handed out is older than this one: it must not be persisted
    // after it (the host would go back to an older snapshot with a newer commit index).
    this.compactedWrite = null;
    this.baseMembership = meta.membership;
    this.configs = [];
    this.setMembership(meta.membership);
    this.counters.snapshotsInstalled++;
    this.sendAfter(this.msg(MsgType.AppResp, m.from, this.term, log.lastIndex(), 0, false, 0, 0));
  }

  // ---------------------------------------------------------------- leader side of replication

  private handleAppendResponse(m: RaftMessage, pr: Progress): void {
    pr.recentActive = true;
    if (m.reject) {
      let nextProbe = m.hint;
      if (m.logTerm > 0) nextProbe = this.log.findConflictByTerm(m.hint, m.logTerm);
      if (pr.maybeDecrTo(m.index, nextProbe)) {
        if (pr.state === ProgressState.Replicate) pr.becomeProbe();
        this.needAppendScan = true;
      } else {
        // Stale (duplicated, reordered, or from a follower that lost acknowledged entries, which
        // only a host breaking the persistence contract can cause): answering it with the same
        // append again would ping-pong without end.
        this.counters.staleAppendRejects++;
      }
      return;
    }
    if (m.index > this.log.lastIndex()) {
      this.reject('unexpected');
      return;
    }
    if (!pr.maybeUpdate(m.index)) return;
    switch (pr.state) {
      case ProgressState.Probe:
        pr.becomeReplicate();
        break;
      case ProgressState.Snapshot:
        if (pr.match >= pr.pendingSnapshot) pr.becomeProbe();
        break;
      default:
        pr.inflight.freeLE(m.index);
    }
    if (this.maybeCommit()) this.onLeaderCommit();
    this.needAppendScan = true;
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex() && this.state === StateType.Leader) {
      this.sendTimeoutNow(m.from);
    }
  }

  private handleHeartbeatResponse(m: RaftMessage, pr: Progress): void {
    pr.recentActive = true;
    pr.probeSent = false;
    if (pr.state === ProgressState.Replicate && pr.inflight.full()) pr.inflight.freeFirstOne();
    if (pr.state !== ProgressState.Snapshot && pr.match < this.log.lastIndex()) {
      // Possibly empty: lets a follower that lost our appends reject and show where it stands.
      this.sendAppend(pr, true);
    }
    if (m.ctx > 0 && m.ctx <= this.readSeqSent && m.ctx > pr.readAck) {
      pr.readAck = m.ctx;
      if (this.pendingHead < this.pendingReads.length) this.releaseConfirmedReads();
    }
  }

  private handleSnapshotResponse(m: RaftMessage, pr: Progress): void {
    pr.recentActive = true;
    const s = pr.snap;
    if (pr.state !== ProgressState.Snapshot || s === null || m.index !== s.meta.index || m.logTerm !== s.meta.term) {
      this.counters.ignoredLate++;
      return;
    }
    const got = Math.min(m.hint, s.data.length);
    if (got > pr.snapAcked) {
      pr.snapAcked = got;
      pr.snapStallBeats = 0;
    }
    if (m.reject) {
      pr.snapAcked = got;
      pr.snapSent = got;
      pr.snapFinalSent = false;
    }
    this.needAppendScan = true;
  }

  /** Sends one AppendEntries (or starts a snapshot); false if nothing was sent. */
  private sendAppend(pr: Progress, allowEmpty: boolean): boolean {
    if (pr.paused()) return false;
    const log = this.log;
    const prev = pr.next - 1;
    const prevTerm = log.term(prev);
    if (prevTerm === undefined) {
      this.startSnapshot(pr);
      return false;
    }
    const ents = log.ents;
    const off = pr.next - log.base - 1;
    const avail = ents.length - off;
    const maxN = avail < this.o.maxEntriesPerMsg ? avail : this.o.maxEntriesPerMsg;
    const maxBytes = this.o.maxBytesPerMsg;
    let n = 0;
    let bytes = 0;
    while (n < maxN) {
      const sz = ents[off + n]!.data.length;
      if (n > 0 && bytes + sz > maxBytes) break;
      bytes += sz;
      n++;
    }
    if (n === 0 && !allowEmpty) return false;
    const batch = n > 0 ? ents.slice(off, off + n) : EMPTY_ENTRIES;
    const commit = log.committed;
    this.sendNow(makeMessage(MsgType.App, this.group, this.id, pr.id, this.term, prev, prevTerm, commit, batch, false, 0, 0, null));
    pr.sentCommit = commit;
    if (pr.state === ProgressState.Replicate) {
      if (n > 0) {
        pr.next = prev + n + 1;
        pr.inflight.add(prev + n, bytes);
      }
    } else {
      pr.probeSent = true;
    }
    return true;
  }

  private startSnapshot(pr: Progress): void {
    const s = this.snapshot;
    if (s === null || pr.state === ProgressState.Snapshot) return;
    pr.becomeSnapshot(s);
    this.counters.snapshotsSent++;
    this.sendSnapshotChunks(pr);
  }

  private sendSnapshotChunks(pr: Progress): void {
    const s = pr.snap;
    if (s === null) return;
    const total = s.data.length;
    const chunk = this.o.snapshotChunkBytes;
    const window = chunk * this.o.snapshotChunksInFlight;
    while (!pr.snapFinalSent && pr.snapSent - pr.snapAcked < window) {
      const off = pr.snapSent;
      const end = Math.min(total, off + chunk);
      const c: SnapshotChunk = { meta: s.meta, offset: off, total, data: s.data.subarray(off, end) };
      this.sendNow(
        makeMessage(MsgType.Snap, this.group, this.id, pr.id, this.term, s.meta.index, s.meta.term, this.log.committed, EMPTY_ENTRIES, false, 0, 0, c),
      );
      this.counters.snapshotChunksSent++;
      pr.snapSent = end;
      if (end >= total) pr.snapFinalSent = true;
    }
  }

  /** Generates the messages that were deferred to batch them: appends, commit updates, read rounds. */
  private flushSends(): void {
    if (this.pendingForward.length > 0) this.flushForwardedProposals();
    if (this.state !== StateType.Leader) return;
    if (this.needAppendScan || this.needCommitBcast) {
      const last = this.log.lastIndex();
      const commit = this.log.committed;
      const prs = this.prs;
      for (let i = 0; i < prs.length; i++) {
        const pr = prs[i]!;
        if (pr.id === this.id) continue;
        if (pr.state === ProgressState.Snapshot) {
          this.sendSnapshotChunks(pr);
          continue;
        }
        let sent = false;
        while (pr.next <= last && this.sendAppend(pr, false)) sent = true;
        if (!sent && this.needCommitBcast && pr.sentCommit < commit && pr.match > 0) this.sendAppend(pr, true);
      }
      this.needAppendScan = false;
      this.needCommitBcast = false;
    }
    if (this.readBcastNeeded) {
      this.readBcastNeeded = false;
      this.readSeqSent = this.readSeqNext++;
      this.bcastHeartbeat(this.readSeqSent);
    }
  }

  private flushForwardedProposals(): void {
    const batch = this.pendingForward;
    this.pendingForward = [];
    if (this.state === StateType.Leader) {
      // Became leader since proposing: append them ourselves.
      for (const e of batch) {
        if (this.leadTransferee !== NONE || !this.admitUncommitted(e.data.length)) this.counters.proposalsDropped++;
        else this.appendEntry(EntryType.Normal, e.data);
      }
      return;
    }
    if (this.lead === NONE) {
      this.counters.proposalsDropped += batch.length;
      return;
    }
    this.counters.proposalsForwarded += batch.length;
    this.sendNow(makeMessage(MsgType.Prop, this.group, this.id, this.lead, 0, 0, 0, 0, batch, false, 0, 0, null));
  }

  private handleForwardedProposals(m: RaftMessage): void {
    if (this.state !== StateType.Leader) {
      this.counters.proposalsDropped += m.entries.length;
      return;
    }
    for (const e of m.entries) {
      if (this.leadTransferee !== NONE || !this.admitUncommitted(e.data.length)) this.counters.proposalsDropped++;
      else this.appendEntry(EntryType.Normal, e.data);
    }
  }

  private admitUncommitted(bytes: number): boolean {
    const max = this.o.maxUncommittedBytes;
    return max === 0 || this.uncommittedBytes === 0 || this.uncommittedBytes + bytes <= max;
  }

  private appendEntry(type: EntryType, data: Uint8Array): Entry {
    const e: Entry = { index: this.log.lastIndex() + 1, term: this.term, type, data };
    this.log.append(e);
    this.uncommittedBytes += data.length;
    if (type === EntryType.Config) this.onConfigAppended(e);
    this.needAppendScan = true;
    return e;
  }

  private maybeCommit(): boolean {
    const log = this.log;
    // BUG (injected): a quorum of one, i.e. commit what the most advanced replica holds.
    const mci = this.bugCommitWithoutQuorum ? this.kthLargestMatch(1) : this.kthLargestMatch(quorum(this.voterIds.length));
    if (mci > log.committed && log.term(mci) === this.term) {
      if (this.uncommittedBytes > 0) {
        for (let i = log.committed + 1; i <= mci; i++) this.uncommittedBytes -= log.entry(i)!.data.length;
        if (this.uncommittedBytes < 0) this.uncommittedBytes = 0;
      }
      log.committed = mci;
      return true;
    }
    return false;
  }

  private kthLargestMatch(k: number): number {
    const v = this.voterIds;
    const n = v.length;
    if (n === 0 || k > n) return 0;
    const a = this.scratch;
    for (let i = 0; i < n; i++) {
      const pr = this.prMap.get(v[i]!);
      const x = pr ? pr.match : 0;
      let j = i;
      while (j > 0 && a[j - 1]! < x) {
        a[j] = a[j - 1]!;
        j--;
      }
      a[j] = x;
    }
    return a[k - 1]!;
  }

  private onLeaderCommit(): void {
    this.needCommitBcast = true;
    if (this.queuedReads.length > 0 && this.log.term(this.log.committed) === this.term) {
      const q = this.queuedReads;
      this.queuedReads = [];
      for (const r of q) this.handleReadRequest(r.ctx, r.from);
    }
    if (!this.selfVoter && this.lastConfigIndex() <= this.log.committed) this.stepDownAfterRemoval();
  }

  private stepDownAfterRemoval(): void {
    // Hand over to the most up-to-date voter so the group need not wait for an election timeout.
    let best: Progress | null = null;
    for (const pr of this.prs) {
      if (pr.id !== this.id && !pr.isLearner && (best === null || pr.match > best.match)) best = pr;
    }
    if (best !== null && best.match === this.log.lastIndex()) this.sendTimeoutNow(best.id);
    this.counters.leaderRemovedStepDowns++;
    this.becomeFollower(this.term, NONE);
  }

  private sendTimeoutNow(to: NodeId): void {
    // The target campaigns at once and voters ignore their promises for it (CAMPAIGN_TRANSFER), so
    // no lease of this term is safe any more, even if the transfer is aborted: TimeoutNow may arrive late.
    this.leaseRevoked = true;
    this.counters.timeoutNowSent++;
    this.sendNow(this.msg(MsgType.TimeoutNow, to, this.term, 0, 0, false, 0, 0));
  }

  private bcastHeartbeat(ctx: number): void {
    const commit = this.log.committed;
    for (const pr of this.prs) {
      if (pr.id === this.id) continue;
      const c = pr.match < commit ? pr.match : commit;
      this.sendNow(makeMessage(MsgType.Heartbeat, this.group, this.id, pr.id, this.term, 0, 0, c, EMPTY_ENTRIES, false, 0, ctx, null));
    }
  }

  // ---------------------------------------------------------------- reads

  private handleReadRequest(ctx: number, from: NodeId): void {
    const log = this.log;
    if (log.term(log.committed) !== this.term) {
      // A new leader does not know the latest commit index until an entry of its term commits.
      this.queuedReads.push({ ctx, from });
      return;
    }
    if (this.voterIds.length === 1 && this.selfVoter) {
      this.answerRead(ctx, from, log.committed);
      return;
    }
    if (this.leaseTicks > 0) {
      // BUG (injected): the lease as it was before it was anchored at acknowledged rounds: it lasts
      // for as long as this replica is leader, i.e. until check-quorum deposes it.
      if (this.bugLeaseUntilStepDown || this.leaseHeld()) {
        this.counters.leaseReadsServed++;
        this.answerRead(ctx, from, log.committed);
        return;
      }
      // Lease expired (or revoked): confirm with a heartbeat round, which also renews the lease.
      this.counters.leaseReadsFallback++;
    }
    this.pendingReads.push({ ctx, from, index: log.committed, seq: this.readSeqNext });
    this.readBcastNeeded = true;
  }

  /**
   * Whether a quorum of voters acknowledged a heartbeat round sent within the last leaseTicks leader
   * ticks (this tick included). Only acknowledgements extend it; see leaseTicks in options.ts.
   */
  private leaseHeld(): boolean {
    if (this.leaseRevoked) return false;
    const n = this.leaseTicks;
    const oldest = this.leaderTicks - n + 1;
    const firstSeq = oldest <= 0 ? 1 : this.leaseRing[oldest % n]!;
    return this.quorumAckedSeq() >= firstSeq;
  }

  /** The highest read-round sequence number acknowledged by a quorum of voters (the leader by sending it). */
  private quorumAckedSeq(): number {
    const v = this.voterIds;
    const n = v.length;
    const a = this.scratch;
    for (let i = 0; i < n; i++) {
      const id = v[i]!;
      const pr = this.prMap.get(id);
      const x = id === this.id ? this.readSeqSent : pr ? pr.readAck : 0;
      let j = i;
      while (j > 0 && a[j - 1]! < x) {
        a[j] = a[j - 1]!;
        j--;
      }
      a[j] = x;
    }
    return n > 0 ? a[quorum(n) - 1]! : 0;
  }

  private releaseConfirmedReads(): void {
    const confirmed = this.quorumAckedSeq();
    const q = this.pendingReads;
    while (this.pendingHead < q.length && q[this.pendingHead]!.seq <= confirmed) {
      const r = q[this.pendingHead++]!;
      this.answerRead(r.ctx, r.from, r.index);
    }
    if (this.pendingHead === q.length) {
      q.length = 0;
      this.pendingHead = 0;
    }
  }

  private answerRead(ctx: number, from: NodeId, index: number): void {
    if (from === this.id) this.readStates.push({ ctx, index });
    else this.sendNow(makeMessage(MsgType.ReadIndexResp, this.group, this.id, from, 0, index, 0, 0, EMPTY_ENTRIES, false, 0, ctx, null));
  }

  private failRead(ctx: number, from: NodeId): void {
    this.counters.readsDropped++;
    if (from === this.id) this.readStates.push({ ctx, error: 'dropped', leader: this.lead });
    else this.sendNow(makeMessage(MsgType.ReadIndexResp, this.group, this.id, from, 0, 0, 0, 0, EMPTY_ENTRIES, true, this.lead, ctx, null));
  }

  private handleForwardedRead(m: RaftMessage): void {
    if (this.state === StateType.Leader) this.handleReadRequest(m.ctx, m.from);
    else this.sendNow(makeMessage(MsgType.ReadIndexResp, this.group, this.id, m.from, 0, 0, 0, 0, EMPTY_ENTRIES, true, this.lead, m.ctx, null));
  }

  private handleReadIndexResp(m: RaftMessage): void {
    if (!this.forwardedReads.delete(m.ctx)) {
      this.counters.staleReadResponses++;
      return;
    }
    if (m.reject) this.readStates.push({ ctx: m.ctx, error: 'not-leader', leader: m.hint });
    else this.readStates.push({ ctx: m.ctx, index: m.index });
  }

  private dropLeaderReads(): void {
    for (const r of this.queuedReads) this.failRead(r.ctx, r.from);
    this.queuedReads = [];
    for (let i = this.pendingHead; i < this.pendingReads.length; i++) {
      const r = this.pendingReads[i]!;
      this.failRead(r.ctx, r.from);
    }
    this.pendingReads = [];
    this.pendingHead = 0;
    this.readBcastNeeded = false;
  }

  private dropForwardedReads(): void {
    for (const ctx of this.forwardedReads) {
      this.counters.readsDropped++;
      this.readStates.push({ ctx, error: 'dropped', leader: NONE });
    }
    this.forwardedReads.clear();
  }

  // ---------------------------------------------------------------- elections and roles

  private tickElection(): void {
    this.electionElapsed++;
    if (this.electionElapsed >= this.randomizedElectionTimeout && this.canCampaign()) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private tickLeader(): void {
    this.leaderTicks++;
    if (this.leaseTicks > 0) this.leaseRing[this.leaderTicks % this.leaseTicks] = this.readSeqNext;
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.o.electionTicks) {
      this.electionElapsed = 0;
      if (this.o.checkQuorum && !this.quorumActive()) {
        this.counters.checkQuorumStepDowns++;
        this.becomeFollower(this.term, NONE);
        return;
      }
      if (this.leadTransferee !== NONE) {
        this.counters.transfersAborted++;
        this.leadTransferee = NONE;
      }
    }
    if (this.heartbeatElapsed >= this.o.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      // Every heartbeat is a new confirmation round: it renews the lease and confirms pending reads.
      this.readBcastNeeded = false;
      this.readSeqSent = this.readSeqNext++;
      this.bcastHeartbeat(this.readSeqSent);
      this.checkSnapshotStalls();
    }
  }

  private checkSnapshotStalls(): void {
    const limit = Math.max(2, Math.ceil(this.o.electionTicks / this.o.heartbeatTicks));
    for (const pr of this.prs) {
      if (pr.state !== ProgressState.Snapshot) continue;
      if (++pr.snapStallBeats < limit) continue;
      // Chunks (or the follower's acks) were lost: resend from what it confirmed.
      pr.snapStallBeats = 0;
      pr.snapSent = pr.snapAcked;
      pr.snapFinalSent = false;
      this.counters.snapshotResends++;
      this.needAppendScan = true;
    }
  }

  /** Whether a quorum was heard from since the last check; resets the marks. */
  private quorumActive(): boolean {
    let active = 0;
    for (const id of this.voterIds) {
      if (id === this.id) {
        active++;
        continue;
      }
      const pr = this.prMap.get(id);
      if (pr && pr.recentActive) active++;
    }
    for (const pr of this.prs) if (pr.id !== this.id) pr.recentActive = false;
    return active >= quorum(this.voterIds.length);
  }

  /**
   * A voter of the latest configuration may campaign, and so may a voter of the latest committed
   * one: an uncommitted entry that removes or demotes this replica may leave it the only one with
   * the newest log, which the others cannot out-vote. It then campaigns with the latest
   * configuration's quorum, in which its own vote does not count (see docs/raft.md).
   */
  private canCampaign(): boolean {
    if (this.selfVoter) return true;
    const last = this.lastConfigIndex();
    if (last === 0 || last <= this.log.committed) return false;
    return this.membershipAt(this.log.committed).voters.includes(this.id);
  }

  private hup(transfer: boolean): void {
    if (this.state === StateType.Leader || !this.canCampaign()) return;
    if (this.o.preVote && !transfer) this.startPreVote();
    else this.startElection(transfer);
  }

  private startPreVote(): void {
    this.state = StateType.PreCandidate;
    this.setLead(NONE);
    this.resetElectionState();
    this.counters.preVoteCampaigns++;
    this.votes.set(this.id, true);
    if (this.tally() > 0) return this.startElection(false);
    const log = this.log;
    for (const v of this.voterIds) {
      if (v === this.id) continue;
      this.sendNow(this.msg(MsgType.PreVote, v, this.term + 1, log.lastIndex(), log.lastTerm(), false, 0, 0));
    }
  }

  private startElection(transfer: boolean): void {
    this.state = StateType.Candidate;
    this.term++;
    this.vote = this.id;
    this.setLead(NONE);
    this.resetElectionState();
    this.counters.elections++;
    this.votes.set(this.id, true);
    if (this.tally() > 0) return this.becomeLeader();
    const log = this.log;
    const ctx = transfer ? CAMPAIGN_TRANSFER : 0;
    for (const v of this.voterIds) {
      if (v === this.id) continue;
      // After persist: the request asserts our durable self-vote in this term.
      this.sendAfter(this.msg(MsgType.Vote, v, this.term, log.lastIndex(), log.lastTerm(), false, 0, ctx));
    }
  }

  /** 1 won, -1 lost, 0 undecided. */
  private tally(): number {
    let granted = 0;
    let rejected = 0;
    for (const v of this.voterIds) {
      const r = this.votes.get(v);
      if (r === true) granted++;
      else if (r === false) rejected++;
    }
    const q = quorum(this.voterIds.length);
    if (granted >= q) return 1;
    if (rejected > this.voterIds.length - q) return -1;
    return 0;
  }

  private resetElectionState(): void {
    this.votes.clear();
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.leadTransferee = NONE;
    this.resetRandomizedElectionTimeout();
  }

  private resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.o.electionTicks + (this.rng.nextU32() % this.o.electionTicks);
  }

  private setLead(lead: NodeId): void {
    if (lead !== this.lead && this.forwardedReads.size > 0) this.dropForwardedReads();
    this.lead = lead;
  }

  private becomeFollower(term: number, lead: NodeId): void {
    const wasLeader = this.state === StateType.Leader;
    this.state = StateType.Follower;
    if (term !== this.term) {
      this.term = term;
      this.vote = NONE;
      this.incoming = null;
    }
    this.setLead(lead);
    this.resetElectionState();
    if (wasLeader) this.dropLeaderReads();
  }

  private becomeLeader(): void {
    this.state = StateType.Leader;
    this.setLead(this.id);
    this.resetElectionState();
    this.uncommittedBytes = 0;
    this.readSeqNext = 1;
    this.readSeqSent = 0;
    this.readBcastNeeded = false;
    this.leaderTicks = 0;
    this.leaseRevoked = false;
    if (this.leaseTicks > 0) this.leaseRing[0] = this.readSeqNext;
    this.counters.leaderElected++;
    const last = this.log.lastIndex();
    this.prs = [];
    this.prMap.clear();
    this.reconcileProgress();
    for (const pr of this.prs) pr.resetForLeader(last);
    const self = this.prMap.get(this.id);
    if (self) {
      self.match = this.log.stabled;
      self.next = last + 1;
      self.state = ProgressState.Replicate;
    }
    this.appendEntry(EntryType.Noop, EMPTY_DATA);
  }

  // ---------------------------------------------------------------- membership

  private onConfigAppended(e: Entry): void {
    const m = decodeMembership(e.data);
    this.configs.push({ index: e.index, membership: m });
    this.setMembership(m);
  }

  private setMembership(m: Membership): void {
    this.membership = m;
    this.voterIds = m.voters.slice();
    this.selfVoter = m.voters.includes(this.id);
    this.selfMember = this.selfVoter || m.learners.includes(this.id);
    if (this.scratch.length < this.voterIds.length) this.scratch = new Array<number>(this.voterIds.length).fill(0);
    this.rebuildKnown();
    if (this.state === StateType.Leader) {
      this.reconcileProgress();
      if (this.leadTransferee !== NONE && !this.voterIds.includes(this.leadTransferee)) this.leadTransferee = NONE;
    }
  }

  private rebuildKnown(): void {
    const k = this.known;
    k.clear();
    const add = (m: Membership) => {
      for (const v of m.voters) k.add(v);
      for (const v of m.learners) k.add(v);
    };
    add(this.baseMembership);
    for (const c of this.configs) add(c.membership);
    add(this.membership);
  }

  /** Leader: one Progress per member (voters and learners), keeping existing ones. */
  private reconcileProgress(): void {
    const m = this.membership;
    const ids = [...m.voters, ...m.learners];
    const next: Progress[] = [];
    const last = this.log.lastIndex();
    const keep = new Set(ids);
    for (const id of [...this.prMap.keys()]) if (!keep.has(id)) this.prMap.delete(id);
    for (const id of ids) {
      let pr = this.prMap.get(id);
      if (!pr) {
        pr = new Progress(id, this.o.maxInflightMsgs, this.o.maxInflightBytes);
        pr.resetForLeader(last);
        if (id === this.id) {
          pr.match = this.log.stabled;
          pr.state = ProgressState.Replicate;
        }
        this.prMap.set(id, pr);
      }
      pr.isLearner = m.learners.includes(id);
      next.push(pr);
    }
    this.prs = next;
    this.needAppendScan = true;
  }

  private lastConfigIndex(): number {
    return this.configs.length > 0 ? this.configs[this.configs.length - 1]!.index : 0;
  }

  private membershipAt(index: number): Membership {
    for (let i = this.configs.length - 1; i >= 0; i--) {
      const c = this.configs[i]!;
      if (c.index <= index) return c.membership;
    }
    return this.baseMembership;
  }

  // ---------------------------------------------------------------- helpers

  private hardStateChanged(): boolean {
    const h = this.handedHard;
    return this.term !== h.term || this.vote !== h.vote || this.log.committed !== h.commit;
  }

  private msg(type: MsgType, to: NodeId, term: number, index: number, logTerm: number, reject: boolean, hint: number, ctx: number): RaftMessage {
    return makeMessage(type, this.group, this.id, to, term, index, logTerm, 0, EMPTY_ENTRIES, reject, hint, ctx, null);
  }

  private sendNow(m: RaftMessage): void {
    this.msgsNow.push(m);
  }

  private sendAfter(m: RaftMessage): void {
    this.msgsAfter.push(m);
  }

  private role(): Role {
    switch (this.state) {
      case StateType.Leader:
        return 'leader';
      case StateType.Candidate:
        return 'candidate';
      case StateType.PreCandidate:
        return 'precandidate';
      default:
        return this.membership.learners.includes(this.id) ? 'learner' : 'follower';
    }
  }

  private makeView(): GroupView {
    const self = this;
    const log = this.log;
    return {
      get group() {
        return self.group;
      },
      get role() {
        return self.role();
      },
      get term() {
        return self.term;
      },
      get leader() {
        return self.lead;
      },
      get vote() {
        return self.vote;
      },
      get commit() {
        return log.committed;
      },
      get membership() {
        return self.membership;
      },
      get firstIndex() {
        return log.base + 1;
      },
      get lastIndex() {
        return log.lastIndex();
      },
      termAt(index: number) {
        return log.term(index);
      },
      entryAt(index: number) {
        return log.entry(index);
      },
    };
  }
}
