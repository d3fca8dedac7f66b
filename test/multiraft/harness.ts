// A small deterministic cluster of multi-Raft cores for scenario tests: instant in-memory network
// (with isolation), durable stores built only from Ready.writes (the simulator's DurableStore, which
// also checks the persistence contract), crash-restart, and a toy state machine whose snapshot is
// JSON of the commands it applied. Every replica's applied output is checked against every other's.
import assert from 'node:assert/strict';
import type { Entry, Membership, NodeId, ReadState, Ready } from '../../runtime/protocols/api.js';
import { MultiRaftCore } from '../../runtime/protocols/multiraft/core.js';
import type { RaftMessage } from '../../runtime/protocols/raft/messages.js';
import { SeededRng } from '../../runtime/protocols/rng.js';
import { DurableStore } from '../../runtime/sim/durable-store.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

interface Sm {
  index: number;
  cmds: string[];
}

interface Node {
  core: MultiRaftCore | null;
  readonly store: DurableStore;
  sm: Sm;
  reads: ReadState[];
  incarnation: number;
}

export class MrCluster {
  readonly nodes = new Map<NodeId, Node>();
  private net: RaftMessage[] = [];
  private readonly isolated = new Set<NodeId>();
  /** Messages matching this are dropped (a selectively broken link). */
  private blockPred: ((m: RaftMessage) => boolean) | null = null;
  /** Output index -> command, as first applied anywhere (global-log agreement). */
  private readonly global: string[] = [];
  private readonly membership: Membership;
  private readonly rng: SeededRng;
  steps = 0;

  constructor(
    ids: NodeId[],
    readonly options: Record<string, unknown>,
    readonly seed = 1,
  ) {
    this.membership = { voters: ids, learners: [] };
    this.rng = new SeededRng(seed);
    for (const id of ids) {
      this.nodes.set(id, { core: null, store: new DurableStore(), sm: { index: 0, cmds: [] }, reads: [], incarnation: 0 });
      this.start(id);
    }
  }

  core(id: NodeId): MultiRaftCore {
    const c = this.nodes.get(id)!.core;
    assert.ok(c, `replica ${id} is down`);
    return c;
  }

  sm(id: NodeId): Sm {
    return this.nodes.get(id)!.sm;
  }

  reads(id: NodeId): ReadState[] {
    return this.nodes.get(id)!.reads;
  }

  private start(id: NodeId): void {
    const n = this.nodes.get(id)!;
    n.incarnation++;
    const durable = n.store.isEmpty() ? [] : n.store.durableState();
    const core = new MultiRaftCore(
      { id, membership: this.membership, rng: new SeededRng(this.seed * 7919 + id * 131 + n.incarnation), durable },
      this.options,
    );
    n.core = core;
    n.sm = { index: 0, cmds: [] };
    n.reads = [];
    const img = core.restartImage();
    if (img) n.sm = JSON.parse(dec.decode(img)) as Sm;
  }

  crash(id: NodeId): void {
    this.nodes.get(id)!.core = null;
    this.net = this.net.filter((m) => m.to !== id && m.from !== id);
  }

  restart(id: NodeId): void {
    this.start(id);
  }

  isolate(id: NodeId): void {
    this.isolated.add(id);
  }

  heal(): void {
    this.isolated.clear();
    this.blockPred = null;
  }

  /** Drop every message matching `pred` until heal(). */
  block(pred: (m: RaftMessage) => boolean): void {
    this.blockPred = pred;
  }

  propose(id: NodeId, text: string): boolean {
    const r = this.core(id).propose(enc.encode(text));
    return r.ok;
  }

  compact(id: NodeId): void {
    const n = this.nodes.get(id)!;
    this.core(id).compact(n.sm.index, enc.encode(JSON.stringify(n.sm)));
  }

  /** Handle every Ready of every live replica (persisting instantly), then deliver the messages. */
  step(deliver = true): void {
    this.steps++;
    for (const [id, n] of this.nodes) {
      const core = n.core;
      if (!core) continue;
      for (let guard = 0; core.hasReady() && guard < 100; guard++) this.handle(id, n, core, core.ready());
    }
    if (!deliver) return;
    const batch = this.net;
    this.net = [];
    // Deliver in a seeded shuffled order: instances interleave differently on each replica.
    for (let i = batch.length - 1; i > 0; i--) {
      const j = this.rng.nextInt(i + 1);
      [batch[i], batch[j]] = [batch[j]!, batch[i]!];
    }
    for (const m of batch) {
      if (this.isolated.has(m.from) || this.isolated.has(m.to)) continue;
      if (this.blockPred && this.blockPred(m)) continue;
      const to = this.nodes.get(m.to);
      to?.core?.step(m);
    }
  }

  private handle(id: NodeId, n: Node, core: MultiRaftCore, rd: Ready<RaftMessage>): void {
    for (const w of rd.writes) {
      const problem = n.store.apply(w);
      assert.equal(problem, null, `replica ${id}: ${problem}`);
      if (w.snapshot) {
        const img = core.snapshotImage(w.snapshot);
        if (img) n.sm = JSON.parse(dec.decode(img)) as Sm;
      }
    }
    for (const m of rd.sendNow) this.net.push(m);
    for (const m of rd.sendAfterPersist) this.net.push(m);
    for (const e of rd.committed) this.apply(id, n, e);
    for (const r of rd.readStates) n.reads.push(r);
    core.advance(rd);
  }

  private apply(id: NodeId, n: Node, e: Entry): void {
    if (e.index <= n.sm.index) return;
    assert.equal(e.index, n.sm.index + 1, `replica ${id} applies ${e.index} after ${n.sm.index}`);
    const t = dec.decode(e.data);
    const prev = this.global[e.index];
    if (prev === undefined) this.global[e.index] = t;
    else assert.equal(t, prev, `replica ${id} applies ${JSON.stringify(t)} at ${e.index}, another applied ${JSON.stringify(prev)}`);
    n.sm.index = e.index;
    n.sm.cmds.push(t);
  }

  tick(): void {
    for (const n of this.nodes.values()) n.core?.tick();
  }

  /** Steps and ticks until `done()` holds (or fails after maxTicks ticks). */
  runUntil(done: () => boolean, maxTicks = 2000, stepsPerTick = 3): number {
    for (let t = 0; t < maxTicks; t++) {
      for (let s = 0; s < stepsPerTick; s++) {
        this.step();
        if (done()) return t;
      }
      this.tick();
    }
    assert.fail(`condition not reached within ${maxTicks} ticks`);
  }

  run(ticks: number, stepsPerTick = 3): void {
    for (let t = 0; t < ticks; t++) {
      for (let s = 0; s < stepsPerTick; s++) this.step();
      this.tick();
    }
  }

  /** Every live replica knows a leader for every instance of the rotation, and that leader has
   *  committed an entry of its term (it takes commands from then on). */
  allLed(): boolean {
    for (const n of this.nodes.values()) {
      if (!n.core) continue;
      for (const g of n.core.sequencer().rotation()) {
        const v = n.core.groups().find((x) => x.group === g);
        if (!v || v.leader === 0) return false;
        const lv = this.nodes.get(v.leader)?.core?.groups().find((x) => x.group === g);
        if (!lv || lv.role !== 'leader' || lv.termAt(lv.commit) !== lv.term) return false;
      }
    }
    return true;
  }

  /** Every live replica's state machine holds a prefix of the one global log. */
  checkAgreement(): void {
    const g = this.globalLog();
    for (const [id, n] of this.nodes) {
      if (!n.core) continue;
      assert.deepEqual(n.sm.cmds, g.slice(0, n.sm.cmds.length), `replica ${id} state differs from the global log`);
      assert.equal(n.sm.index, n.sm.cmds.length);
    }
  }

  globalLog(): string[] {
    return this.global.slice(1);
  }
}

export { enc, dec };
