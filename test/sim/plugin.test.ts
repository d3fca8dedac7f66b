// The simulator takes any ProtocolFactory: a minimal single-node "solo" protocol, written here
// against runtime/protocols/api.ts only, runs through the same hosts, crash-restarts, snapshots,
// clients and checks. Alone it is correct (and passes); run as three replicas it is not (every
// replica leads term 1), and the checks say so.
//
// Like a Raft leader, a restarted solo node takes a new term and makes it durable before it
// accepts proposals: otherwise it could write a different entry under an (index, term) it had
// already used before the crash, which the log-matching check rightly reports (the first version
// of this test did exactly that).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryType, NONE } from '../../runtime/protocols/api.js';
import type {
  CoreInit,
  Entry,
  Envelope,
  GroupView,
  HardState,
  Membership,
  ProposeResult,
  ProtocolCore,
  ProtocolFactory,
  ProtocolStats,
  Ready,
  ReadState,
  Snapshot,
} from '../../runtime/protocols/api.js';
import { registerProtocol } from '../../runtime/protocols/registry.js';
import { runSweep } from '../../runtime/sim/sweep.js';

class SoloCore implements ProtocolCore<Envelope> {
  readonly id: number;
  private readonly membership: Membership;
  private snapshot: Snapshot | null = null;
  private log: Entry[] = [];
  private stable = 0;
  private commit = 0;
  private applied = 0;
  private handedHard: HardState;
  private compacted: Snapshot | null = null;
  private reads: ReadState[] = [];
  private outstanding: { lastIndex: number; applied: number; term: number } | null = null;
  /** This incarnation's term; it leads once that term is durable. */
  private readonly term: number;
  private leading = false;

  constructor(init: CoreInit) {
    this.id = init.id;
    this.membership = init.membership;
    const d = init.durable[0];
    if (d) {
      this.snapshot = d.snapshot;
      this.log = d.entries.slice();
      this.commit = d.hardState.commit;
    }
    this.applied = this.base();
    this.stable = this.lastIndex();
    this.handedHard = d ? d.hardState : { term: 0, vote: NONE, commit: 0 };
    this.term = this.handedHard.term + 1;
  }

  private base(): number {
    return this.snapshot ? this.snapshot.meta.index : 0;
  }
  private lastIndex(): number {
    return this.base() + this.log.length;
  }

  step(): void {}
  tick(): void {}
  propose(data: Uint8Array): ProposeResult {
    if (!this.leading) return { ok: false, error: 'no-leader', leader: NONE };
    const e: Entry = { index: this.lastIndex() + 1, term: this.term, type: EntryType.Normal, data };
    this.log.push(e);
    return { ok: true, index: e.index };
  }
  readIndex(ctx: number): void {
    this.reads.push(this.leading ? { ctx, index: this.commit } : { ctx, error: 'not-leader', leader: NONE });
  }
  hasReady(): boolean {
    return (
      this.stable < this.lastIndex() ||
      this.commit > this.applied ||
      this.reads.length > 0 ||
      this.compacted !== null ||
      this.handedHard.term !== this.term ||
      this.handedHard.commit !== this.commit
    );
  }
  ready(): Ready<Envelope> {
    const entries = this.log.slice(this.stable - this.base());
    const hard = this.handedHard.term !== this.term || this.handedHard.commit !== this.commit ? { term: this.term, vote: this.id, commit: this.commit } : null;
    const mustSync = entries.length > 0 || this.handedHard.term !== this.term;
    if (hard) this.handedHard = hard;
    const committed = this.log.slice(this.applied - this.base(), this.commit - this.base());
    const rd: Ready<Envelope> = {
      writes: hard || entries.length > 0 || this.compacted ? [{ group: 0, hardState: hard, entries, snapshot: null, compacted: this.compacted }] : [],
      mustSync,
      sendNow: [],
      sendAfterPersist: [],
      committed,
      readStates: this.reads,
    };
    this.compacted = null;
    this.reads = [];
    this.outstanding = { lastIndex: this.lastIndex(), applied: this.commit, term: this.handedHard.term };
    return rd;
  }
  advance(): void {
    const o = this.outstanding!;
    this.outstanding = null;
    this.applied = Math.max(this.applied, o.applied);
    // Durable now: a single node's own copy is a quorum.
    this.stable = o.lastIndex;
    this.commit = o.lastIndex;
    if (o.term === this.term) this.leading = true;
  }
  compact(appliedIndex: number, data: Uint8Array): void {
    if (appliedIndex <= this.base() || appliedIndex > this.applied) return;
    const base = this.base();
    const term = this.log[appliedIndex - base - 1]!.term;
    this.snapshot = { meta: { index: appliedIndex, term, membership: this.membership }, data };
    this.log = this.log.slice(appliedIndex - base);
    this.compacted = this.snapshot;
  }
  proposeMembership(): ProposeResult {
    return { ok: false, error: 'not-member', leader: this.id };
  }
  transferLeadership(): boolean {
    return false;
  }
  groups(): readonly GroupView[] {
    const self = this;
    return [
      {
        group: 0,
        role: this.leading ? 'leader' : 'candidate',
        term: this.term,
        leader: this.id,
        vote: this.id,
        commit: this.commit,
        membership: this.membership,
        firstIndex: this.base() + 1,
        lastIndex: this.lastIndex(),
        termAt: (i) => (i === self.base() ? (self.snapshot?.meta.term ?? 0) : self.log[i - self.base() - 1]?.term),
        entryAt: (i) => (i > self.base() ? self.log[i - self.base() - 1] : undefined),
      },
    ];
  }
  stats(): ProtocolStats {
    return { rejected: {}, counters: {} };
  }
}

const solo: ProtocolFactory<Envelope> = {
  name: 'solo',
  create: (init) => new SoloCore(init),
  codec: { encode: () => new Uint8Array(0), decode: () => ({ from: 0, to: 0 }) },
};
registerProtocol(solo);

test('a plug-in protocol runs through the simulator unchanged: one solo replica is safe and linearizable', () => {
  const s = runSweep({ protocol: 'solo', from: 1, seeds: 40, bugs: [], protocolOptions: {}, sim: { replicas: 1 }, untilFailure: false });
  assert.deepEqual(s.failing_seeds, [], s.first_failure?.what);
  assert.ok(s.crashes > 20 && s.compactions > 20, `crashes ${s.crashes}, compactions ${s.compactions}`);
  assert.ok(s.ops > 40 * 50);
});

test('three solo replicas are not a replicated service, and the checks say so', () => {
  const s = runSweep({ protocol: 'solo', from: 1, seeds: 5, bugs: [], protocolOptions: {}, sim: { replicas: 3 }, untilFailure: false });
  assert.equal(s.failing_seeds.length, 5);
  assert.equal(s.violation_kinds['election-safety'], 5);
});
