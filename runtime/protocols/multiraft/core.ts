// The multi-Raft core: R Raft instances (one RaftCore per consensus group) and the sequencer that
// merges their committed entries into one global log, behind one ProtocolCore. The simulator and
// any single-threaded host drive it like single Raft.
//
// The decisions (merge, progress rules, control records, replica set, leader spreading, reads,
// compaction) live in the Coordinator (coordinator.ts); this class gives it a port over RaftCores
// in the same object graph and assembles one Ready from theirs. The replica runs the same
// Coordinator in its sequencer actor, with the instances as separate actors.
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
import type { RaftMessage } from '../raft/messages.js';
import { SeededRng } from '../rng.js';
import { COORDINATOR_COUNTERS, Coordinator, convergeStep, membershipSteps, proposeRecordUnlessHeld, restartPoint } from './coordinator.js';
import type { InstanceInfo, InstancePort } from './coordinator.js';
import { resolveMultiRaftOptions } from './options.js';
import type { ResolvedOptions } from './options.js';
import type { Sequencer } from './sequencer.js';

export { membershipSteps };

const EMPTY: readonly never[] = Object.freeze([]);
const OK: ProposeResult = Object.freeze({ ok: true });

interface SubReady {
  readonly group: number;
  readonly core: RaftCore;
  readonly rd: Ready<RaftMessage>;
}

/** An InstanceInfo that reads a RaftCore's live view (one per instance, no allocation per call). */
class CoreInfo implements InstanceInfo {
  constructor(private readonly v: GroupView) {}
  get role() {
    return this.v.role;
  }
  get leader() {
    return this.v.leader;
  }
  get term() {
    return this.v.term;
  }
  get established() {
    const v = this.v;
    return v.role === 'leader' && v.termAt(v.commit) === v.term;
  }
  get lastIndex() {
    return this.v.lastIndex;
  }
  get commit() {
    return this.v.commit;
  }
  get membership() {
    return this.v.membership;
  }
}

const NO_INFO: InstanceInfo = Object.freeze({ role: 'follower', leader: NONE, term: 0, established: false, lastIndex: 0, commit: 0, membership: { voters: [], learners: [] } });

export class MultiRaftCore implements ProtocolCore<RaftMessage> {
  readonly id: NodeId;
  private readonly o: ResolvedOptions;
  private readonly bootMembership: Membership;
  private readonly seedRng: CoreInit['rng'];
  private readonly cores: (RaftCore | undefined)[] = [];
  private readonly infos: (CoreInfo | undefined)[] = [];
  /** Created instances in increasing id order. */
  private groupList: number[] = [];
  private viewList: GroupView[] = [];
  private readonly durable = new Map<number, GroupDurableState>();
  private readonly coord: Coordinator;
  private readonly seq: Sequencer;

  private outstanding: { rd: Ready<RaftMessage>; subs: SubReady[] } | null = null;
  private readonly restoreDecision = new WeakMap<Snapshot, Uint8Array | null>();
  private readonly restartImg: Uint8Array | null;
  /** Open instances this replica leads (established), valid until the next input that may change it. */
  private localLeaders: number[] = [];
  private localRr = 0;
  private localDirty = true;
  private readonly rejected: Partial<Record<RejectReason, number>> = {};

  constructor(init: CoreInit, options?: Record<string, unknown>) {
    this.o = resolveMultiRaftOptions(options);
    this.id = init.id;
    this.bootMembership = init.membership;
    this.seedRng = init.rng;
    const mr = this.o.mr;

    // Restart: resume the merge from the newest snapshot any instance holds (every instance's
    // snapshot carries the merge state it was taken at); the host restores that image.
    const snaps: { group: number; index: number; data: Uint8Array }[] = [];
    for (const d of init.durable) {
      if (!Number.isSafeInteger(d.group) || d.group < 0 || d.group >= mr.maxInstances) {
        throw new Error(`multiraft: durable state for group ${String(d.group)} outside 0..${mr.maxInstances - 1}`);
      }
      this.durable.set(d.group, d);
      if (d.snapshot) snaps.push({ group: d.group, index: d.snapshot.meta.index, data: d.snapshot.data });
    }
    const rp = restartPoint(snaps, mr.instances, init.membership, mr.maxInstances);
    this.restartImg = rp.image;
    this.coord = new Coordinator(this.id, this.o, rp.state, this.port(), { instanceNeeded: (g, boot) => this.createGroup(g, boot) });
    this.seq = this.coord.sequencer();
  }

  private port(): InstancePort {
    return {
      info: (g) => this.infos[g] ?? NO_INFO,
      proposeEntry: (g, type, data) => this.cores[g]!.proposeEntry(type, data).ok,
      proposeNoops: (g, count) => {
        const core = this.cores[g]!;
        let n = 0;
        while (n < count && core.proposeEntry(EntryType.Noop, EMPTY_DATA).ok) n++;
        return n;
      },
      proposeForwarded: (g, data) => this.cores[g]!.propose(data).ok,
      proposeRecordUnlessHeld: (g, rec, from) => proposeRecordUnlessHeld(this.cores[g]!, rec, from),
      convergeMembership: (g, target, voters) => convergeStep(this.cores[g]!, target, voters),
      transferLeadership: (g, to) => this.cores[g]!.transferLeadership(to),
      readIndex: (g, ctx) => this.cores[g]!.readIndex(ctx),
      compact: (g, index, data) => this.cores[g]!.compact(index, data),
    };
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
    this.infos[g] = new CoreInfo(core.groups()[0]!);
    this.groupList = [...this.groupList, g].sort((a, b) => a - b);
    this.viewList = this.groupList.map((x) => this.cores[x]!.groups()[0]!);
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
    this.coord.tick();
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
    this.localLeaders = this.coord.localLeaders();
  }

  private proposeSlow(data: Uint8Array): ProposeResult {
    const rot = this.seq.rotation();
    let last: ProposeResult | null = null;
    for (let k = 0; k < rot.length; k++) {
      const g = this.coord.pickInstance();
      if (g === null) break;
      const r = this.cores[g]!.propose(data);
      if (r.ok) return OK;
      last = r;
      if (r.error === 'too-large') return r;
    }
    if (last) return last;
    // A leader here that has not yet committed an entry of its term takes commands in a moment.
    if (this.coord.hasUnestablishedLeader()) return { ok: false, error: 'busy', leader: this.id };
    return { ok: false, error: 'no-leader', leader: NONE };
  }

  readIndex(ctx: number): void {
    this.coord.readIndex(ctx);
  }

  compact(appliedIndex: number, data: Uint8Array): void {
    this.coord.compact(appliedIndex, data);
  }

  proposeMembership(change: MembershipChange): ProposeResult {
    return this.coord.proposeMembership(change);
  }

  transferLeadership(to: NodeId): boolean {
    let any = false;
    for (const g of this.groupList) if (this.infos[g]!.established && this.cores[g]!.transferLeadership(to)) any = true;
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

  proposeInstances(n: number): ProposeResult {
    return this.coord.proposeInstances(n);
  }

  // ---------------------------------------------------------------- outputs

  hasReady(): boolean {
    if (this.coord.hasReadStates()) return true;
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
        if (w.snapshot) this.restoreDecision.set(w.snapshot, this.coord.install(w.snapshot.data));
        if (writes === EMPTY) writes = [];
        (writes as GroupWrite[]).push(w);
      }
    }
    for (const s of subs) this.coord.offer(s.group, s.rd.committed);
    for (const s of subs) for (const rs of s.rd.readStates) this.coord.onReadState(rs);
    const out: Entry[] = [];
    this.coord.merge(out);
    const readStates = this.coord.takeReadStates();
    const rd: Ready<RaftMessage> = {
      writes,
      mustSync,
      sendNow: concat(subs, nNow, (r) => r.sendNow),
      sendAfterPersist: concat(subs, nAfter, (r) => r.sendAfterPersist),
      committed: out,
      readStates: readStates.length > 0 ? readStates : EMPTY,
    };
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

  /** The state-machine image to restore for a snapshot in Ready.writes, or null: do not restore. */
  snapshotImage(snapshot: Snapshot): Uint8Array | null {
    return this.restoreDecision.get(snapshot) ?? null;
  }

  /** On restart: the image the host restores before applying committed output (null: none). */
  restartImage(): Uint8Array | null {
    return this.restartImg;
  }

  // ---------------------------------------------------------------- views

  groups(): readonly GroupView[] {
    return this.viewList;
  }

  /** The sequencer (read-only use: tests, status, the controller). */
  sequencer(): Sequencer {
    return this.seq;
  }

  /** The coordinator (tests). */
  coordinator(): Coordinator {
    return this.coord;
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
    for (const k of COORDINATOR_COUNTERS) counters[k] = this.coord.counters[k];
    counters.instances = this.seq.instances;
    counters.epoch = this.seq.epoch;
    counters.globalSlots = this.seq.q;
    counters.outputIndex = this.seq.p;
    counters.skipLambda = this.coord.pacerLambda;
    counters.skipIntervalTicks = this.coord.pacerInterval;
    return { rejected, counters };
  }
}

const EMPTY_DATA = new Uint8Array(0);

function concat(subs: readonly SubReady[], n: number, pick: (r: Ready<RaftMessage>) => readonly RaftMessage[]): readonly RaftMessage[] {
  if (n === 0) return EMPTY;
  if (subs.length === 1) return pick(subs[0]!.rd);
  const out: RaftMessage[] = new Array(n);
  let i = 0;
  for (const s of subs) for (const m of pick(s.rd)) out[i++] = m;
  return out;
}
