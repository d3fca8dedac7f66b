// A tiny deterministic in-memory harness for scenario tests of the Raft core: a network that can
// hold, drop and partition messages, ticks, durable stores built only from what Ready.writes
// demanded, crash-restart from those stores, and a toy state machine (the list of applied commands).
import assert from 'node:assert/strict';
import { EntryType } from '../../runtime/protocols/api.js';
import type { Entry, HardState, Membership, NodeId, ReadState, Ready, Snapshot } from '../../runtime/protocols/api.js';
import { RaftCore } from '../../runtime/protocols/raft/core.js';
import { describeMessage } from '../../runtime/protocols/raft/messages.js';
import type { RaftMessage } from '../../runtime/protocols/raft/messages.js';
import type { RaftOptions } from '../../runtime/protocols/raft/options.js';
import { SeededRng } from '../../runtime/protocols/rng.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

export interface Store {
  hard: HardState;
  snapshot: Snapshot | null;
  entries: Entry[];
}

export interface Applied {
  /** Commands applied, in order (Normal entries only), as text. */
  commands: string[];
  /** Log index of the last applied entry (or snapshot). */
  index: number;
}

export class Cluster {
  readonly cores = new Map<NodeId, RaftCore>();
  readonly stores = new Map<NodeId, Store>();
  readonly sm = new Map<NodeId, Applied>();
  readonly reads = new Map<NodeId, ReadState[]>();
  /** Messages sent and not yet delivered or dropped. */
  network: RaftMessage[] = [];
  /** Every message delivered, as text (useful when a scenario fails). */
  readonly trace: string[] = [];
  readonly leadersByTerm = new Map<number, Set<NodeId>>();
  private readonly cut = new Set<string>();
  private readonly down = new Set<NodeId>();
  private readonly bootstrap = new Map<NodeId, Membership>();
  private readonly rngs = new Map<NodeId, SeededRng>();
  dropped = 0;

  constructor(
    voters: NodeId[],
    readonly options: Partial<RaftOptions> = {},
    extra: { learners?: NodeId[]; seed?: number } = {},
  ) {
    const membership: Membership = { voters, learners: extra.learners ?? [] };
    for (const id of [...voters, ...(extra.learners ?? [])]) this.start(id, membership, extra.seed ?? 1);
  }

  private start(id: NodeId, membership: Membership, seed: number): void {
    this.bootstrap.set(id, membership);
    this.rngs.set(id, new SeededRng(seed * 1000 + id));
    this.stores.set(id, { hard: { term: 0, vote: 0, commit: 0 }, snapshot: null, entries: [] });
    this.sm.set(id, { commands: [], index: 0 });
    this.reads.set(id, []);
    this.cores.set(id, this.build(id, {}));
  }

  private build(id: NodeId, extraOptions: Partial<RaftOptions>): RaftCore {
    const st = this.stores.get(id)!;
    const fresh = st.hard.term === 0 && st.snapshot === null && st.entries.length === 0;
    return new RaftCore(
      {
        id,
        membership: this.bootstrap.get(id)!,
        rng: this.rngs.get(id)!,
        durable: fresh ? [] : [{ group: this.options.group ?? 0, hardState: st.hard, snapshot: st.snapshot, entries: [...st.entries] }],
      },
      { ...this.options, ...extraOptions },
    );
  }

  /** A new replica that joins with an empty configuration and learns it from the leader. */
  addNode(id: NodeId, seed = 1): RaftCore {
    this.start(id, { voters: [], learners: [] }, seed);
    return this.core(id);
  }

  core(id: NodeId): RaftCore {
    const c = this.cores.get(id);
    assert.ok(c, `node ${id} is not running`);
    return c;
  }

  view(id: NodeId) {
    return this.core(id).groups()[0]!;
  }

  ids(): NodeId[] {
    return [...this.cores.keys()].sort((a, b) => a - b);
  }

  /** The node every running replica agrees is leader in the highest term, if any. */
  leader(): NodeId | undefined {
    let best: NodeId | undefined;
    let bestTerm = -1;
    for (const id of this.ids()) {
      const v = this.view(id);
      if (v.role === 'leader' && v.term > bestTerm) {
        best = id;
        bestTerm = v.term;
      }
    }
    return best;
  }

  // ------------------------------------------------------------------ network

  isolate(id: NodeId): void {
    for (const other of this.stores.keys()) {
      if (other === id) continue;
      this.cut.add(`${id}>${other}`);
      this.cut.add(`${other}>${id}`);
    }
  }

  /** Cuts every link between the two sides. */
  partition(a: NodeId[], b: NodeId[]): void {
    for (const x of a)
      for (const y of b) {
        this.cut.add(`${x}>${y}`);
        this.cut.add(`${y}>${x}`);
      }
  }

  /** Cuts only the direction from -> to. */
  cutLink(from: NodeId, to: NodeId): void {
    this.cut.add(`${from}>${to}`);
  }

  heal(): void {
    this.cut.clear();
  }

  /** Delivers the in-flight messages accepted by `pick` (all by default); returns how many. */
  deliver(pick: (m: RaftMessage) => boolean = () => true): number {
    const now = this.network;
    this.network = [];
    let n = 0;
    for (const m of now) {
      if (!pick(m)) {
        this.network.push(m);
        continue;
      }
      if (this.down.has(m.to) || !this.cores.has(m.to) || this.cut.has(`${m.from}>${m.to}`)) {
        this.dropped++;
        this.trace.push(`drop ${describeMessage(m)}`);
        continue;
      }
      this.trace.push(describeMessage(m));
      this.core(m.to).step(m);
      n++;
    }
    return n;
  }

  /** Discards in-flight messages accepted by `pick`. */
  drop(pick: (m: RaftMessage) => boolean = () => true): number {
    const before = this.network.length;
    this.network = this.network.filter((m) => !pick(m));
    const n = before - this.network.length;
    this.dropped += n;
    return n;
  }

  // ------------------------------------------------------------------ time and readiness

  tick(id: NodeId, n = 1): void {
    for (let i = 0; i < n; i++) this.core(id).tick();
  }

  tickAll(n = 1): void {
    for (let i = 0; i < n; i++) for (const id of this.ids()) this.core(id).tick();
  }

  /** Ticks every node once and stabilizes, n times. */
  run(n: number): void {
    for (let i = 0; i < n; i++) {
      this.tickAll(1);
      this.stabilize();
    }
  }

  /** Processes ready output and delivers messages until nothing moves. */
  stabilize(maxRounds = 10_000): void {
    for (let round = 0; round < maxRounds; round++) {
      let moved = false;
      for (const id of this.ids()) {
        const c = this.core(id);
        while (c.hasReady()) {
          this.handle(id, c.ready());
          moved = true;
        }
      }
      if (this.network.length > 0) {
        this.deliver();
        moved = true;
      }
      if (!moved) return;
    }
    assert.fail(`cluster did not stabilize within ${maxRounds} rounds`);
  }

  /** Handles one Ready exactly as the contract says: persist, send, apply, answer reads, advance. */
  handle(id: NodeId, rd: Ready<RaftMessage>, opts: { advance?: boolean } = {}): void {
    const c = this.core(id);
    this.network.push(...rd.sendNow);
    this.persist(id, rd);
    this.network.push(...rd.sendAfterPersist);
    this.apply(id, rd.committed);
    this.reads.get(id)!.push(...rd.readStates);
    const v = c.groups()[0]!;
    if (v.role === 'leader') {
      let s = this.leadersByTerm.get(v.term);
      if (!s) this.leadersByTerm.set(v.term, (s = new Set()));
      s.add(id);
    }
    if (opts.advance !== false) c.advance(rd);
  }

  persist(id: NodeId, rd: Ready<RaftMessage>): void {
    const st = this.stores.get(id)!;
    for (const w of rd.writes) {
      if (w.snapshot) {
        const s = w.snapshot;
        const keepTail = st.entries.some((e) => e.index === s.meta.index && e.term === s.meta.term);
        st.entries = keepTail ? st.entries.filter((e) => e.index > s.meta.index) : [];
        st.snapshot = s;
        this.restoreSm(id, s);
      }
      if (w.compacted) {
        st.snapshot = w.compacted;
        st.entries = st.entries.filter((e) => e.index > w.compacted!.meta.index);
      }
      if (w.entries.length > 0) {
        const first = w.entries[0]!.index;
        st.entries = st.entries.filter((e) => e.index < first);
        const expect = st.entries.length > 0 ? st.entries[st.entries.length - 1]!.index + 1 : (st.snapshot?.meta.index ?? 0) + 1;
        assert.equal(first, expect, `node ${id}: write starting at ${first} leaves a gap after ${expect - 1}`);
        st.entries.push(...w.entries);
      }
      if (w.hardState) st.hard = w.hardState;
    }
  }

  private apply(id: NodeId, ents: readonly Entry[]): void {
    const sm = this.sm.get(id)!;
    for (const e of ents) {
      assert.equal(e.index, sm.index + 1, `node ${id} applies ${e.index} after ${sm.index}`);
      sm.index = e.index;
      if (e.type === EntryType.Normal) sm.commands.push(dec.decode(e.data));
    }
  }

  private restoreSm(id: NodeId, s: Snapshot): void {
    const commands = JSON.parse(dec.decode(s.data)) as string[];
    this.sm.set(id, { commands, index: s.meta.index });
  }

  /** Takes a state-machine snapshot at the node's applied index and hands it to the core. */
  compact(id: NodeId): number {
    const sm = this.sm.get(id)!;
    this.core(id).compact(sm.index, enc.encode(JSON.stringify(sm.commands)));
    return sm.index;
  }

  // ------------------------------------------------------------------ crashes

  /** Stops a node; everything not in its store is lost, messages to it are dropped. */
  crash(id: NodeId): void {
    this.cores.delete(id);
    this.down.add(id);
  }

  /** Rebuilds a node from its store; its state machine restarts from the stored snapshot. */
  restart(id: NodeId, extraOptions: Partial<RaftOptions> = {}): RaftCore {
    this.down.delete(id);
    const st = this.stores.get(id)!;
    if (st.snapshot) this.restoreSm(id, st.snapshot);
    else this.sm.set(id, { commands: [], index: 0 });
    const c = this.build(id, extraOptions);
    this.cores.set(id, c);
    return c;
  }

  // ------------------------------------------------------------------ client-ish helpers

  propose(id: NodeId, text: string) {
    return this.core(id).propose(enc.encode(text));
  }

  /** Makes `id` leader by starting an election on it and letting the cluster settle. */
  elect(id: NodeId): void {
    this.core(id).campaign();
    this.stabilize();
    assert.equal(this.view(id).role, 'leader', `node ${id} failed to become leader:\n${this.trace.slice(-30).join('\n')}`);
  }

  commands(id: NodeId): string[] {
    return this.sm.get(id)!.commands;
  }

  // ------------------------------------------------------------------ safety

  /** Election safety, state-machine agreement, and no internal errors in any core. */
  checkSafety(): void {
    for (const [term, ids] of this.leadersByTerm) {
      assert.ok(ids.size <= 1, `two leaders in term ${term}: ${[...ids].join(', ')}`);
    }
    const ids = this.ids();
    for (const a of ids) {
      for (const b of ids) {
        const ca = this.commands(a);
        const cb = this.commands(b);
        const n = Math.min(ca.length, cb.length);
        assert.deepEqual(ca.slice(0, n), cb.slice(0, n), `nodes ${a} and ${b} applied different commands`);
      }
      const st = this.core(a).stats();
      assert.equal(st.counters.internalErrors, 0, `node ${a} internal error: ${String(this.core(a).lastInternalError)}`);
    }
  }
}

export function text(data: Uint8Array): string {
  return dec.decode(data);
}

export function bytes(s: string): Uint8Array {
  return enc.encode(s);
}
