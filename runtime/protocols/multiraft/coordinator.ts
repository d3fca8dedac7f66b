// The multi-Raft coordinator: everything Niagara's sequencer decides besides the merge itself, over
// R instances it reaches only through an InstancePort. Pure and deterministic like the rest of this
// directory.
//
// Two hosts drive the same object:
//   - MultiRaftCore (core.ts) hands it a port over R RaftCores in the same object graph; the
//     simulator runs that;
//   - the replica's sequencer actor (runtime/replica/multiraft-sequencer.ts) hands it a port whose
//     calls become messages to the raft/<g> actors and whose views are what those actors last
//     reported.
// So the progress rules, control records, replica-set convergence, leader spreading, the read
// condition and the compaction mapping that the simulator checks are the code the replicas run.
//
// What it owns: the Sequencer (merge state, checkpoints), the SkipPacer, strongly consistent reads
// waiting for p_global, and the bookkeeping of its periodic rules (in ticks).
import { EntryType, NONE } from '../api.js';
import type { Entry, Membership, MembershipChange, NodeId, ProposeResult, ReadState, Role } from '../api.js';
import { applyChange } from '../raft/membership.js';
import type { ResolvedOptions } from './options.js';
import { SkipPacer, noopPlan } from './progress.js';
import type { SkipPacerState } from './progress.js';
import { encodeRecord, encodeSkip, isRecord, MAX_SKIP } from './records.js';
import type { ControlRecord } from './records.js';
import { Sequencer } from './sequencer.js';
import type { AwaitedRecord, SequencerExport, SequencerListener } from './sequencer.js';
import { unwrapSnapshot, wrapSnapshot } from './snapshot-format.js';
import { GroupMode, initialState } from './state.js';
import type { MergeState } from './state.js';

const EMPTY_DATA = new Uint8Array(0);

/** What the coordinator needs to know about one instance on this replica. */
export interface InstanceInfo {
  readonly role: Role;
  readonly leader: NodeId;
  readonly term: number;
  /**
   * Leader with an entry of its own term committed. Only then is its term surely durable (a
   * single-voter group elects itself in the Ready that raises its term, and entries proposed before
   * that Ready is on disk could be re-proposed differently at the same index and term after a
   * crash); it is also when Raft starts serving reads. Only such a leader takes proposals.
   */
  readonly established: boolean;
  readonly lastIndex: number;
  readonly commit: number;
  readonly membership: Membership;
}

/**
 * How the coordinator reaches the instances of this replica. Calls that propose return whether the
 * proposal was made (a synchronous host) or sent (an asynchronous host, which may still see the
 * instance refuse it; the rules that use the answer only count or retry).
 */
export interface InstancePort {
  info(group: number): InstanceInfo;
  /** Leader only: append one Noop or Skip entry. */
  proposeEntry(group: number, type: EntryType, data: Uint8Array): boolean;
  /** Leader only: append up to `count` empty Noop entries; returns how many. */
  proposeNoops(group: number, count: number): number;
  /** An empty command through Raft's forwarding to the instance's leader (a read nudge). */
  proposeForwarded(group: number, data: Uint8Array): boolean;
  /** Leader only: propose `rec` unless the log already holds it at or after index `from`. */
  proposeRecordUnlessHeld(group: number, rec: AwaitedRecord, from: number): boolean;
  /** Leader only: propose the next single-server step towards `target` (see convergeStep). */
  convergeMembership(group: number, target: Membership, votersSomewhere: readonly NodeId[]): boolean;
  transferLeadership(group: number, to: NodeId): boolean;
  readIndex(group: number, ctx: number): void;
  compact(group: number, index: number, data: Uint8Array): void;
}

export interface CoordinatorHost {
  /** An instance must exist from now on (created by a change of R or named by a restored state). */
  instanceNeeded(group: number, bootstrap: Membership | undefined): void;
}

interface PendingRead {
  readonly ctx: number;
  readonly group: number;
  readonly index: number;
}

export const COORDINATOR_COUNTERS = [
  'noopsProposed',
  'noopRounds',
  'skipRecordsProposed',
  'skipSlotsProposed',
  'controlRecordsProposed',
  'changesProposed',
  'readsServed',
  'readsRerouted',
  'readsFailed',
  'compactions',
  'compactIgnored',
  'snapshotsJumped',
  'snapshotsNotNewer',
  'badSnapshots',
  'leaderTransfersForBalance',
  'membershipStepsProposed',
  'readNudges',
] as const;
export type CoordinatorCounter = (typeof COORDINATOR_COUNTERS)[number];

/** Where a restarting replica resumes: the newest merge state among its durable snapshots. */
export interface RestartPoint {
  readonly state: MergeState;
  /** The state-machine image to restore first, or null (no snapshot: start empty). */
  readonly image: Uint8Array | null;
}

/**
 * Every instance's snapshot carries the merge state it was taken at; the newest one (most slots
 * merged) is where the merge resumes. Throws naming the group and index of a snapshot that is not
 * a multi-Raft snapshot.
 */
export function restartPoint(
  snapshots: readonly { readonly group: number; readonly index: number; readonly data: Uint8Array }[],
  bootInstances: number,
  members: Membership,
  maxInstances: number,
): RestartPoint {
  let best: { state: MergeState; image: Uint8Array } | null = null;
  for (const s of snapshots) {
    let u;
    try {
      u = unwrapSnapshot(s.data, maxInstances);
    } catch (e) {
      throw new Error(`multiraft: durable snapshot of group ${s.group} at index ${s.index}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (best === null || u.state.q > best.state.q) best = u;
  }
  return best ? { state: best.state, image: best.image } : { state: initialState(bootInstances, members), image: null };
}

/** What compaction hands each instance: one buffer, a cut per instance (§3.3). */
export interface CompactionPlan {
  readonly data: Uint8Array;
  /** Output index of the merge state the snapshot header carries. */
  readonly p: number;
  readonly cuts: readonly { readonly group: number; readonly index: number }[];
}

/** A coordinator's state as plain data (structured-cloneable), to move it between threads. */
export interface CoordinatorExport {
  readonly seq: SequencerExport;
  readonly pacer: SkipPacerState;
  readonly groups: number[];
  readonly counters: Record<CoordinatorCounter, number>;
  readonly readStates: ReadState[];
  readonly pendingReads: PendingRead[];
  readonly readCtx: [number, { ctx: number; group: number; attempts: number }][];
  readonly nextReadCtx: number;
  readonly ticks: number;
  readonly lastTickQ: number;
  readonly nudged: [number, number][];
  readonly rr: number;
  readonly controlMemo: [number, { key: string; tick: number }][];
}

export class Coordinator {
  private readonly seq: Sequencer;
  private readonly pacer: SkipPacer;
  private readonly bugReadBeforePGlobal: boolean;
  /** Created instances in increasing id order. */
  private groupList: number[] = [];
  private readStates: ReadState[] = [];
  private pendingReads: PendingRead[] = [];
  private readonly readCtx = new Map<number, { ctx: number; group: number; attempts: number }>();
  private nextReadCtx = 1;
  private ticks = 0;
  private lastTickQ = -1;
  private readonly nudged = new Map<number, number>();
  private rr = 0;
  private readonly controlMemo = new Map<number, { key: string; tick: number }>();
  readonly counters: Record<CoordinatorCounter, number>;

  constructor(
    readonly id: NodeId,
    private readonly o: ResolvedOptions,
    start: MergeState,
    private readonly port: InstancePort,
    private readonly host: CoordinatorHost,
    from?: CoordinatorExport,
  ) {
    this.bugReadBeforePGlobal = o.mrBugs.has('read-before-pglobal');
    this.counters = Object.fromEntries(COORDINATOR_COUNTERS.map((k) => [k, 0])) as Record<CoordinatorCounter, number>;
    const mr = o.mr;
    const pacerOptions = {
      intervalTicks: mr.skipIntervalTicks,
      minIntervalTicks: mr.skipIntervalMinTicks,
      maxIntervalTicks: mr.skipIntervalMaxTicks,
      lambda: mr.skipLambda,
      headroom: mr.skipHeadroom,
      lambdaMin: mr.skipLambdaMin,
      lambdaMax: mr.skipLambdaMax,
    };
    const listener: SequencerListener = { instanceNeeded: (g, boot) => this.created(g, boot) };
    const seqOptions = { maxInstances: mr.maxInstances, mergeOutOfOrder: o.mrBugs.has('merge-out-of-order') };
    if (from) {
      // A moved coordinator: the instances exist already; nothing is announced again.
      this.seq = Sequencer.fromExport(from.seq, seqOptions, listener, mr.checkpoints);
      this.pacer = SkipPacer.fromState(pacerOptions, from.pacer);
      this.groupList = from.groups.slice();
      Object.assign(this.counters, from.counters);
      this.readStates = from.readStates.slice();
      this.pendingReads = from.pendingReads.slice();
      for (const [k, v] of from.readCtx) this.readCtx.set(k, v);
      this.nextReadCtx = from.nextReadCtx;
      this.ticks = from.ticks;
      this.lastTickQ = from.lastTickQ;
      for (const [k, v] of from.nudged) this.nudged.set(k, v);
      this.rr = from.rr;
      for (const [k, v] of from.controlMemo) this.controlMemo.set(k, v);
      return;
    }
    this.pacer = new SkipPacer(pacerOptions);
    this.seq = new Sequencer(start, seqOptions, listener, mr.checkpoints);
    const st = this.seq.state();
    for (let g = 0; g < st.cursors.length; g++) if (st.cursors[g]) this.created(g, st.bootstrap.get(g));
  }

  exportState(): CoordinatorExport {
    return {
      seq: this.seq.exportState(),
      pacer: this.pacer.exportState(),
      groups: this.groupList.slice(),
      counters: { ...this.counters },
      readStates: this.readStates.slice(),
      pendingReads: this.pendingReads.slice(),
      readCtx: [...this.readCtx],
      nextReadCtx: this.nextReadCtx,
      ticks: this.ticks,
      lastTickQ: this.lastTickQ,
      nudged: [...this.nudged],
      rr: this.rr,
      controlMemo: [...this.controlMemo],
    };
  }

  private created(g: number, bootstrap: Membership | undefined): void {
    if (this.groupList.includes(g)) return;
    this.host.instanceNeeded(g, bootstrap);
    this.groupList = [...this.groupList, g].sort((a, b) => a - b);
  }

  // ---------------------------------------------------------------- views

  /** Created instances (every one that ever existed here), increasing. */
  groups(): readonly number[] {
    return this.groupList;
  }

  sequencer(): Sequencer {
    return this.seq;
  }

  get pacerLambda(): number {
    return this.pacer.lastLambda;
  }

  get pacerInterval(): number {
    return this.pacer.interval;
  }

  private isLeader(g: number): boolean {
    return this.port.info(g).established;
  }

  /** Open instances this replica leads (established): where its client commands go, round-robin. */
  localLeaders(): number[] {
    const out: number[] = [];
    for (const g of this.seq.rotation()) if (this.seq.isOpen(g) && this.isLeader(g)) out.push(g);
    return out;
  }

  /** Whether a leader here (of an open instance) has not yet committed an entry of its term. */
  hasUnestablishedLeader(): boolean {
    for (const g of this.seq.rotation()) if (this.seq.isOpen(g) && this.port.info(g).role === 'leader') return true;
    return false;
  }

  /** Instance to hand a client command or read to: local leaders first, balanced round-robin. */
  pickInstance(): number | null {
    const rot = this.seq.rotation();
    const n = rot.length;
    let fallback: number | null = null;
    for (let k = 0; k < n; k++) {
      const g = rot[(this.rr + k) % n]!;
      if (!this.seq.isOpen(g)) continue;
      if (this.isLeader(g)) {
        this.rr = (this.rr + k + 1) % n;
        return g;
      }
      const lead = this.port.info(g).leader;
      if (fallback === null && lead !== NONE && lead !== this.id) fallback = g;
    }
    if (fallback !== null) this.rr = (this.rr + 1) % n;
    return fallback;
  }

  /** The leader hint for a refusal: the leader of the instance pickInstance would choose. */
  private refusal(): ProposeResult {
    const g = this.pickInstance();
    const lead = g === null ? NONE : this.port.info(g).leader;
    return { ok: false, error: lead === NONE ? 'no-leader' : 'not-leader', leader: lead };
  }

  // ---------------------------------------------------------------- periodic rules

  /** One tick of logical time: control records, replica set, progress, leader spreading, read nudges. */
  tick(): void {
    this.ticks++;
    this.proposeAwaitedRecords();
    const mr = this.o.mr;
    if (this.ticks % mr.membershipIntervalTicks === 0) this.reconcileMembership();
    if (mr.progress === 'noop' && this.ticks % mr.noopIntervalTicks === 0) this.runNoopRule();
    if (mr.progress === 'skip' && this.pacer.tick()) this.runSkipRule();
    if (mr.balanceLeaders && this.ticks % mr.balanceIntervalTicks === 0) this.balanceLeaders();
    if (this.pendingReads.length > 0) this.nudgeForReads();
    this.lastTickQ = this.seq.q;
  }

  /**
   * Niagara §3.2: c_r = committed slots of instance r not yet merged, c_max their maximum; each
   * instance this replica leads gets c_max - c_l no-ops, minus what it already has in flight. A
   * host may also run it between ticks when the merge stalls (it is idempotent while in flight).
   */
  runNoopRule(): void {
    const pending: { group: number; pending: number }[] = [];
    for (const g of this.seq.rotation()) {
      // A joining instance's committed Join record counts too: in an idle system nothing else
      // would move the merge to its turn, and it would stay joining until the next command.
      const mode = this.seq.cursor(g)!.mode;
      if (mode === GroupMode.Active || mode === GroupMode.Joining) pending.push({ group: g, pending: this.seq.pendingSlots(g) });
    }
    const leaders: { group: number; inFlight: number }[] = [];
    for (const p of pending) {
      if (this.seq.cursor(p.group)!.mode !== GroupMode.Active || !this.isLeader(p.group)) continue;
      const v = this.port.info(p.group);
      leaders.push({ group: p.group, inFlight: v.lastIndex - v.commit });
    }
    if (leaders.length === 0) return;
    const plan = noopPlan(pending, leaders, this.o.mr.maxNoopsPerRound);
    if (plan.length > 0) this.counters.noopRounds++;
    for (const { group, count } of plan) this.counters.noopsProposed += this.port.proposeNoops(group, count);
  }

  /**
   * Multi-Ring Paxos' rule (λ − μ slots for an instance below the target rate), plus the backlog:
   * a local leader with nothing in flight also covers c_max − c_l, the slots the merge already
   * waits for (as the no-op rule would, in one record). Without it the adaptive λ can starve the
   * merge: a stall stops closed-loop clients, so the measured rate and with it λ decay towards 0
   * while committed entries wait behind an idle instance (found in the real replica process: the
   * merge stopped for good after a change of R).
   */
  private runSkipRule(): void {
    const leaders: { group: number; lastIndex: number }[] = [];
    const pending: { group: number; pending: number }[] = [];
    let backlog = 0;
    for (const g of this.seq.rotation()) {
      const mode = this.seq.cursor(g)!.mode;
      if (mode !== GroupMode.Active && mode !== GroupMode.Joining) continue;
      const p = this.seq.pendingSlots(g);
      pending.push({ group: g, pending: p });
      backlog = Math.max(backlog, p);
      // A joining instance's Join record counts as backlog (see runNoopRule); only active ones skip.
      if (mode === GroupMode.Active && this.isLeader(g)) leaders.push({ group: g, lastIndex: this.port.info(g).lastIndex });
    }
    const counts = new Map<number, number>();
    for (const d of this.pacer.plan(leaders, backlog)) counts.set(d.group, d.count);
    const idle: { group: number; inFlight: number }[] = [];
    for (const l of leaders) {
      const v = this.port.info(l.group);
      if (v.lastIndex === v.commit) idle.push({ group: l.group, inFlight: 0 });
    }
    for (const d of noopPlan(pending, idle, MAX_SKIP)) counts.set(d.group, Math.max(counts.get(d.group) ?? 0, d.count));
    for (const [group, count] of counts) {
      if (this.port.proposeEntry(group, EntryType.Skip, encodeSkip(Math.min(count, MAX_SKIP)))) {
        this.counters.skipRecordsProposed++;
        this.counters.skipSlotsProposed += count;
      }
    }
    for (const l of leaders) this.pacer.startInterval(l.group, this.port.info(l.group).lastIndex);
  }

  /** Leaders of instances the merge waits on for a Seal or Join record propose it. */
  private proposeAwaitedRecords(): void {
    for (const g of this.groupList) {
      const rec = this.seq.awaitedRecord(g);
      if (rec === null) {
        this.controlMemo.delete(g);
        continue;
      }
      if (!this.isLeader(g)) continue;
      const key = `${rec.kind}:${rec.epoch}`;
      const memo = this.controlMemo.get(g);
      if (memo && memo.key === key && this.ticks - memo.tick < this.o.mr.controlRetryTicks) continue;
      this.controlMemo.set(g, { key, tick: this.ticks });
      if (this.port.proposeRecordUnlessHeld(g, rec, this.seq.cursor(g)!.next)) this.counters.controlRecordsProposed++;
    }
  }

  /**
   * The replica set is a property of the global log ('members' records), and every instance is
   * brought to it by its own leader, one single-server change at a time (convergeStep). A replica
   * leaving the set is first demoted everywhere; it is removed from an instance only once no
   * instance (as seen here) still has it as a voter. Until then it can follow the global log, so if
   * it leads an instance it learns of its demotion and steps down itself; removed too early, it
   * would lead that instance blind and stall the merge for everyone.
   */
  private reconcileMembership(): void {
    const target = this.seq.members();
    for (const g of this.groupList) {
      if (!this.isLeader(g)) continue;
      // Recomputed per instance: a step proposed for an earlier one may already have demoted a voter.
      const somewhere = new Set<NodeId>();
      for (const h of this.groupList) for (const id of this.port.info(h).membership.voters) somewhere.add(id);
      if (this.port.convergeMembership(g, target, [...somewhere])) this.counters.membershipStepsProposed++;
    }
  }

  /** Niagara wants leaders spread out so every replica can submit locally (§3.1). */
  private balanceLeaders(): void {
    const rot = this.seq.rotation();
    const voters = this.port.info(rot[0]!).membership.voters;
    if (voters.length < 2 || !voters.includes(this.id)) return;
    const count = new Map<NodeId, number>();
    for (const id of voters) count.set(id, 0);
    const mine: number[] = [];
    for (const g of rot) {
      const v = this.port.info(g);
      if (v.leader !== NONE && count.has(v.leader)) count.set(v.leader, count.get(v.leader)! + 1);
      if (v.role === 'leader') mine.push(g);
    }
    const fair = Math.ceil(rot.length / voters.length);
    if (mine.length <= fair) return;
    let target: NodeId = NONE;
    let best = Infinity;
    for (const id of voters) {
      if (id === this.id) continue;
      const c = count.get(id)!;
      if (c < best) {
        best = c;
        target = id;
      }
    }
    if (target === NONE || best >= mine.length - 1) return;
    const g = mine[mine.length - 1]!;
    if (this.port.info(g).membership.voters.includes(target) && this.port.transferLeadership(g, target)) {
      this.counters.leaderTransfersForBalance++;
    }
  }

  /**
   * A read confirmed by instance g waits until the merge reaches g's next turn. When nothing is
   * merged (an idle system), the instances in line before g must each contribute one more slot:
   * give each that has nothing committed a no-op (proposed locally, or forwarded to its leader as
   * an empty command, which the merge also treats as a no-op).
   */
  private nudgeForReads(): void {
    if (this.seq.q !== this.lastTickQ) return;
    const rot = this.seq.rotation();
    const turnPos = rot.indexOf(this.seq.turn());
    const need = new Set<number>();
    for (const r of this.pendingReads) {
      if (!rot.includes(r.group)) continue;
      for (let k = 0; k < rot.length; k++) {
        const h = rot[(turnPos + k) % rot.length]!;
        if (h === r.group) break;
        need.add(h);
      }
    }
    for (const h of need) {
      if (this.seq.bufferedEntries(h) > 0) continue;
      const last = this.nudged.get(h) ?? -Infinity;
      if (this.ticks - last < this.o.mr.noopIntervalTicks + 1) continue;
      this.nudged.set(h, this.ticks);
      const v = this.port.info(h);
      let ok: boolean;
      if (this.isLeader(h)) ok = this.port.proposeEntry(h, EntryType.Noop, EMPTY_DATA);
      else if (v.role !== 'leader' && v.leader !== NONE) ok = this.port.proposeForwarded(h, EMPTY_DATA);
      else continue; // no leader yet, or our own leadership not established: try again later
      if (ok) this.counters.readNudges++;
    }
  }

  // ---------------------------------------------------------------- global-log changes

  /**
   * Ask for R = n. The request is a record in the global log: it takes effect, on every replica,
   * at the slot where it is merged. Refused while a previous change is still being applied.
   */
  proposeInstances(n: number): ProposeResult {
    const mr = this.o.mr;
    if (!Number.isSafeInteger(n) || n < 1 || n > mr.maxInstances) return { ok: false, error: 'too-large', leader: NONE };
    if (this.seq.state().transition !== null) return { ok: false, error: 'busy', leader: NONE };
    for (const g of this.seq.rotation()) {
      if (!this.seq.isOpen(g) || !this.isLeader(g)) continue;
      const rec: ControlRecord = { kind: 'change', fromEpoch: this.seq.epoch, instances: n };
      if (this.port.proposeEntry(g, EntryType.Noop, encodeRecord(rec))) {
        this.counters.changesProposed++;
        return { ok: true };
      }
    }
    return this.refusal();
  }

  /**
   * A change of the replica set, for every instance: it goes into the global log as a record;
   * from where it is merged, each instance's leader brings its group to the new set.
   */
  proposeMembership(change: MembershipChange): ProposeResult {
    const out = applyChange(this.seq.members(), change);
    if (!out.ok) return { ok: false, error: out.error, leader: NONE };
    if (out.next === null) return { ok: true };
    for (const g of this.seq.rotation()) {
      if (!this.seq.isOpen(g) || !this.isLeader(g)) continue;
      if (this.port.proposeEntry(g, EntryType.Noop, encodeRecord({ kind: 'members', change }))) return { ok: true };
    }
    return this.refusal();
  }

  // ---------------------------------------------------------------- committed entries and the merge

  /** Committed entries of one instance, in index order. */
  offer(group: number, committed: readonly Entry[]): void {
    if (committed.length === 0) return;
    this.seq.offer(group, committed);
    if (this.o.mr.progress === 'skip') {
      let slots = 0;
      for (const e of committed) if (e.type !== EntryType.Skip) slots++;
      this.pacer.onCommitted(group, slots);
    }
  }

  /** Merges as far as the instance logs allow (client commands appended to `out`); releases reads. */
  merge(out: Entry[]): void {
    this.seq.merge(out);
    if (this.pendingReads.length > 0) this.releaseReads();
  }

  /**
   * A snapshot an instance received from its leader: the merge moves forward to where it was taken.
   * Returns the state-machine image the host must restore, or null (not newer here, or malformed).
   */
  install(data: Uint8Array): Uint8Array | null {
    let u;
    try {
      u = unwrapSnapshot(data, this.o.mr.maxInstances);
    } catch {
      this.counters.badSnapshots++;
      return null;
    }
    if (this.seq.jumpTo(u.state)) {
      this.counters.snapshotsJumped++;
      return u.image;
    }
    this.counters.snapshotsNotNewer++;
    return null;
  }

  /** The merge state to wrap a snapshot at output index `appliedIndex` in (a recent checkpoint). */
  checkpointFor(appliedIndex: number): MergeState | null {
    return Number.isSafeInteger(appliedIndex) ? this.seq.checkpointAtOrBelow(appliedIndex) : null;
  }

  /**
   * Single-snapshot compaction (§3.3): one image for every instance, each cut where the merge stood
   * at `cp` (default: the newest checkpoint at or below appliedIndex). Null: nothing to compact.
   */
  compactionPlan(appliedIndex: number, image: Uint8Array, cp: MergeState | null = this.checkpointFor(appliedIndex)): CompactionPlan | null {
    if (cp === null || cp.p === 0 || !(image instanceof Uint8Array) || cp.p > appliedIndex) {
      this.counters.compactIgnored++;
      return null;
    }
    const data = wrapSnapshot(cp, image);
    const cuts: { group: number; index: number }[] = [];
    for (const g of this.groupList) {
      const c = cp.cursors[g];
      if (c && c.next > 1) cuts.push({ group: g, index: c.next - 1 });
    }
    this.counters.compactions++;
    return { data, p: cp.p, cuts };
  }

  /** compactionPlan, then every instance's compact() through the port. */
  compact(appliedIndex: number, image: Uint8Array): void {
    const plan = this.compactionPlan(appliedIndex, image);
    if (plan === null) return;
    for (const c of plan.cuts) this.port.compact(c.group, c.index, plan.data);
  }

  // ---------------------------------------------------------------- reads (§3.4)

  /**
   * A strongly consistent read: answered through takeReadStates() once p_global is merged.
   *
   * Any instance's confirmed commit position gives a correct read point (§3.4). The instance in
   * line is asked first when it has a leader: its next slot is the next one merged, so when the
   * system is idle its read is ready as soon as the leader confirms, while a read confirmed by
   * another instance waits until every instance before it contributes a slot (read nudges).
   */
  readIndex(ctx: number): void {
    const t = this.seq.turn();
    const g = this.seq.isOpen(t) && (this.isLeader(t) || this.port.info(t).leader !== NONE) ? t : this.pickInstance();
    if (g === null) {
      this.counters.readsFailed++;
      this.readStates.push({ ctx, error: 'not-leader', leader: NONE });
      return;
    }
    this.askInstance(ctx, g, 1);
  }

  private askInstance(ctx: number, g: number, attempts: number): void {
    const ictx = this.nextReadCtx++;
    this.readCtx.set(ictx, { ctx, group: g, attempts });
    this.port.readIndex(g, ictx);
  }

  /** An instance's answer to a read index this coordinator asked for (other contexts are ignored). */
  onReadState(rs: ReadState): void {
    const q = this.readCtx.get(rs.ctx);
    if (!q) return;
    this.readCtx.delete(rs.ctx);
    if ('error' in rs) {
      // Another instance may well have a leader; try once more before giving up.
      if (q.attempts < 2) {
        const g = this.pickInstance();
        if (g !== null && g !== q.group) {
          this.askInstance(q.ctx, g, q.attempts + 1);
          return;
        }
      }
      this.counters.readsFailed++;
      this.readStates.push({ ctx: q.ctx, error: rs.error, leader: rs.leader });
      return;
    }
    if (this.bugReadBeforePGlobal) {
      // BUG (injected): serve at once from whatever this replica has merged, ignoring p_global.
      this.counters.readsServed++;
      this.readStates.push({ ctx: q.ctx, index: this.seq.p });
      return;
    }
    this.pendingReads.push({ ctx: q.ctx, group: q.group, index: rs.index });
  }

  private releaseReads(): void {
    const still: PendingRead[] = [];
    for (const r of this.pendingReads) {
      const st = this.seq.readStatus(r.group, r.index);
      if (st === 'ready') {
        this.counters.readsServed++;
        this.readStates.push({ ctx: r.ctx, index: this.seq.p });
      } else if (st === 'reroute') {
        this.counters.readsRerouted++;
        const g = this.pickInstance();
        if (g === null) {
          this.counters.readsFailed++;
          this.readStates.push({ ctx: r.ctx, error: 'dropped', leader: NONE });
        } else this.askInstance(r.ctx, g, 2);
      } else still.push(r);
    }
    this.pendingReads = still;
  }

  hasReadStates(): boolean {
    return this.readStates.length > 0;
  }

  /** Read points ready to be answered (output-index space), and failures. */
  takeReadStates(): ReadState[] {
    const r = this.readStates;
    if (r.length > 0) this.readStates = [];
    return r;
  }

  pendingReadCount(): number {
    return this.pendingReads.length;
  }
}

/**
 * Single-server changes that bring `m` closer to `target`, most urgent first: additions, promotions,
 * demotions (a voter leaving the set is demoted before it is removed), then removals of learners
 * that `mayRemove` allows.
 */
export function membershipSteps(m: Membership, target: Membership, stillVoterSomewhere: (id: NodeId) => boolean = () => false): MembershipChange[] {
  const steps: MembershipChange[] = [];
  const inM = (id: NodeId) => m.voters.includes(id) || m.learners.includes(id);
  const inT = (id: NodeId) => target.voters.includes(id) || target.learners.includes(id);
  for (const id of [...target.voters, ...target.learners]) if (!inM(id)) steps.push({ type: 'add-learner', node: id });
  for (const id of target.voters) if (m.learners.includes(id)) steps.push({ type: 'promote', node: id });
  for (const id of m.voters) if (!target.voters.includes(id)) steps.push({ type: 'add-learner', node: id });
  for (const id of m.learners) if (!inT(id) && !stillVoterSomewhere(id)) steps.push({ type: 'remove', node: id });
  return steps;
}

/** The subset of RaftCore an instance-side helper needs (RaftCore satisfies it). */
export interface InstanceCore {
  groups(): readonly { readonly membership: Membership; readonly firstIndex: number; readonly lastIndex: number; entryAt(i: number): Entry | undefined }[];
  proposeMembership(change: MembershipChange): ProposeResult;
  proposeEntry(type: EntryType, data: Uint8Array): ProposeResult;
}

/**
 * Instance side of convergeMembership: propose the most urgent single-server step towards `target`
 * that the core accepts ('busy' — a change in flight, a learner still catching up — moves on to the
 * next kind of step). Returns whether one was proposed.
 */
export function convergeStep(core: InstanceCore, target: Membership, votersSomewhere: readonly NodeId[]): boolean {
  const m = core.groups()[0]!.membership;
  for (const step of membershipSteps(m, target, (id) => votersSomewhere.includes(id))) {
    if (core.proposeMembership(step).ok) return true;
  }
  return false;
}

/** Instance side of proposeRecordUnlessHeld: scan the log from `from`, propose `rec` if absent. */
export function proposeRecordUnlessHeld(core: InstanceCore, rec: AwaitedRecord, from: number): boolean {
  const v = core.groups()[0]!;
  for (let i = Math.max(v.firstIndex, from); i <= v.lastIndex; i++) {
    const e = v.entryAt(i);
    if (e && isRecord(e, rec.kind, rec.epoch)) return false;
  }
  return core.proposeEntry(EntryType.Noop, encodeRecord(rec)).ok;
}
