// The multi-Raft core: R Raft instances (one RaftCore per consensus group) and the sequencer that
// merges their committed entries into one global log, behind one ProtocolCore. The simulator and
// any single-threaded host drive it like single Raft; the replica runtime can run the instances
// and the sequencer as separate actors from the same pieces (sequencer.ts, progress.ts).
//
// docs/multiraft.md describes the design: merge, progress rules, reads, compaction, changes of R.
import { EntryType, NONE } from '../api.js';
import type {
  CoreInit,
  Entry,
  GroupDurableState,
  GroupView,
  GroupWrite,
  Membership,
  MembershipChange,
  NodeId,
  ProposeResult,
  ProtocolCore,
  ProtocolStats,
  Ready,
  ReadState,
  RejectReason,
  Snapshot,
} from '../api.js';
import { RaftCore } from '../raft/core.js';
import { applyChange } from '../raft/membership.js';
import type { RaftMessage } from '../raft/messages.js';
import { SeededRng } from '../rng.js';
import { resolveMultiRaftOptions } from './options.js';
import type { ResolvedOptions } from './options.js';
import { SkipPacer, noopPlan } from './progress.js';
import { encodeRecord, encodeSkip, isRecord, MAX_SKIP } from './records.js';
import type { ControlRecord } from './records.js';
import { Sequencer } from './sequencer.js';
import type { AwaitedRecord } from './sequencer.js';
import { unwrapSnapshot, wrapSnapshot } from './snapshot-format.js';
import { GroupMode, initialState } from './state.js';
import type { MergeState } from './state.js';

const EMPTY: readonly never[] = Object.freeze([]);
const EMPTY_DATA = new Uint8Array(0);
const OK: ProposeResult = Object.freeze({ ok: true });

interface SubReady {
  readonly group: number;
  readonly core: RaftCore;
  readonly rd: Ready<RaftMessage>;
}

interface PendingRead {
  readonly ctx: number;
  readonly group: number;
  readonly index: number;
}

const COUNTERS = [
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
type Counter = (typeof COUNTERS)[number];

export class MultiRaftCore implements ProtocolCore<RaftMessage> {
  readonly id: NodeId;
  private readonly o: ResolvedOptions;
  private readonly bootMembership: Membership;
  private readonly seedRng: CoreInit['rng'];
  private readonly cores: (RaftCore | undefined)[] = [];
  /** Created instances in increasing id order. */
  private groupList: number[] = [];
  private viewList: GroupView[] = [];
  private readonly durable = new Map<number, GroupDurableState>();
  private readonly seq: Sequencer;
  private readonly pacer: SkipPacer;
  private readonly bugReadBeforePGlobal: boolean;

  private outstanding: { rd: Ready<RaftMessage>; subs: SubReady[] } | null = null;
  private readStates: ReadState[] = [];
  private pendingReads: PendingRead[] = [];
  private readonly readCtx = new Map<number, { ctx: number; group: number; attempts: number }>();
  private nextReadCtx = 1;
  private readonly restoreDecision = new WeakMap<Snapshot, Uint8Array | null>();
  private readonly restartImg: Uint8Array | null;
  private ticks = 0;
  private lastTickQ = -1;
  private readonly nudged = new Map<number, number>();
  private rr = 0;
  /** Open instances this replica leads (established), valid until the next input that may change it. */
  private localLeaders: number[] = [];
  private localRr = 0;
  private localDirty = true;
  private readonly controlMemo = new Map<number, { key: string; tick: number }>();
  private readonly rejected: Partial<Record<RejectReason, number>> = {};
  private readonly counters: Record<Counter, number>;

  constructor(init: CoreInit, options?: Record<string, unknown>) {
    this.o = resolveMultiRaftOptions(options);
    this.id = init.id;
    this.bootMembership = init.membership;
    this.seedRng = init.rng;
    this.bugReadBeforePGlobal = this.o.mrBugs.has('read-before-pglobal');
    this.counters = Object.fromEntries(COUNTERS.map((k) => [k, 0])) as Record<Counter, number>;
    const mr = this.o.mr;
    this.pacer = new SkipPacer({
      intervalTicks: mr.skipIntervalTicks,
      minIntervalTicks: mr.skipIntervalMinTicks,
      maxIntervalTicks: mr.skipIntervalMaxTicks,
      lambda: mr.skipLambda,
      headroom: mr.skipHeadroom,
      lambdaMin: mr.skipLambdaMin,
      lambdaMax: mr.skipLambdaMax,
    });

    // Restart: resume the merge from the newest snapshot any instance holds (every instance's
    // snapshot carries the merge state it was taken at); the host restores that image.
    let best: { state: MergeState; image: Uint8Array } | null = null;
    for (const d of init.durable) {
      if (!Number.isSafeInteger(d.group) || d.group < 0 || d.group >= mr.maxInstances) {
        throw new Error(`multiraft: durable state for group ${String(d.group)} outside 0..${mr.maxInstances - 1}`);
      }
      this.durable.set(d.group, d);
      if (!d.snapshot) continue;
      let u;
      try {
        u = unwrapSnapshot(d.snapshot.data, mr.maxInstances);
      } catch (e) {
        throw new Error(`multiraft: durable snapshot of group ${d.group} at index ${d.snapshot.meta.index}: ${e instanceof Error ? e.message : String(e)}`);
      }
      if (best === null || u.state.q > best.state.q) best = u;
    }
    this.restartImg = best ? best.image : null;
    const start = best ? best.state : initialState(mr.instances, init.membership);
    this.seq = new Sequencer(
      start,
      { maxInstances: mr.maxInstances, mergeOutOfOrder: this.o.mrBugs.has('merge-out-of-order') },
      { instanceNeeded: (g, boot) => this.createGroup(g, boot) },
      mr.checkpoints,
    );
    const st = this.seq.state();
    for (let g = 0; g < st.cursors.length; g++) if (st.cursors[g]) this.createGroup(g, st.bootstrap.get(g));
  }

  // ---------------------------------------------------------------- instances

  private createGroup(g: number, bootstrap: Membership | undefined): void {
    if (this.cores[g]) return;
    const d = this.durable.get(g);
    this.durable.delete(g);
    const core = new RaftCore(
      { id: this.id, membership: bootstrap ?? this.bootMembership, rng: new SeededRng(this.seedRng.nextU32()), durable: d ? [d] : [] },
      { ...this.o.raft, group: g },
    );
    this.cores[g] = core;
    this.groupList = [...this.groupList, g].sort((a, b) => a - b);
    this.viewList = this.groupList.map((x) => this.cores[x]!.groups()[0]!);
  }

  /**
   * Leader of instance g with an entry of its own term committed. Only then is its term surely
   * durable: a single-voter group elects itself in the Ready that raises its term, and entries
   * proposed before that Ready is on disk could be re-proposed differently, at the same index and
   * term, if the replica crashed (the simulator's log-matching check found it). It is also when
   * Raft itself starts serving reads.
   */
  private isLeader(g: number): boolean {
    const c = this.cores[g];
    if (c === undefined) return false;
    const v = c.groups()[0]!;
    return v.role === 'leader' && v.termAt(v.commit) === v.term;
  }

  /** Instances to hand a client command or read to: local leaders first, balanced round-robin. */
  private pickInstance(): number | null {
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
      const lead = this.cores[g]!.groups()[0]!.leader;
      if (fallback === null && lead !== NONE && lead !== this.id) fallback = g;
    }
    if (fallback !== null) this.rr = (this.rr + 1) % n;
    return fallback;
  }

  // ---------------------------------------------------------------- inputs

  step(m: RaftMessage): void {
    const g = typeof m === 'object' && m !== null ? (m as { group?: unknown }).group : undefined;
    const core = typeof g === 'number' && Number.isSafeInteger(g) && g >= 0 ? this.cores[g] : undefined;
    if (!core) {
      this.rejected['unknown-group'] = (this.rejected['unknown-group'] ?? 0) + 1;
      return;
    }
    core.step(m);
    this.localDirty = true;
  }

  tick(): void {
    this.localDirty = true;
    for (const g of this.groupList) this.cores[g]!.tick();
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
      const core = this.cores[h]!;
      const v = core.groups()[0]!;
      let r: ProposeResult;
      if (this.isLeader(h)) r = core.proposeEntry(EntryType.Noop, EMPTY_DATA);
      else if (v.role !== 'leader' && v.leader !== NONE) r = core.propose(EMPTY_DATA);
      else continue; // no leader yet, or our own leadership not established: try again later
      if (r.ok) this.counters.readNudges++;
    }
  }

  propose(data: Uint8Array): ProposeResult {
    // Fast path: proposals come in bursts between inputs that could change leadership, so the open
    // instances this replica leads are listed once per burst and taken round-robin.
    if (this.localDirty) this.refreshLocalLeaders();
    const local = this.localLeaders;
    if (local.length > 0) {
      const g = local[this.localRr++ % local.length]!;
      const r = this.cores[g]!.propose(data);
      if (r.ok) return OK;
      if (r.error === 'too-large') return r;
      this.localDirty = true;
    }
    return this.proposeSlow(data);
  }

  private refreshLocalLeaders(): void {
    this.localDirty = false;
    const out: number[] = [];
    for (const g of this.seq.rotation()) if (this.seq.isOpen(g) && this.isLeader(g)) out.push(g);
    this.localLeaders = out;
  }

  private proposeSlow(data: Uint8Array): ProposeResult {
    const rot = this.seq.rotation();
    let last: ProposeResult | null = null;
    for (let k = 0; k < rot.length; k++) {
      const g = this.pickInstance();
      if (g === null) break;
      const r = this.cores[g]!.propose(data);
      if (r.ok) return OK;
      last = r;
      if (r.error === 'too-large') return r;
    }
    if (last) return last;
    // A leader here that has not yet committed an entry of its term takes commands in a moment.
    for (const g of rot) if (this.seq.isOpen(g) && this.cores[g]!.groups()[0]!.role === 'leader') return { ok: false, error: 'busy', leader: this.id };
    return { ok: false, error: 'no-leader', leader: NONE };
  }

  readIndex(ctx: number): void {
    const g = this.pickInstance();
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
    this.cores[g]!.readIndex(ictx);
  }

  compact(appliedIndex: number, data: Uint8Array): void {
    const cp = Number.isSafeInteger(appliedIndex) && data instanceof Uint8Array ? this.seq.checkpointAtOrBelow(appliedIndex) : null;
    if (cp === null || cp.p === 0) {
      this.counters.compactIgnored++;
      return;
    }
    // One image for every instance, each cut where the merge stood at the checkpoint (§3.3).
    const wrapped = wrapSnapshot(cp, data);
    for (const g of this.groupList) {
      const c = cp.cursors[g];
      if (c && c.next > 1) this.cores[g]!.compact(c.next - 1, wrapped);
    }
    this.counters.compactions++;
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
      const r = this.cores[g]!.proposeEntry(EntryType.Noop, encodeRecord({ kind: 'members', change }));
      if (r.ok) return { ok: true };
    }
    const g = this.pickInstance();
    const lead = g === null ? NONE : this.cores[g]!.groups()[0]!.leader;
    return { ok: false, error: lead === NONE ? 'no-leader' : 'not-leader', leader: lead };
  }

  transferLeadership(to: NodeId): boolean {
    let any = false;
    for (const g of this.groupList) if (this.isLeader(g) && this.cores[g]!.transferLeadership(to)) any = true;
    return any;
  }

  /** Per instance: transfer this replica's leadership of `group` to `to`. */
  transferGroupLeadership(group: number, to: NodeId): boolean {
    const c = this.cores[group];
    return c !== undefined && c.transferLeadership(to);
  }

  /** R of the epoch in force (the change being applied, if any, is not counted yet). */
  instances(): number {
    return this.seq.instances;
  }

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
      const r = this.cores[g]!.proposeEntry(EntryType.Noop, encodeRecord(rec));
      if (r.ok) {
        this.counters.changesProposed++;
        return { ok: true };
      }
    }
    const g = this.pickInstance();
    const lead = g === null ? NONE : this.cores[g]!.groups()[0]!.leader;
    return { ok: false, error: lead === NONE ? 'no-leader' : 'not-leader', leader: lead };
  }

  // ---------------------------------------------------------------- progress

  private runNoopRule(): void {
    const pending: { group: number; pending: number }[] = [];
    for (const g of this.seq.rotation()) {
      if (this.seq.cursor(g)!.mode === GroupMode.Active) pending.push({ group: g, pending: this.seq.pendingSlots(g) });
    }
    const leaders: { group: number; inFlight: number }[] = [];
    for (const p of pending) {
      if (!this.isLeader(p.group)) continue;
      const v = this.cores[p.group]!.groups()[0]!;
      leaders.push({ group: p.group, inFlight: v.lastIndex - v.commit });
    }
    if (leaders.length === 0) return;
    const plan = noopPlan(pending, leaders, this.o.mr.maxNoopsPerRound);
    if (plan.length > 0) this.counters.noopRounds++;
    for (const { group, count } of plan) {
      const core = this.cores[group]!;
      for (let i = 0; i < count; i++) {
        if (!core.proposeEntry(EntryType.Noop, EMPTY_DATA).ok) break;
        this.counters.noopsProposed++;
      }
    }
  }

  private runSkipRule(): void {
    const leaders: { group: number; lastIndex: number }[] = [];
    let backlog = 0;
    for (const g of this.seq.rotation()) {
      if (this.seq.cursor(g)!.mode !== GroupMode.Active) continue;
      backlog = Math.max(backlog, this.seq.pendingSlots(g));
      if (this.isLeader(g)) leaders.push({ group: g, lastIndex: this.cores[g]!.groups()[0]!.lastIndex });
    }
    const plan = this.pacer.plan(leaders, backlog);
    for (const { group, count } of plan) {
      const r = this.cores[group]!.proposeEntry(EntryType.Skip, encodeSkip(Math.min(count, MAX_SKIP)));
      if (r.ok) {
        this.counters.skipRecordsProposed++;
        this.counters.skipSlotsProposed += count;
      }
    }
    for (const l of leaders) this.pacer.startInterval(l.group, this.cores[l.group]!.groups()[0]!.lastIndex);
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
      if (this.logHolds(g, rec)) continue;
      if (this.cores[g]!.proposeEntry(EntryType.Noop, encodeRecord(rec)).ok) this.counters.controlRecordsProposed++;
    }
  }

  /** Whether instance g's log, past what the merge consumed, already holds the record. */
  private logHolds(g: number, rec: AwaitedRecord): boolean {
    const v = this.cores[g]!.groups()[0]!;
    const from = Math.max(v.firstIndex, this.seq.cursor(g)!.next);
    for (let i = from; i <= v.lastIndex; i++) {
      const e = v.entryAt(i);
      if (e && isRecord(e, rec.kind, rec.epoch)) return true;
    }
    return false;
  }

  /**
   * The replica set is a property of the global log ('members' records), and every instance is
   * brought to it by its own leader, one single-server change at a time: additions first, then
   * promotions, then demotions and removals. A replica missing from any instance could not follow
   * the global log, so instances must not be changed one by one from outside.
   */
  private reconcileMembership(): void {
    const target = this.seq.members();
    // A replica leaving the set is first demoted everywhere; it is removed from an instance only
    // once no instance (as seen here) still has it as a voter. Until then it can follow the global
    // log, so if it leads an instance it learns of its demotion and steps down itself; removed
    // too early, it would lead that instance blind and stall the merge for everyone.
    const stillVoter = (id: NodeId): boolean => this.viewList.some((v) => v.membership.voters.includes(id));
    for (const g of this.groupList) {
      if (!this.isLeader(g)) continue;
      const core = this.cores[g]!;
      const m = core.groups()[0]!.membership;
      for (const step of membershipSteps(m, target, stillVoter)) {
        const r = core.proposeMembership(step);
        if (r.ok) {
          this.counters.membershipStepsProposed++;
          break;
        }
        // 'busy': a change is in flight (or a learner still catching up); try the next kind of step.
      }
    }
  }

  /** Niagara wants leaders spread out so every replica can submit locally (§3.1). */
  private balanceLeaders(): void {
    const rot = this.seq.rotation();
    const v0 = this.cores[rot[0]!]!.groups()[0]!;
    const voters = v0.membership.voters;
    if (voters.length < 2 || !voters.includes(this.id)) return;
    const count = new Map<NodeId, number>();
    for (const id of voters) count.set(id, 0);
    const mine: number[] = [];
    for (const g of rot) {
      const v = this.cores[g]!.groups()[0]!;
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
    if (this.cores[g]!.groups()[0]!.membership.voters.includes(target) && this.cores[g]!.transferLeadership(target)) {
      this.counters.leaderTransfersForBalance++;
    }
  }

  // ---------------------------------------------------------------- outputs

  hasReady(): boolean {
    if (this.readStates.length > 0) return true;
    for (const g of this.groupList) if (this.cores[g]!.hasReady()) return true;
    return false;
  }

  ready(): Ready<RaftMessage> {
    if (this.outstanding !== null) throw new Error('multiraft: ready() called again before advance()');
    this.localDirty = true;
    const subs: SubReady[] = [];
    for (const g of this.groupList) {
      const core = this.cores[g]!;
      if (core.hasReady()) subs.push({ group: g, core, rd: core.ready() });
    }
    let writes: GroupWrite[] | readonly never[] = EMPTY;
    let mustSync = false;
    let nNow = 0;
    let nAfter = 0;
    for (const s of subs) {
      const rd = s.rd;
      if (rd.mustSync) mustSync = true;
      nNow += rd.sendNow.length;
      nAfter += rd.sendAfterPersist.length;
      for (const w of rd.writes) {
        // A snapshot from a leader moves the merge forward to where that snapshot was taken.
        if (w.snapshot) this.onInstall(w.snapshot);
        if (writes === EMPTY) writes = [];
        (writes as GroupWrite[]).push(w);
      }
    }
    for (const s of subs) {
      const committed = s.rd.committed;
      if (committed.length === 0) continue;
      this.seq.offer(s.group, committed);
      if (this.o.mr.progress === 'skip') {
        let slots = 0;
        for (const e of committed) if (e.type !== EntryType.Skip) slots++;
        this.pacer.onCommitted(s.group, slots);
      }
    }
    for (const s of subs) for (const rs of s.rd.readStates) this.onInstanceReadState(rs);
    const out: Entry[] = [];
    this.seq.merge(out);
    if (this.pendingReads.length > 0) this.releaseReads();
    const rd: Ready<RaftMessage> = {
      writes,
      mustSync,
      sendNow: concat(subs, nNow, (r) => r.sendNow),
      sendAfterPersist: concat(subs, nAfter, (r) => r.sendAfterPersist),
      committed: out,
      readStates: this.readStates.length > 0 ? this.readStates : EMPTY,
    };
    if (this.readStates.length > 0) this.readStates = [];
    this.outstanding = { rd, subs };
    return rd;
  }

  advance(rd: Ready<RaftMessage>): void {
    const o = this.outstanding;
    if (o === null || o.rd !== rd) throw new Error('multiraft: advance() must be given the Ready returned by the last ready()');
    this.outstanding = null;
    this.localDirty = true;
    for (const s of o.subs) s.core.advance(s.rd);
  }

  private onInstall(snap: Snapshot): void {
    let u;
    try {
      u = unwrapSnapshot(snap.data, this.o.mr.maxInstances);
    } catch {
      this.counters.badSnapshots++;
      this.restoreDecision.set(snap, null);
      return;
    }
    if (this.seq.jumpTo(u.state)) {
      this.counters.snapshotsJumped++;
      this.restoreDecision.set(snap, u.image);
    } else {
      this.counters.snapshotsNotNewer++;
      this.restoreDecision.set(snap, null);
    }
  }

  /** The state-machine image to restore for a snapshot in Ready.writes, or null: do not restore. */
  snapshotImage(snapshot: Snapshot): Uint8Array | null {
    return this.restoreDecision.get(snapshot) ?? null;
  }

  /** On restart: the image the host restores before applying committed output (null: none). */
  restartImage(): Uint8Array | null {
    return this.restartImg;
  }

  // ---------------------------------------------------------------- reads

  private onInstanceReadState(rs: ReadState): void {
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

  // ---------------------------------------------------------------- views

  groups(): readonly GroupView[] {
    return this.viewList;
  }

  /** The sequencer (read-only use: tests, status, the controller). */
  sequencer(): Sequencer {
    return this.seq;
  }

  /** The Raft core of one instance (tests and tools). */
  instance(group: number): RaftCore | undefined {
    return this.cores[group];
  }

  stats(): ProtocolStats {
    const rejected: Partial<Record<RejectReason, number>> = { ...this.rejected };
    const counters: Record<string, number> = {};
    for (const g of this.groupList) {
      const st = this.cores[g]!.stats();
      for (const [k, v] of Object.entries(st.rejected)) rejected[k as RejectReason] = (rejected[k as RejectReason] ?? 0) + (v ?? 0);
      for (const [k, v] of Object.entries(st.counters)) counters[k] = (counters[k] ?? 0) + v;
    }
    for (const [k, v] of Object.entries(this.seq.counters)) counters[`merge.${k}`] = v;
    for (const k of COUNTERS) counters[k] = this.counters[k];
    counters.instances = this.seq.instances;
    counters.epoch = this.seq.epoch;
    counters.globalSlots = this.seq.q;
    counters.outputIndex = this.seq.p;
    counters.skipLambda = this.pacer.lastLambda;
    counters.skipIntervalTicks = this.pacer.interval;
    return { rejected, counters };
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

function concat(subs: readonly SubReady[], n: number, pick: (r: Ready<RaftMessage>) => readonly RaftMessage[]): readonly RaftMessage[] {
  if (n === 0) return EMPTY;
  if (subs.length === 1) return pick(subs[0]!.rd);
  const out: RaftMessage[] = new Array(n);
  let i = 0;
  for (const s of subs) for (const m of pick(s.rd)) out[i++] = m;
  return out;
}
