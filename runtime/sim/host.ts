// A simulated replica host: drives one protocol core the way a real replica process must, under
// the persistence contract of runtime/protocols/api.ts:
//   - `sendNow` goes out at once; `writes` are persisted and take an fsync's latency when mustSync;
//   - only after that fsync: `sendAfterPersist` goes out, `committed` is applied to the KV, reads
//     are answered, and advance() is called;
//   - a crash loses the core, the KV, pending client requests and every write not yet fsynced,
//     including the writes of mustSync=false Readys that no later fsync covered;
//     a restart rebuilds the core from exactly what the DurableStore holds.
// The injected host bug `send-before-persist` sends `sendAfterPersist` together with `sendNow`.
import { EntryType, hasInstanceControl } from '../protocols/api.js';
import type { Entry, Envelope, GroupView, Membership, MembershipChange, NodeId, ProtocolCore, ProtocolFactory, Ready, Rng } from '../protocols/api.js';
import { DurableStore } from './durable-store.js';
import type { InvariantChecker } from './invariants.js';
import { KvMachine, decodeCommand, encodeCommand } from './kv-machine.js';
import type { ClientReply, ClientRequest } from './messages.js';

export const HOST_BUGS = ['send-before-persist'] as const;

export interface HostEnv {
  now(): number;
  schedule(at: number, fire: () => void): void;
  sendToPeer(from: NodeId, to: NodeId, msg: Envelope): void;
  replyToClient(from: NodeId, reply: ClientReply): void;
  checker: InvariantChecker;
  trace: ((line: string) => void) | null;
  /** fsync latency for one write batch, in ms. */
  fsyncLatency(): number;
  /** Called as an fsync starts; the simulator may decide the replica dies before it completes. */
  onFsyncStart(host: SimHost, completesAt: number): void;
}

export interface HostConfig {
  readonly id: NodeId;
  readonly factory: ProtocolFactory<Envelope, any>;
  readonly options: Record<string, unknown>;
  readonly membership: Membership;
  readonly sendBeforePersist: boolean;
  /** Take a snapshot and compact after this many applied entries (0: never). */
  readonly compactEvery: number;
  /** A fresh Rng for each incarnation of the core. */
  readonly rngFor: (incarnation: number) => Rng;
}

interface WaitingRead {
  readonly index: number;
  readonly client: number;
  readonly seq: number;
  readonly key: string;
}

export class SimHost {
  readonly id: NodeId;
  readonly store = new DurableStore();
  core: ProtocolCore<Envelope> | null = null;
  private kv = new KvMachine();
  /** Bumped on crash and restart; callbacks from an older incarnation are ignored. */
  private epoch = 0;
  private incarnation = 0;
  private outstanding: Ready<Envelope> | null = null;
  private readonly pendingWrites = new Map<string, number[]>();
  private readonly pendingReads = new Map<number, { client: number; seq: number; key: string }>();
  private waitingReads: WaitingRead[] = [];
  private nextCtx = 1;
  private lastCompact = 0;
  /** Set when the core threw: the run is over. */
  broken = false;
  applied = 0;
  snapshotsInstalled = 0;
  compactions = 0;
  /** Writes without an fsync that crashes discarded (commit-only hard states, compactions). */
  unsyncedLost = 0;

  constructor(
    private readonly cfg: HostConfig,
    private readonly env: HostEnv,
  ) {
    this.id = cfg.id;
  }

  get alive(): boolean {
    return this.core !== null;
  }

  views(): readonly GroupView[] {
    return this.core ? this.core.groups() : [];
  }

  start(): void {
    this.epoch++;
    this.incarnation++;
    const durable = this.store.isEmpty() ? [] : this.store.durableState();
    this.kv = new KvMachine();
    try {
      this.core = this.cfg.factory.create(
        { id: this.id, membership: this.cfg.membership, rng: this.cfg.rngFor(this.incarnation), durable },
        this.cfg.options,
      );
    } catch (e) {
      this.fail('create', e);
      return;
    }
    // The state machine restarts from a durable snapshot (the protocol says which, if it wraps its
    // images; else the lowest-numbered group's); the core replays the rest.
    if (this.core.restartImage) {
      const img = this.core.restartImage();
      if (img) this.kv.restore(img);
    } else {
      for (const d of durable) {
        if (d.snapshot) {
          this.kv.restore(d.snapshot.data);
          break;
        }
      }
    }
    this.lastCompact = this.kv.appliedIndex;
    this.env.checker.onRestart(this.id);
    this.pump();
  }

  crash(): void {
    this.unsyncedLost += this.store.dropUnsynced();
    this.epoch++;
    this.core = null;
    this.outstanding = null;
    this.pendingWrites.clear();
    this.pendingReads.clear();
    this.waitingReads = [];
  }

  tick(): void {
    if (!this.core) return;
    this.core.tick();
    this.pump();
  }

  deliver(msg: Envelope): void {
    if (!this.core) return;
    this.core.step(msg);
    this.pump();
  }

  proposeMembership(change: MembershipChange): boolean {
    if (!this.core) return false;
    const r = this.core.proposeMembership(change);
    this.pump();
    return r.ok;
  }

  /** Change the number of consensus instances, for protocols that have several (multi-Raft). */
  proposeInstances(n: number): boolean {
    if (!this.core || !hasInstanceControl(this.core)) return false;
    const r = this.core.proposeInstances(n);
    this.pump();
    return r.ok;
  }

  instances(): number {
    return this.core && hasInstanceControl(this.core) ? this.core.instances() : 0;
  }

  transferLeadership(to: NodeId): boolean {
    if (!this.core) return false;
    const ok = this.core.transferLeadership(to);
    this.pump();
    return ok;
  }

  clientRequest(req: ClientRequest): void {
    const core = this.core;
    if (!core) return;
    const inp = req.input;
    if (inp.op === 'get') {
      const ctx = this.nextCtx++;
      this.pendingReads.set(ctx, { client: req.client, seq: req.seq, key: inp.key });
      core.readIndex(ctx);
    } else {
      const r = core.propose(encodeCommand({ client: req.client, seq: req.seq, input: inp }));
      if (r.ok) {
        const k = `${req.client}:${req.seq}`;
        const waiting = this.pendingWrites.get(k);
        if (waiting) {
          if (!waiting.includes(req.client)) waiting.push(req.client);
        } else this.pendingWrites.set(k, [req.client]);
      } else {
        this.env.replyToClient(this.id, { client: req.client, seq: req.seq, redirect: r.leader, why: r.error });
      }
    }
    this.pump();
  }

  /** Hands every Ready the core has to the "disk" and the network, respecting the contract. */
  private pump(): void {
    const core = this.core;
    if (!core || this.broken) return;
    try {
      while (this.core === core && this.outstanding === null && core.hasReady()) {
        const rd = core.ready();
        if (rd.writes.length > 0) this.env.checker.onWrites(this.id, core.groups(), rd.writes);
        for (const m of rd.sendNow) this.env.sendToPeer(this.id, m.to, m);
        if (this.cfg.sendBeforePersist) for (const m of rd.sendAfterPersist) this.env.sendToPeer(this.id, m.to, m);
        if (rd.mustSync) {
          this.outstanding = rd;
          const epoch = this.epoch;
          const at = this.env.now() + this.env.fsyncLatency();
          this.env.onFsyncStart(this, at);
          this.env.schedule(at, () => {
            if (this.epoch !== epoch || this.outstanding !== rd) return;
            this.env.trace?.(`fsync ${this.id} done`);
            this.outstanding = null;
            try {
              this.finish(rd);
            } catch (e) {
              this.fail('advance', e);
            }
            this.pump();
          });
          return;
        }
        this.finish(rd);
      }
    } catch (e) {
      this.fail('ready/advance', e);
    }
  }

  private finish(rd: Ready<Envelope>): void {
    const core = this.core!;
    for (const w of rd.writes) {
      if (!rd.mustSync) {
        // Not fsynced: durable only once a later write is, and lost if the replica dies first.
        this.store.applyUnsynced(w);
        continue;
      }
      const problem = this.store.applySynced(w);
      if (problem) this.env.checker.report('persistence-contract', `replica ${this.id}: ${problem}`);
      if (w.snapshot) {
        const img = core.snapshotImage ? core.snapshotImage(w.snapshot) : w.snapshot.data;
        if (!img) continue;
        this.kv.restore(img);
        this.snapshotsInstalled++;
        this.env.trace?.(`install ${this.id} snapshot ${w.snapshot.meta.index}/${w.snapshot.meta.term}`);
        this.lastCompact = this.kv.appliedIndex;
      }
    }
    if (!this.cfg.sendBeforePersist) for (const m of rd.sendAfterPersist) this.env.sendToPeer(this.id, m.to, m);
    for (const e of rd.committed) this.applyEntry(e);
    for (const rs of rd.readStates) {
      const pending = this.pendingReads.get(rs.ctx);
      if (!pending) continue;
      this.pendingReads.delete(rs.ctx);
      if ('error' in rs) {
        this.env.replyToClient(this.id, { client: pending.client, seq: pending.seq, redirect: rs.leader, why: rs.error });
      } else {
        this.waitingReads.push({ index: rs.index, client: pending.client, seq: pending.seq, key: pending.key });
      }
    }
    core.advance(rd);
    this.serveReads();
    if (this.cfg.compactEvery > 0 && this.kv.appliedIndex - this.lastCompact >= this.cfg.compactEvery) {
      this.lastCompact = this.kv.appliedIndex;
      core.compact(this.kv.appliedIndex, this.kv.snapshot());
      this.compactions++;
      this.env.trace?.(`compact ${this.id} at ${this.kv.appliedIndex}`);
    }
  }

  private applyEntry(e: Entry): void {
    if (e.index <= this.kv.appliedIndex) return; // already in the restored snapshot
    if (e.index !== this.kv.appliedIndex + 1) {
      this.env.checker.report('state-machine-safety', `replica ${this.id} applies output index ${e.index} after ${this.kv.appliedIndex} (gap)`);
    }
    this.env.checker.onApply(this.id, e);
    this.kv.appliedIndex = e.index;
    this.applied++;
    if (e.type !== EntryType.Normal) return;
    const cmd = decodeCommand(e.data);
    if (!cmd) return;
    const result = this.kv.apply(cmd);
    const k = `${cmd.client}:${cmd.seq}`;
    const waiting = this.pendingWrites.get(k);
    if (waiting) {
      this.pendingWrites.delete(k);
      for (const client of waiting) this.env.replyToClient(this.id, { client, seq: cmd.seq, output: result });
    }
  }

  private serveReads(): void {
    if (this.waitingReads.length === 0) return;
    const still: WaitingRead[] = [];
    for (const r of this.waitingReads) {
      if (r.index <= this.kv.appliedIndex) {
        this.env.replyToClient(this.id, { client: r.client, seq: r.seq, output: { value: this.kv.get(r.key) } });
      } else still.push(r);
    }
    this.waitingReads = still;
  }

  private fail(where: string, e: unknown): void {
    this.broken = true;
    const msg = e instanceof Error ? `${e.message}` : String(e);
    this.env.checker.report('core-error', `replica ${this.id}: ${where} threw: ${msg}`);
  }
}

