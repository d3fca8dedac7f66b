// sequencer (multi-Raft): Niagara's sequencer as an actor. It runs the simulator-tested Coordinator
// (runtime/protocols/multiraft/coordinator.ts) over the R raft/<g> actors of this replica:
//
//   raft/<g> ─view──────────► sequencer   role, leader, established, last index, commit, membership
//   raft/<g> ─committed─────► sequencer ─apply──► kv      the deterministic round-robin merge
//   raft/<g> ─restore───────► sequencer ─restore► kv      a leader's snapshot: jump, maybe restore
//   raft/<g> ─read-state────► sequencer ─read-state► kv   served once p_global is merged
//   kv ─read-index / snapshot-point / snapshot-taken ─► sequencer ─snapshot-point─► kv
//   sequencer ─mr-noops / mr-entry / mr-record / mr-converge / transfer / read-index / compact─► raft/<g>
//   sequencer ─routes──► client (local leaders, leaders elsewhere)     sequencer ─need──► instances
//
// The coordinator sees the instances through a port whose views are the instances' last reports
// and whose calls become messages. Views lag by a message; the rules tolerate that: an instance
// re-checks leadership before it proposes, and no-ops requested but not yet reflected in a report
// count as in flight (so running the rule again does not ask twice).
//
// Besides the periodic rules (one coordinator tick per raft tick), no-op mode runs the no-op rule
// `stallNoopMs` after the merge stalls on an instance while others hold committed entries: with
// continuous load the instances' entry rates differ a little, and waiting a whole tick for the
// slower one would add up to a tick to every command's latency.
//
// Each committed entry proposed here carries its client batch's tag; the merge keeps the entry's
// bytes (the same Uint8Array), which is how the tag finds the output entry. A tagged entry the
// merge skips (after a Seal, before a Join, below a snapshot jump) is reported to the client actor
// as dropped so its clients retry at once (sessions make the retry exactly-once).
import { defineActor } from '../actors/index.js';
import type { ActorContext } from '../actors/index.js';
import { NONE } from '../protocols/api.js';
import type { Entry, Membership, NodeId, ReadState } from '../protocols/api.js';
import { Coordinator, membershipSteps } from '../protocols/multiraft/coordinator.js';
import type { CoordinatorExport, InstanceInfo, InstancePort } from '../protocols/multiraft/coordinator.js';
import { resolveMultiRaftOptions } from '../protocols/multiraft/options.js';
import type { ResolvedOptions } from '../protocols/multiraft/options.js';
import { decodeState } from '../protocols/multiraft/snapshot-format.js';
import { GroupMode } from '../protocols/multiraft/state.js';
import type { MergeState } from '../protocols/multiraft/state.js';
import { ActorIds, type ClientIn, type InstanceReport, type KvIn, type RaftIn, type SequencerIn } from './messages.js';

export interface MrSequencerArgs {
  readonly id: NodeId;
  /** Multi-Raft options (runtime/protocols/multiraft/options.ts), validated again here. */
  readonly options: Record<string, unknown>;
  readonly tickMs: number;
  /** No-op mode: run the no-op rule this long after the merge stalls (0: only every tick). */
  readonly stallNoopMs: number;
}

/** The first message: where the merge starts (the newest durable snapshot's state, or the initial one). */
export interface MrSequencerBoot {
  readonly t: 'boot';
  /** encodeState() of the starting merge state (a Map does not survive every codec). */
  readonly state: Uint8Array;
  /** The state-machine image that state belongs to (restart from a snapshot), or null. */
  readonly image: Uint8Array | null;
}

export type MrSequencerMsg =
  | SequencerIn
  | MrSequencerBoot
  | { readonly t: 'read-index'; readonly ctx: number }
  | { readonly t: 'tick' }
  | { readonly t: 'stall' }
  | { readonly t: 'set-instances'; readonly count: number; readonly replyTo: string }
  | { readonly t: 'status'; readonly replyTo: string };

export interface MrSetInstancesReply {
  readonly ok: boolean;
  readonly error?: string;
  readonly leader?: NodeId;
  readonly instances: number;
  readonly epoch: number;
  readonly changing: boolean;
}

export interface MultiRaftStatus {
  readonly instances: number;
  readonly epoch: number;
  /** A change of R being applied (old instances draining, new ones joining), or null. */
  readonly transition: { readonly epoch: number; readonly instances: number; readonly pendingSeal: readonly number[]; readonly added: readonly number[] } | null;
  readonly rotation: readonly number[];
  /** The instance the merge takes its next slot from. */
  readonly turn: number;
  readonly progress: string;
  /** Slots merged (the global log's length) and commands output (the service's index space). */
  readonly globalSlots: number;
  readonly outputIndex: number;
  readonly localLeaders: readonly number[];
  readonly instancesView: readonly { readonly group: number; readonly role: string; readonly leader: NodeId; readonly term: number; readonly mode: string; readonly pending: number; readonly lastIndex: number; readonly commit: number }[];
  /** Coordinator counters (noopsProposed, skipRecordsProposed, readsServed, ...), merge.* and the actor's own. */
  readonly counters: Readonly<Record<string, number>>;
  readonly skipLambda: number;
  readonly skipIntervalTicks: number;
}

interface Tracked {
  readonly index: number;
  readonly data: Uint8Array;
}

interface MoveState {
  readonly coord: CoordinatorExport | null;
  readonly reports: [number, InstanceReport][];
  readonly sent: [number, number][];
  readonly tags: Map<Uint8Array, number>;
  readonly tracked: [number, Tracked[]][];
  readonly pinned: [number, MergeState][];
  readonly nextShared: number;
  readonly nextPoint: number;
  readonly counters: Record<ActorCounter, number>;
  readonly queue: MrSequencerMsg[];
  readonly stallQueued: boolean;
}

const ACTOR_COUNTERS = ['stallRuns', 'taggedDropped', 'outputBatches', 'restores', 'sharedCompactions'] as const;
type ActorCounter = (typeof ACTOR_COUNTERS)[number];

const MODES = ['active', 'joining', 'idle'];

export const multiraftSequencerActor = defineActor<MrSequencerArgs, MrSequencerMsg, MoveState>((ctx: ActorContext<MrSequencerMsg>, args) => {
  const opts: ResolvedOptions = resolveMultiRaftOptions(args.options);
  let coord: Coordinator | null = null;
  /** Messages that arrived before the boot message (other senders may overtake it). */
  let queue: MrSequencerMsg[] = [];
  const reports = new Map<number, InstanceReport>();
  /** Per instance: InstanceRequests that add entries, sent so far (compare InstanceReport.handled). */
  const sent = new Map<number, number>();
  const infos = new Map<number, InstanceInfo>();
  let tags = new Map<Uint8Array, number>();
  /** Per instance: tagged entries offered, oldest first, until output or excluded. */
  const tracked = new Map<number, Tracked[]>();
  /** Merge states pinned for snapshots being taken, by snapshot point. */
  const pinned = new Map<number, MergeState>();
  let nextShared = 1;
  let nextPoint = 1;
  let stallQueued = false;
  let lastRoutes = '';
  const counters = Object.fromEntries(ACTOR_COUNTERS.map((k) => [k, 0])) as Record<ActorCounter, number>;

  const NO_INFO: InstanceInfo = Object.freeze({ role: 'follower', leader: NONE, term: 0, established: false, lastIndex: 0, commit: 0, membership: { voters: [], learners: [] } });
  const toKv = (m: KvIn): void => ctx.send(ActorIds.kv, m);
  const toRaft = (g: number, m: RaftIn): void => ctx.send(ActorIds.raft(g), m);

  /** The view the coordinator uses: the last report, plus entries requested since (in flight). */
  function refreshInfo(g: number): void {
    const r = reports.get(g);
    if (!r) return;
    const extra = Math.max(0, (sent.get(g) ?? 0) - r.handled);
    infos.set(g, { role: r.role, leader: r.leader, term: r.term, established: r.established, lastIndex: r.lastIndex + extra, commit: r.commit, membership: r.membership });
  }

  function requested(g: number, entries: number): void {
    sent.set(g, (sent.get(g) ?? 0) + 1);
    const i = infos.get(g);
    if (i && entries > 0) infos.set(g, { ...i, lastIndex: i.lastIndex + entries });
  }

  const port: InstancePort = {
    info: (g) => infos.get(g) ?? NO_INFO,
    proposeEntry(g, type, data) {
      toRaft(g, { t: 'mr-entry', type: type as 1 | 3, data });
      requested(g, 1);
      return true;
    },
    proposeNoops(g, count) {
      toRaft(g, { t: 'mr-noops', count });
      requested(g, count);
      return count;
    },
    proposeForwarded(g, data) {
      toRaft(g, { t: 'mr-forward', data });
      requested(g, 0);
      return true;
    },
    proposeRecordUnlessHeld(g, rec, from) {
      toRaft(g, { t: 'mr-record', kind: rec.kind, epoch: rec.epoch, from });
      requested(g, 0);
      return true;
    },
    convergeMembership(g, target, voters) {
      // Decided here too, so that nothing is sent (or counted) when the instance is already there.
      const m = port.info(g).membership;
      if (membershipSteps(m, target, (id) => voters.includes(id)).length === 0) return false;
      toRaft(g, { t: 'mr-converge', target, voters });
      requested(g, 0);
      return true;
    },
    transferLeadership(g, to) {
      toRaft(g, { t: 'transfer', to });
      return true;
    },
    readIndex(g, c) {
      toRaft(g, { t: 'read-index', ctx: c });
    },
    compact(g, index, data) {
      toRaft(g, { t: 'compact', index, data });
    },
  };

  const host = {
    instanceNeeded(g: number, bootstrap: Membership | undefined): void {
      ctx.send(ActorIds.instances, { t: 'need', group: g, bootstrap: bootstrap ?? null });
    },
  };

  function boot(m: MrSequencerBoot): void {
    const start = decodeState(m.state, opts.mr.maxInstances);
    // The image first: kv restores it before anything the merge outputs (same sender, FIFO).
    if (m.image !== null) toKv({ t: 'restore', index: start.p, data: m.image });
    coord = new Coordinator(args.id, opts, start, port, host);
    ctx.setTimer('tick', args.tickMs, { t: 'tick' }, { repeat: true });
    const q = queue;
    queue = [];
    for (const x of q) handle(x);
  }

  // ---------------------------------------------------------------- merge output

  function mergeAndFlush(): void {
    const c = coord!;
    const out: Entry[] = [];
    c.merge(out);
    if (out.length > 0) {
      const t = new Array<number>(out.length);
      for (let i = 0; i < out.length; i++) {
        const d = out[i]!.data;
        const tag = tags.get(d);
        if (tag !== undefined) {
          tags.delete(d);
          t[i] = tag;
        } else t[i] = 0;
      }
      counters.outputBatches++;
      toKv({ t: 'apply', entries: out, tags: t });
    }
    dropExcluded();
    flushReads();
    if (opts.mr.progress === 'noop' && args.stallNoopMs > 0 && !stallQueued && stalled()) {
      stallQueued = true;
      ctx.setTimer('stall', args.stallNoopMs, { t: 'stall' });
    }
  }

  /** The instance in line has nothing while another has committed slots waiting. */
  function stalled(): boolean {
    const seq = coord!.sequencer();
    if (seq.pendingSlots(seq.turn()) > 0) return false;
    for (const g of seq.rotation()) if (seq.pendingSlots(g) > 0) return true;
    return false;
  }

  /**
   * Forgets tracked entries the merge has passed; those still tagged were passed without output,
   * and their clients retry now. (Runs after every merge: output entries leave `tags` at once but
   * stay in `tracked` until the cursor is past them.)
   */
  function dropExcluded(): void {
    if (tracked.size === 0) return;
    const seq = coord!.sequencer();
    let dropped: number[] | null = null;
    for (const [g, list] of tracked) {
      const next = seq.cursor(g)?.next ?? 0;
      let i = 0;
      while (i < list.length && list[i]!.index < next) {
        const tag = tags.get(list[i]!.data);
        if (tag !== undefined) {
          tags.delete(list[i]!.data);
          (dropped ??= []).push(tag);
        }
        i++;
      }
      if (i === list.length) tracked.delete(g);
      else if (i > 0) list.splice(0, i);
    }
    if (dropped !== null) {
      counters.taggedDropped += dropped.length;
      ctx.send(ActorIds.client, { t: 'dropped', tags: dropped, reason: 'not in the global log', leader: 0 } satisfies ClientIn);
    }
  }

  function flushReads(): void {
    const c = coord!;
    if (!c.hasReadStates()) return;
    for (const rs of c.takeReadStates() as ReadState[]) {
      if ('error' in rs) toKv({ t: 'read-state', ctx: rs.ctx, index: 0, error: rs.error, leader: rs.leader });
      else toKv({ t: 'read-state', ctx: rs.ctx, index: rs.index });
    }
  }

  /** Tells the client actor where commands go, when that changed. */
  function publishRoutes(): void {
    const c = coord!;
    const local = c.localLeaders();
    const seq = c.sequencer();
    const leaders: NodeId[] = [];
    for (const g of seq.rotation()) {
      if (!seq.isOpen(g)) continue;
      const l = port.info(g).leader;
      if (l !== NONE && !leaders.includes(l)) leaders.push(l);
    }
    const key = `${local.join(',')}|${leaders.join(',')}`;
    if (key === lastRoutes) return;
    lastRoutes = key;
    ctx.send(ActorIds.client, { t: 'routes', local, leaders } satisfies ClientIn);
  }

  // ---------------------------------------------------------------- inputs

  function committed(m: Extract<SequencerIn, { t: 'committed' }>): void {
    for (let i = 0; i < m.entries.length; i++) {
      const tag = m.tags[i]!;
      if (tag === 0) continue;
      const e = m.entries[i]!;
      tags.set(e.data, tag);
      let list = tracked.get(m.group);
      if (!list) tracked.set(m.group, (list = []));
      list.push({ index: e.index, data: e.data });
    }
    coord!.offer(m.group, m.entries);
    const seq = coord!.sequencer();
    const epoch = seq.epoch;
    const rot = seq.rotation().length;
    const changing = seq.state().transition !== null;
    mergeAndFlush();
    // A change of R that starts (leaving instances stop taking commands) or completes.
    if (seq.epoch !== epoch || seq.rotation().length !== rot || (seq.state().transition !== null) !== changing) publishRoutes();
  }

  function status(): MultiRaftStatus {
    const c = coord!;
    const seq = c.sequencer();
    const st = seq.state();
    const all: Record<string, number> = {};
    for (const [k, v] of Object.entries(c.counters)) all[k] = v;
    for (const [k, v] of Object.entries(seq.counters)) all[`merge.${k}`] = v;
    for (const [k, v] of Object.entries(counters)) all[k] = v;
    // Client batches proposed here and not yet output (or dropped); entries tracked for them.
    all.tagsPending = tags.size;
    let trackedEntries = 0;
    for (const l of tracked.values()) trackedEntries += l.length;
    all.trackedEntries = trackedEntries;
    return {
      instances: seq.instances,
      epoch: seq.epoch,
      transition: st.transition ? { epoch: st.transition.epoch, instances: st.transition.instances, pendingSeal: [...st.transition.pendingSeal], added: [...st.transition.added] } : null,
      rotation: [...seq.rotation()],
      turn: seq.turn(),
      progress: opts.mr.progress,
      globalSlots: seq.q,
      outputIndex: seq.p,
      localLeaders: c.localLeaders(),
      instancesView: c.groups().map((g) => {
        const i = port.info(g);
        return { group: g, role: i.role, leader: i.leader, term: i.term, mode: MODES[seq.cursor(g)?.mode ?? GroupMode.Idle]!, pending: seq.pendingSlots(g), lastIndex: i.lastIndex, commit: i.commit };
      }),
      counters: all,
      skipLambda: c.pacerLambda,
      skipIntervalTicks: c.pacerInterval,
    };
  }

  function handle(msg: MrSequencerMsg): void {
    if (coord === null) {
      if (msg.t === 'boot') boot(msg);
      else if (msg.t === 'status') ctx.send(msg.replyTo, null);
      else queue.push(msg);
      return;
    }
    const c = coord;
    switch (msg.t) {
      case 'boot':
        throw new Error('sequencer: booted twice');
      case 'view': {
        const { t: _t, ...r } = msg;
        reports.set(r.group, r);
        refreshInfo(r.group);
        publishRoutes();
        return;
      }
      case 'committed':
        committed(msg);
        return;
      case 'restore': {
        // A leader's snapshot installed by one instance: it carries the merge state of every one.
        const image = c.install(msg.data);
        if (image !== null) {
          counters.restores++;
          toKv({ t: 'restore', index: c.sequencer().p, data: image });
        }
        mergeAndFlush();
        publishRoutes();
        return;
      }
      case 'read-state':
        if (msg.error !== undefined) c.onReadState({ ctx: msg.ctx, error: msg.error === 'dropped' ? 'dropped' : 'not-leader', leader: msg.leader ?? NONE });
        else c.onReadState({ ctx: msg.ctx, index: msg.index });
        mergeAndFlush();
        return;
      case 'read-index':
        c.readIndex(msg.ctx);
        flushReads();
        return;
      case 'snapshot-point': {
        // The merge state now (the newest checkpoint): kv captures after applying everything sent
        // so far, so its image is at or after this point.
        const point = nextPoint++;
        const cp = c.checkpointFor(c.sequencer().p);
        if (cp !== null) pinned.set(point, cp);
        toKv({ t: 'snapshot-point', point });
        return;
      }
      case 'snapshot-taken': {
        const cp = (msg.point !== undefined ? pinned.get(msg.point) : undefined) ?? c.checkpointFor(msg.index);
        if (msg.point !== undefined) pinned.delete(msg.point);
        const plan = c.compactionPlan(msg.index, msg.data, cp);
        if (plan === null || plan.cuts.length === 0) return;
        counters.sharedCompactions++;
        const shared = { id: nextShared++, groups: plan.cuts.length };
        for (const cut of plan.cuts) toRaft(cut.group, { t: 'compact', index: cut.index, data: plan.data, shared });
        return;
      }
      case 'tick':
        c.tick();
        flushReads();
        publishRoutes();
        return;
      case 'stall':
        stallQueued = false;
        if (opts.mr.progress === 'noop' && stalled()) {
          counters.stallRuns++;
          c.runNoopRule();
        }
        return;
      case 'set-instances': {
        const r = c.proposeInstances(msg.count);
        const seq = c.sequencer();
        const reply: MrSetInstancesReply = {
          ok: r.ok,
          ...(r.ok ? {} : { error: r.error, leader: r.leader }),
          instances: seq.instances,
          epoch: seq.epoch,
          changing: seq.state().transition !== null,
        };
        ctx.send(msg.replyTo, reply);
        return;
      }
      case 'status':
        ctx.send(msg.replyTo, status());
        return;
    }
  }

  return {
    receive(msg: MrSequencerMsg): void {
      handle(msg);
    },
    snapshot(): MoveState {
      return {
        coord: coord ? coord.exportState() : null,
        reports: [...reports],
        sent: [...sent],
        tags,
        tracked: [...tracked],
        pinned: [...pinned],
        nextShared,
        nextPoint,
        counters: { ...counters },
        queue,
        stallQueued,
      };
    },
    restore(s: MoveState): void {
      for (const [g, r] of s.reports) reports.set(g, r);
      for (const [g, n] of s.sent) sent.set(g, n);
      for (const g of reports.keys()) refreshInfo(g);
      tags = s.tags;
      for (const [g, l] of s.tracked) tracked.set(g, l);
      for (const [k, v] of s.pinned) pinned.set(k, v);
      nextShared = s.nextShared;
      nextPoint = s.nextPoint;
      Object.assign(counters, s.counters);
      queue = s.queue;
      // The tick and stall timers move with the actor (the runtime re-arms them after restore).
      if (s.coord !== null) coord = new Coordinator(args.id, opts, s.coord.seq.state, port, host, s.coord);
      stallQueued = s.stallQueued;
      lastRoutes = '';
    },
  };
});
