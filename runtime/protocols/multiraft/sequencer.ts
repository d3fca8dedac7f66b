// The sequencer: merges the committed entries of R instance logs into one global log, Niagara-style
// (docs/multiraft.md). Pure and deterministic: fed committed entries per instance, it emits client
// commands at consecutive output indexes; every replica that is fed the same instance logs emits
// the same global log.
//
// Merge rule: instances take turns in increasing id order; at its turn an instance contributes one
// slot: a plain entry is one slot, a Skip record is `count` slots, one per turn. If the instance in
// line has no committed entry yet, the merge waits for it, whatever the others hold.
// Changes of R are entries of the global log (records.ts); their effect is applied at the exact
// slot where they are merged, so every replica switches at the same point.
import { EntryType } from '../api.js';
import type { Entry, Membership } from '../api.js';
import { applyChange } from '../raft/membership.js';
import { decodeRecord, slotWeight } from './records.js';
import type { ControlRecord } from './records.js';
import { GroupMode, cloneState, copyMembership, newCursor, turnOf } from './state.js';
import type { GroupCursor, MergeState } from './state.js';

export interface SequencerListener {
  /** An instance must exist from now on (created by a change of R or named by a restored state). */
  instanceNeeded(group: number, bootstrap: Membership | undefined): void;
}

export interface SequencerCounters {
  /** Slots merged (including skipped ones). */
  slots: number;
  commands: number;
  noops: number;
  skipRecords: number;
  skipSlots: number;
  records: number;
  /** Entries outside the global log: before a Join, after a Seal, or of idle instances. */
  excluded: number;
  changesApplied: number;
  changesIgnored: number;
  membershipChanges: number;
  transitionsCompleted: number;
  jumps: number;
  /** Committed entries that arrived out of sequence (a bug if ever non-zero). */
  gaps: number;
}

class Buffer {
  ents: Entry[] = [];
  head = 0;
  /** Slots the buffered entries stand for (minus those already taken from a partial Skip). */
  slots = 0;

  size(): number {
    return this.ents.length - this.head;
  }
  peek(): Entry | undefined {
    return this.ents[this.head];
  }
  last(): Entry | undefined {
    return this.head < this.ents.length ? this.ents[this.ents.length - 1] : undefined;
  }
  pop(): void {
    this.head++;
    if (this.head === this.ents.length) {
      this.ents.length = 0;
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > this.ents.length) {
      this.ents = this.ents.slice(this.head);
      this.head = 0;
    }
  }
  clear(): void {
    this.ents = [];
    this.head = 0;
    this.slots = 0;
  }
}

export interface SequencerOptions {
  readonly maxInstances: number;
  /** BUG (injected): when the instance in line has nothing, take the next one that has. */
  readonly mergeOutOfOrder: boolean;
}

export type ReadStatus = 'ready' | 'wait' | 'reroute';

/** A sequencer as plain data (structured-cloneable): what moves when its host moves threads. */
export interface SequencerExport {
  readonly state: MergeState;
  readonly buffers: ({ readonly ents: readonly Entry[]; readonly slots: number } | undefined)[];
  readonly counters: SequencerCounters;
  readonly checkpoints: readonly MergeState[];
  readonly lastCheckpointQ: number;
}

/** What an instance's leader may have to propose for the merge to go on. */
export type AwaitedRecord = Extract<ControlRecord, { kind: 'seal' | 'join' }>;

export class Sequencer {
  private s: MergeState;
  private bufs: Buffer[] = [];
  readonly counters: SequencerCounters = {
    slots: 0,
    commands: 0,
    noops: 0,
    skipRecords: 0,
    skipSlots: 0,
    records: 0,
    excluded: 0,
    changesApplied: 0,
    changesIgnored: 0,
    membershipChanges: 0,
    transitionsCompleted: 0,
    jumps: 0,
    gaps: 0,
  };
  /** Merge states at recent output points, for compaction (oldest first). */
  private checkpoints: MergeState[] = [];
  private lastCheckpointQ = -1;

  constructor(
    initial: MergeState,
    private readonly o: SequencerOptions,
    private readonly listener: SequencerListener,
    private readonly maxCheckpoints = 64,
  ) {
    this.s = cloneState(initial);
    for (let g = 0; g < this.s.cursors.length; g++) if (this.s.cursors[g]) this.bufs[g] = new Buffer();
    this.checkpoint();
  }

  /** Everything needed to continue exactly from here elsewhere (fromExport). */
  exportState(): SequencerExport {
    return {
      state: cloneState(this.s),
      buffers: this.bufs.map((b) => (b ? { ents: b.ents.slice(b.head), slots: b.slots } : undefined)),
      counters: { ...this.counters },
      checkpoints: this.checkpoints.map(cloneState),
      lastCheckpointQ: this.lastCheckpointQ,
    };
  }

  /** A sequencer continuing from an export (the listener is not called for existing instances). */
  static fromExport(x: SequencerExport, o: SequencerOptions, listener: SequencerListener, maxCheckpoints = 64): Sequencer {
    const seq = new Sequencer(x.state, o, listener, maxCheckpoints);
    seq.bufs = [];
    x.buffers.forEach((b, g) => {
      if (!b) return;
      const buf = new Buffer();
      buf.ents = b.ents.slice();
      buf.slots = b.slots;
      seq.bufs[g] = buf;
    });
    Object.assign(seq.counters, x.counters);
    seq.checkpoints = x.checkpoints.map(cloneState);
    seq.lastCheckpointQ = x.lastCheckpointQ;
    return seq;
  }

  // ------------------------------------------------------------------ queries

  get q(): number {
    return this.s.q;
  }
  get p(): number {
    return this.s.p;
  }
  get epoch(): number {
    return this.s.epoch;
  }
  get instances(): number {
    return this.s.instances;
  }
  /** A live view of the merge state; do not modify. */
  state(): Readonly<MergeState> {
    return this.s;
  }
  rotation(): readonly number[] {
    return this.s.rotation;
  }
  turn(): number {
    return turnOf(this.s);
  }
  cursor(group: number): Readonly<GroupCursor> | undefined {
    return this.s.cursors[group];
  }
  /** Committed slots of an instance waiting to be merged (c_r of Niagara §3.2). */
  pendingSlots(group: number): number {
    return this.bufs[group]?.slots ?? 0;
  }
  bufferedEntries(group: number): number {
    return this.bufs[group]?.size() ?? 0;
  }
  /** Instances that may take new client commands: in the rotation, active, not about to leave. */
  isOpen(group: number): boolean {
    const c = this.s.cursors[group];
    if (!c || c.mode !== GroupMode.Active || !this.s.rotation.includes(group)) return false;
    return !(this.s.transition && this.s.transition.pendingSeal.includes(group));
  }
  /** The replica set every instance should be brought to. */
  members(): Membership {
    return this.s.members;
  }

  /** The control record an instance's leader must propose for the merge to go on, if any. */
  awaitedRecord(group: number): AwaitedRecord | null {
    const c = this.s.cursors[group];
    if (!c) return null;
    const t = this.s.transition;
    // A Joining instance must join first: until then the merge drops everything else it holds,
    // a Seal included (it can be removed again before its first turn).
    if (c.mode === GroupMode.Joining) return { kind: 'join', epoch: c.joinEpoch };
    if (t && t.pendingSeal.includes(group)) return { kind: 'seal', epoch: t.epoch };
    return null;
  }

  // ------------------------------------------------------------------ input

  /** Committed entries of one instance, in index order (repeats and already merged ones are dropped). */
  offer(group: number, entries: readonly Entry[]): void {
    const c = this.s.cursors[group];
    if (!c) return;
    const b = this.bufs[group]!;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      const expect = c.next + b.size();
      if (e.index < expect) continue;
      if (c.mode === GroupMode.Active) {
        if (e.index > expect) {
          this.counters.gaps++;
          continue;
        }
      } else if (b.size() === 0) {
        // Idle or Joining: entries before the Join record are not part of the global log, so
        // positions need not be contiguous here and only a possibly relevant Join is kept.
        if (!this.joinMayMatter(c, e)) {
          c.next = e.index + 1;
          this.counters.excluded++;
          continue;
        }
        c.next = e.index;
      } else if (e.index > expect) {
        this.counters.gaps++;
        continue;
      }
      b.ents.push(e);
      b.slots += slotWeight(e);
    }
  }

  /** Whether an entry of an Idle or Joining instance could be the Join record it will wait for. */
  private joinMayMatter(c: GroupCursor, e: Entry): boolean {
    const rec = decodeRecord(e);
    if (rec === null || rec.kind !== 'join') return false;
    return c.mode === GroupMode.Joining ? rec.epoch === c.joinEpoch : rec.epoch > this.s.epoch;
  }

  /** Drops what an Idle or Joining instance holds before the Join record that can matter. */
  private retrim(g: number): void {
    const c = this.s.cursors[g]!;
    const b = this.bufs[g]!;
    while (b.size() > 0 && !this.joinMayMatter(c, b.peek()!)) {
      b.slots -= slotWeight(b.peek()!);
      b.pop();
      c.next++;
      this.counters.excluded++;
    }
    c.skipUsed = 0;
    if (b.size() === 0) b.slots = 0;
  }

  // ------------------------------------------------------------------ merge

  /** Merges as far as the instance logs allow; appends output entries to `out`. */
  merge(out: Entry[]): void {
    const s = this.s;
    for (;;) {
      let g = turnOf(s);
      let b = this.bufs[g]!;
      let e = b.peek();
      if (e === undefined) {
        if (!this.o.mergeOutOfOrder) break;
        // BUG (injected): do not wait for the instance in line; take the next one that has an entry.
        let found = false;
        for (let k = 1; k < s.rotation.length; k++) {
          const pos = (s.turnPos + k) % s.rotation.length;
          const g2 = s.rotation[pos]!;
          if (this.bufs[g2]!.size() > 0) {
            s.turnPos = pos;
            g = g2;
            b = this.bufs[g]!;
            e = b.peek()!;
            found = true;
            break;
          }
        }
        if (!found) break;
      }
      const c = s.cursors[g]!;
      if (c.mode === GroupMode.Joining) {
        const rec = decodeRecord(e!);
        if (rec === null || rec.kind !== 'join' || rec.epoch !== c.joinEpoch) {
          this.drop(g, c, b, e!);
          continue; // still this instance's turn
        }
        c.mode = GroupMode.Active;
      }
      this.takeSlot(g, c, b, e!, out);
    }
    this.checkpoint();
  }

  private drop(_g: number, c: GroupCursor, b: Buffer, e: Entry): void {
    b.slots -= slotWeight(e) - c.skipUsed;
    c.skipUsed = 0;
    b.pop();
    c.next++;
    this.counters.excluded++;
  }

  private takeSlot(g: number, c: GroupCursor, b: Buffer, e: Entry, out: Entry[]): void {
    const s = this.s;
    c.slots++;
    c.lastSlotIndex = e.index;
    s.q++;
    b.slots--;
    this.counters.slots++;
    if (e.type === EntryType.Skip) {
      this.counters.skipSlots++;
      if (c.skipUsed === 0) this.counters.skipRecords++;
      c.skipUsed++;
      if (c.skipUsed >= slotWeight(e)) {
        c.skipUsed = 0;
        b.pop();
        c.next++;
      }
      this.nextTurn(g, false);
      return;
    }
    b.pop();
    c.next++;
    // An empty Normal entry is a no-op that any replica can push through Raft's forwarding.
    if (e.type === EntryType.Normal && e.data.length > 0) {
      s.p++;
      this.counters.commands++;
      out.push({ index: s.p, term: e.term, type: EntryType.Normal, data: e.data });
      this.nextTurn(g, false);
      return;
    }
    const rec = e.type === EntryType.Noop ? decodeRecord(e) : null;
    if (rec === null) {
      this.counters.noops++;
      this.nextTurn(g, false);
      return;
    }
    this.counters.records++;
    this.nextTurn(g, this.applyRecord(g, rec));
  }

  /** Applies a merged control record; returns whether the rotation changed. */
  private applyRecord(g: number, rec: ControlRecord): boolean {
    const s = this.s;
    if (rec.kind === 'change') {
      if (s.transition !== null || rec.fromEpoch !== s.epoch || rec.instances < 1 || rec.instances > this.o.maxInstances) {
        this.counters.changesIgnored++;
        return false;
      }
      if (rec.instances === s.instances) {
        // Same R: nothing moves, but the epoch still advances so a repeated request is a no-op.
        s.epoch++;
        this.counters.changesApplied++;
        this.counters.transitionsCompleted++;
        return false;
      }
      this.counters.changesApplied++;
      const to = s.epoch + 1;
      const removed = s.rotation.filter((x) => x >= rec.instances);
      const added: number[] = [];
      for (let x = 0; x < rec.instances; x++) if (!s.rotation.includes(x)) added.push(x);
      for (const x of added) {
        let c = s.cursors[x];
        if (!c) {
          // A new instance starts from the replica set in force here, the same on every replica.
          const boot = copyMembership(s.members);
          c = newCursor(GroupMode.Joining, to);
          s.cursors[x] = c;
          s.bootstrap.set(x, boot);
          this.bufs[x] = new Buffer();
          this.listener.instanceNeeded(x, boot);
        } else {
          c.mode = GroupMode.Joining;
          c.joinEpoch = to;
          this.retrim(x);
        }
      }
      s.transition = { epoch: to, instances: rec.instances, pendingSeal: removed, added };
      if (removed.length === 0) return this.completeTransition();
      return false;
    }
    if (rec.kind === 'seal') {
      const t = s.transition;
      if (t === null || rec.epoch !== t.epoch || !t.pendingSeal.includes(g)) return false;
      t.pendingSeal = t.pendingSeal.filter((x) => x !== g);
      const c = s.cursors[g]!;
      c.mode = GroupMode.Idle;
      this.retrim(g);
      s.rotation = s.rotation.filter((x) => x !== g);
      if (t.pendingSeal.length === 0) this.completeTransition();
      return true;
    }
    if (rec.kind === 'members') {
      const out = applyChange(s.members, rec.change);
      if (out.ok && out.next !== null) {
        s.members = out.next;
        this.counters.membershipChanges++;
      }
      return false;
    }
    // A join record of an active instance (a repeat, or for another epoch) is an ordinary slot.
    return false;
  }

  private completeTransition(): boolean {
    const s = this.s;
    const t = s.transition!;
    s.epoch = t.epoch;
    s.instances = t.instances;
    s.rotation = Array.from({ length: t.instances }, (_, i) => i);
    s.transition = null;
    this.counters.transitionsCompleted++;
    return true;
  }

  /** Moves the turn to the instance after `g` (by id, cyclically) in the current rotation. */
  private nextTurn(g: number, rotationChanged: boolean): void {
    const s = this.s;
    const rot = s.rotation;
    if (!rotationChanged) {
      s.turnPos = s.turnPos + 1 === rot.length ? 0 : s.turnPos + 1;
      return;
    }
    let pos = 0;
    while (pos < rot.length && rot[pos]! <= g) pos++;
    s.turnPos = pos === rot.length ? 0 : pos;
  }

  // ------------------------------------------------------------------ reads (§3.4)

  /**
   * Whether a strongly consistent read may be served now, given that the leader of `group`
   * confirmed its commit index `index` after the read arrived. It may once this replica's global
   * log has grown up to (excluding) the slot that instance will contribute next after `index`:
   * Niagara's p_global = p_local,r * R + r, stated on the merge state so that it also holds across
   * Skip records and changes of R (docs/multiraft.md proves the two agree in a fixed epoch).
   * 'reroute': the instance left the global log at or before `index`; ask another one.
   */
  readStatus(group: number, index: number): ReadStatus {
    const s = this.s;
    const c = s.cursors[group];
    if (!c) return 'wait';
    if (c.next > index) {
      if (c.lastSlotIndex > index) return 'ready';
      if (c.mode !== GroupMode.Idle && turnOf(s) === group) return 'ready';
    }
    if (c.mode === GroupMode.Idle && !(s.transition && s.transition.added.includes(group))) return 'reroute';
    return 'wait';
  }

  // ------------------------------------------------------------------ checkpoints and jumps

  private checkpoint(): void {
    if (this.s.q === this.lastCheckpointQ) return;
    this.lastCheckpointQ = this.s.q;
    this.checkpoints.push(cloneState(this.s));
    if (this.checkpoints.length > this.maxCheckpoints) this.checkpoints.shift();
  }

  /** The newest recorded merge state whose output index is at or below `p`. */
  checkpointAtOrBelow(p: number): MergeState | null {
    for (let i = this.checkpoints.length - 1; i >= 0; i--) {
      const cp = this.checkpoints[i]!;
      if (cp.p <= p) return cp;
    }
    return null;
  }

  /**
   * Continue from a merge state taken from a snapshot (a lagging replica installing a leader's
   * snapshot). Only ever forward: returns false and changes nothing if `to` is not ahead.
   */
  jumpTo(to: MergeState): boolean {
    if (to.q <= this.s.q) return false;
    const next = cloneState(to);
    const prev = this.s;
    this.s = next;
    for (let g = 0; g < next.cursors.length; g++) {
      const c = next.cursors[g];
      if (!c) continue;
      const old = prev.cursors[g];
      if (!old) {
        this.bufs[g] = new Buffer();
        this.listener.instanceNeeded(g, next.bootstrap.get(g));
      }
      const b = this.bufs[g]!;
      if (c.mode !== GroupMode.Active) {
        // Positions before a Join are not part of the global log: start from whichever of the two
        // views has looked further (neither ever dropped a Join record that can still matter).
        if (old) c.next = Math.max(c.next, old.next);
        while (b.size() > 0 && b.peek()!.index < c.next) b.pop();
        if (b.size() > 0) c.next = b.peek()!.index;
        c.skipUsed = 0;
        this.recount(b);
        this.retrim(g);
        continue;
      }
      // Keep buffered entries the new state has not merged yet.
      while (b.size() > 0 && b.peek()!.index < c.next) b.pop();
      if (b.size() > 0 && b.peek()!.index !== c.next) {
        this.counters.gaps++;
        b.clear();
      }
      this.recount(b);
      b.slots -= c.skipUsed;
    }
    this.counters.jumps++;
    this.checkpoints = [];
    this.lastCheckpointQ = -1;
    this.checkpoint();
    return true;
  }

  private recount(b: Buffer): void {
    b.slots = 0;
    for (let i = b.head; i < b.ents.length; i++) b.slots += slotWeight(b.ents[i]!);
  }
}
