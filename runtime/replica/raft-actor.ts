// raft/<g>: one consensus group. Owns a Raft core and drives its Ready loop:
//
//   sendNow          → peer, at once (a leader replicates while it writes its own copy)
//   writes           → wal; the rest of the Ready waits for the durable ack ("appended")
//   sendAfterPersist → peer, after the ack (votes and append acks assert durability)
//   snapshot (recv.) → sequencer "restore", before the committed entries that follow it
//   committed        → sequencer, tagged with the client batch that proposed them here
//   readStates       → sequencer (the service path answers them)
//   then advance()
//
// One Ready is outstanding at a time (the contract); inputs keep arriving meanwhile and whatever
// they produce (proposals, acks) goes out in the next Ready, so a slow fsync makes batches bigger,
// not the queue longer. The loop runs once per mailbox burst: every input schedules one "pump"
// message to itself, which lands behind everything already queued.
//
// Movable: the core travels in snapshot() (protocols/raft/migration.ts), together with the
// outstanding Ready; the wal's ack is addressed to the actor id and finds it wherever it is.
//
// Multi-Raft (args.multiraft): one of R instances. The sequencer actor's coordinator decides
// (progress no-ops, skip records, control records, replica set, leader spreading, read indexes,
// compaction cuts) and sends InstanceRequests; this actor carries them out on its core when it may,
// and reports its view (role, leader, established, last index, commit, membership) whenever it
// changes. Client batches are taken only as an established leader (an entry of its term
// committed); a received snapshot goes to the sequencer, which decides whether the service restores
// it (it carries the merge state of every instance).
import { defineActor } from '../actors/index.js';
import type { ActorContext } from '../actors/index.js';
import type { Entry, GroupDurableState, GroupWrite, Membership, NodeId, Ready, Role } from '../protocols/api.js';
import { exportRaftCore, importRaftCore, type RaftCoreState } from '../protocols/raft/migration.js';
import { MsgType, raftCodec, RaftCore, type RaftMessage, type RaftOptions } from '../protocols/raft/index.js';
import { SeededRng } from '../protocols/rng.js';
import { convergeStep, proposeRecordUnlessHeld } from '../protocols/multiraft/coordinator.js';
import { EntryType } from '../protocols/api.js';
import { ActorIds, type ClientIn, type InstanceRequest, type PeerIn, type RaftIn, type RaftStatus, type SequencerIn, type SharedSnapshot, type WalIn } from './messages.js';

export interface RaftActorArgs {
  readonly id: NodeId;
  readonly group: number;
  readonly membership: Membership;
  readonly options: Partial<RaftOptions>;
  readonly tickMs: number;
  readonly seed: number;
  /** One instance of multi-Raft (see the header); absent or false: single Raft. */
  readonly multiraft?: boolean;
  /**
   * Multi-Raft: start an election this many ticks after a fresh boot (no durable state) instead of
   * waiting for a randomized election timeout. Given to one preferred replica per new instance, so
   * instances created by a change of R get a leader (and the merge their join record) sooner, and
   * leaders start out spread over the replicas.
   */
  readonly campaignAfterTicks?: number;
}

/**
 * The first message: the group's durable state as recovered from the store. It is a message, not
 * a constructor argument, because the runtime keeps constructor args for the actor's lifetime (to
 * re-create it after a move) and the recovered log can be large.
 */
export interface RaftBoot {
  readonly t: 'boot';
  readonly durable: readonly GroupDurableState[];
}

type Msg = RaftIn | RaftBoot | { readonly t: 'pump' } | { readonly t: 'campaign' };

interface Proposal {
  readonly index: number;
  readonly term: number;
  readonly tag: number;
}

interface State {
  readonly core: RaftCoreState | null;
  readonly outstanding: Ready<RaftMessage> | null;
  readonly walSeq: number;
  readonly proposals: Proposal[];
  readonly congested: NodeId[];
  readonly pendingCompact: { index: number; data: Uint8Array; shared?: SharedSnapshot } | null;
  readonly pendingShared: SharedSnapshot | null;
  readonly handled: number;
  readonly outstandingWrites: GroupWrite[];
  readonly earlyApplied: boolean;
  readonly durableIndex: number;
  readonly last: { leader: NodeId; term: number; role: Role };
  readonly counters: Counters;
}

interface Counters {
  readyLoops: number;
  /** Readies that waited for the log writer, and the total time they waited (ms). */
  persists: number;
  persistMs: number;
  appendsHeldBack: number;
  malformedIn: number;
  proposalsRefused: number;
  /** Multi-Raft requests: entries proposed for the coordinator, and requests refused (not leader). */
  mrEntries: number;
  mrRefused: number;
}

export const raftActor = defineActor<RaftActorArgs, Msg, State>((ctx: ActorContext<Msg>, args) => {
  const self = ActorIds.raft(args.group);
  // Created by the boot message; until then inputs are dropped (peers retransmit, clients retry).
  let core: RaftCore = null as unknown as RaftCore;
  let booted = false;
  let outstanding: Ready<RaftMessage> | null = null;
  let walSeq = 0;
  let pumpQueued = false;
  /** Batches proposed here, oldest first: results go back to the client actor if they commit. */
  let proposals: Proposal[] = [];
  let propHead = 0;
  let congested = new Set<NodeId>();
  let pendingCompact: { index: number; data: Uint8Array; shared?: SharedSnapshot } | null = null;
  /** Multi-Raft: the shared snapshot the core's next compacted write belongs to. */
  let pendingShared: SharedSnapshot | null = null;
  /** Multi-Raft: InstanceRequests handled, and the view last reported to the sequencer. */
  let handled = 0;
  let reported: { role: Role; leader: NodeId; term: number; established: boolean; lastIndex: number; commit: number; membership: Membership; handled: number } | null = null;
  const multi = args.multiraft === true;
  /** The writes of the outstanding Ready, and whether its outputs were delivered before they were durable. */
  let outstandingWrites: GroupWrite[] = [];
  let earlyApplied = false;
  /** The last log index the log writer has acknowledged as durable. */
  let durableIndex = 0;
  let last = { leader: 0, term: 0, role: 'follower' as Role };
  let counters: Counters = { readyLoops: 0, persists: 0, persistMs: 0, appendsHeldBack: 0, malformedIn: 0, proposalsRefused: 0, mrEntries: 0, mrRefused: 0 };
  let persistStart = 0;

  function boot(durable: readonly GroupDurableState[]): void {
    if (booted) throw new Error(`${self}: booted twice`);
    core = new RaftCore(
      { id: args.id, membership: args.membership, rng: new SeededRng(args.seed), durable },
      // Multi-Raft forwards reads (Niagara §3.4: any instance leader confirms a read point) and the
      // empty commands of read nudges; client batches are never handed to a core that is not leader.
      { ...args.options, group: args.group, forwardProposals: multi, forwardReads: multi },
    );
    booted = true;
    const d = durable.find((x) => x.group === args.group);
    durableIndex = d ? (d.entries.length > 0 ? d.entries[d.entries.length - 1]!.index : (d.snapshot?.meta.index ?? 0)) : 0;
    ctx.setTimer('tick', args.tickMs, { t: 'tick' }, { repeat: true });
    // A snapshot found on disk is the service's starting point, before any committed entry. (Multi-
    // Raft: the replica picks the newest of all instances' snapshots and hands it to the sequencer.)
    if (d?.snapshot && !multi) sendSeq({ t: 'restore', group: args.group, index: d.snapshot.meta.index, data: d.snapshot.data });
    if (multi) report();
    const fresh = d === undefined || (d.entries.length === 0 && d.snapshot === null && d.hardState.term === 0);
    if (fresh && args.campaignAfterTicks !== undefined) ctx.setTimer('campaign', args.campaignAfterTicks * args.tickMs, { t: 'campaign' });
  }

  /** Leader with an entry of its own term committed (multi-Raft takes proposals only then). */
  function established(): boolean {
    const v = core.groups()[0]!;
    return v.role === 'leader' && v.termAt(v.commit) === v.term;
  }

  /** Multi-Raft: the view the coordinator needs, when it changed. */
  function report(): void {
    const v = core.groups()[0]!;
    const est = v.role === 'leader' && v.termAt(v.commit) === v.term;
    const r = reported;
    if (
      r !== null &&
      r.role === v.role &&
      r.leader === v.leader &&
      r.term === v.term &&
      r.established === est &&
      r.lastIndex === v.lastIndex &&
      r.commit === v.commit &&
      r.membership === v.membership &&
      r.handled === handled
    ) {
      return;
    }
    reported = { role: v.role, leader: v.leader, term: v.term, established: est, lastIndex: v.lastIndex, commit: v.commit, membership: v.membership, handled };
    sendSeq({ t: 'view', group: args.group, ...reported });
  }

  /** Multi-Raft: what the sequencer's coordinator asks of this instance. */
  function instanceRequest(m: InstanceRequest): void {
    handled++;
    switch (m.t) {
      case 'mr-noops': {
        const empty = new Uint8Array(0);
        let n = 0;
        while (n < m.count && core.proposeEntry(EntryType.Noop, empty).ok) n++;
        counters.mrEntries += n;
        if (n < m.count) counters.mrRefused++;
        return;
      }
      case 'mr-entry':
        if (core.proposeEntry(m.type, m.data).ok) counters.mrEntries++;
        else counters.mrRefused++;
        return;
      case 'mr-forward':
        if (!core.propose(m.data).ok) counters.mrRefused++;
        return;
      case 'mr-record':
        if (proposeRecordUnlessHeld(core, { kind: m.kind, epoch: m.epoch }, m.from)) counters.mrEntries++;
        return;
      case 'mr-converge':
        if (!convergeStep(core, m.target, m.voters)) counters.mrRefused++;
        return;
    }
  }

  /** core.compact, and for a shared (multi-Raft) snapshot: note it, or tell the log writer we skip it. */
  function compact(index: number, data: Uint8Array, shared: SharedSnapshot | undefined): void {
    const before = core.latestSnapshot();
    core.compact(index, data);
    if (shared === undefined) return;
    if (core.latestSnapshot() === before) {
      ctx.send(ActorIds.wal, { t: 'snapshot-skip', shared } satisfies WalIn);
      return;
    }
    // A newer compaction replaces one whose write has not been taken yet: that one is skipped.
    if (pendingShared !== null) ctx.send(ActorIds.wal, { t: 'snapshot-skip', shared: pendingShared } satisfies WalIn);
    pendingShared = shared;
  }

  function sendSeq(m: SequencerIn): void {
    ctx.send(ActorIds.sequencer, m);
  }
  function sendClient(m: ClientIn): void {
    ctx.send(ActorIds.client, m);
  }

  function schedulePump(): void {
    if (pumpQueued) return;
    pumpQueued = true;
    ctx.send(self, { t: 'pump' });
  }

  function sendMessages(msgs: readonly RaftMessage[]): void {
    if (msgs.length === 0) return;
    const to: NodeId[] = [];
    const data: Uint8Array[] = [];
    for (const m of msgs) {
      // A congested peer gets no new appends (as if probing); heartbeats keep flowing. The core
      // resends from the follower's answer once the queue drains.
      if (m.type === MsgType.App && m.entries.length > 0 && congested.has(m.to)) {
        counters.appendsHeldBack++;
        continue;
      }
      to.push(m.to);
      data.push(raftCodec.encode(m));
    }
    if (to.length > 0) ctx.send(ActorIds.peer, { t: 'out', group: args.group, to, data } satisfies PeerIn);
  }

  function noteLeadership(): void {
    const v = core.groups()[0]!;
    if (v.leader !== last.leader || v.term !== last.term || v.role !== last.role) {
      if (last.role === 'leader' && v.role !== 'leader' && propHead < proposals.length) {
        // Stepped down: our uncommitted batches may or may not commit under the next leader. Their
        // clients retry there now rather than wait; a retry of a session write is applied once
        // (the session table answers it from its cache if the original commits too).
        const tags = proposals.slice(propHead).map((p) => p.tag);
        proposals = [];
        propHead = 0;
        sendClient({ t: 'dropped', tags, reason: 'leader changed', leader: v.leader });
      }
      last = { leader: v.leader, term: v.term, role: v.role };
      sendClient({ t: 'leader', group: args.group, leader: v.leader, term: v.term, role: v.role });
    }
  }

  function pump(): void {
    pumpQueued = false;
    // Leadership can change while a Ready is outstanding (a higher term, check-quorum): the
    // clients of batches in doubt hear of it now, not after the write.
    noteLeadership();
    if (multi) report();
    if (outstanding !== null || !core.hasReady()) return;
    counters.readyLoops++;
    const rd = core.ready();
    sendMessages(rd.sendNow);
    noteLeadership();
    let persist: GroupWrite[] | null = null;
    for (const w of rd.writes) {
      if (w.compacted) {
        // Stored through saveSnapshot, which streams the image to a file without holding up the
        // appends behind it (an image inside append() would gate the whole WAL while it is written).
        const shared = pendingShared;
        pendingShared = null;
        ctx.send(ActorIds.wal, { t: 'save-snapshot', replyTo: self, group: w.group, meta: w.compacted.meta, data: w.compacted.data, ...(shared ? { shared } : {}) } satisfies WalIn);
      }
      // A hard state that only moves the commit index need not be durable (the commit index is
      // re-learned from the leader); it is restated with the next entries or term change.
      const needed = w.entries.length > 0 || w.snapshot !== null || (w.hardState !== null && rd.mustSync);
      if (needed) (persist ??= []).push({ group: w.group, hardState: w.hardState, entries: w.entries, snapshot: w.snapshot });
    }
    if (persist !== null) {
      // Committed entries that are already durable here need not wait for this Ready's write
      // (the leader's always are: it counts its own copy only once durable). Applying them now
      // takes one fsync off every write's latency. Not when a received snapshot must be restored
      // first, and never beyond what the log writer has acknowledged.
      earlyApplied = false;
      if (rd.committed.length > 0 && !persist.some((w) => w.snapshot !== null) && rd.committed[rd.committed.length - 1]!.index <= durableIndex) {
        deliverOutputs(rd);
        earlyApplied = true;
      }
      outstanding = rd;
      outstandingWrites = persist;
      persistStart = ctx.now();
      ctx.send(ActorIds.wal, { t: 'append', seq: ++walSeq, replyTo: self, writes: persist } satisfies WalIn);
    } else {
      earlyApplied = false;
      finish(rd);
    }
  }

  /** committed → sequencer (after a received snapshot's restore), readStates → sequencer. */
  function deliverOutputs(rd: Ready<RaftMessage>): void {
    for (const w of rd.writes) {
      if (w.snapshot !== null) sendSeq({ t: 'restore', group: args.group, index: w.snapshot.meta.index, data: w.snapshot.data });
    }
    if (rd.committed.length > 0) forwardCommitted(rd.committed);
    for (const r of rd.readStates) {
      if ('error' in r) sendSeq({ t: 'read-state', group: args.group, ctx: r.ctx, index: 0, error: r.error, leader: r.leader });
      else sendSeq({ t: 'read-state', group: args.group, ctx: r.ctx, index: r.index });
    }
  }

  function finish(rd: Ready<RaftMessage>): void {
    sendMessages(rd.sendAfterPersist);
    for (const w of outstandingWrites) {
      const last = w.entries.length > 0 ? w.entries[w.entries.length - 1]!.index : 0;
      // Entries replace any durable suffix from their first index on, so the durable log now ends
      // at the last one written; a received snapshot alone guarantees its own index.
      if (last > 0) durableIndex = last;
      else if (w.snapshot !== null) durableIndex = Math.max(durableIndex, w.snapshot.meta.index);
    }
    outstandingWrites = [];
    if (!earlyApplied) deliverOutputs(rd);
    earlyApplied = false;
    core.advance(rd);
    outstanding = null;
    if (pendingCompact !== null) {
      const pc = pendingCompact;
      pendingCompact = null;
      compact(pc.index, pc.data, pc.shared);
    }
    noteLeadership();
    if (multi) report();
    schedulePump();
  }

  function forwardCommitted(entries: readonly Entry[]): void {
    const tags = new Array<number>(entries.length).fill(0);
    let dropped: number[] | null = null;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      while (propHead < proposals.length && proposals[propHead]!.index < e.index) {
        // Our entry at that index was replaced by another leader's before it committed.
        (dropped ??= []).push(proposals[propHead++]!.tag);
      }
      if (propHead < proposals.length && proposals[propHead]!.index === e.index) {
        const p = proposals[propHead++]!;
        if (p.term === e.term) tags[i] = p.tag;
        else (dropped ??= []).push(p.tag);
      }
    }
    if (propHead > 1024 && propHead * 2 > proposals.length) {
      proposals = proposals.slice(propHead);
      propHead = 0;
    }
    sendSeq({ t: 'committed', group: args.group, entries, tags });
    if (dropped !== null) sendClient({ t: 'dropped', tags: dropped, reason: 'leader changed before the write committed', leader: core.groups()[0]!.leader });
  }

  function propose(tag: number, data: Uint8Array): void {
    if (multi && !established()) {
      // Never through Raft's forwarding (that is for read nudges): the client actor tries elsewhere.
      counters.proposalsRefused++;
      const v = core.groups()[0]!;
      sendClient({ t: 'dropped', tags: [tag], reason: v.role === 'leader' ? 'busy' : 'not-leader', leader: v.role === 'leader' ? args.id : v.leader });
      return;
    }
    const r = core.propose(data);
    if (r.ok && r.index !== undefined) {
      proposals.push({ index: r.index, term: core.groups()[0]!.term, tag });
      return;
    }
    counters.proposalsRefused++;
    const leader = r.ok ? core.groups()[0]!.leader : r.leader;
    const reason = r.ok ? 'forwarded' : r.error;
    sendClient({ t: 'dropped', tags: [tag], reason, leader });
  }

  function status(): RaftStatus {
    const v = core.groups()[0]!;
    const st = core.stats();
    return {
      group: args.group,
      role: v.role,
      term: v.term,
      leader: v.leader,
      commit: v.commit,
      lastIndex: v.lastIndex,
      firstIndex: v.firstIndex,
      snapshotIndex: core.latestSnapshot()?.meta.index ?? 0,
      hardState: { term: v.term, vote: v.vote, commit: v.commit },
      counters: { ...st.counters, ...counters },
      rejected: { ...st.rejected } as Record<string, number>,
      readyLoops: counters.readyLoops,
      appendsHeldBack: counters.appendsHeldBack,
    };
  }

  return {
    receive(msg: Msg): void {
      if (!booted) {
        if (msg.t === 'boot') {
          boot(msg.durable);
          schedulePump();
        } else if (msg.t === 'propose') {
          sendClient({ t: 'dropped', tags: [msg.tag], reason: 'starting', leader: 0 });
        } else if (msg.t === 'status') {
          ctx.send(msg.replyTo, null);
        } else if (msg.t === 'compact' && msg.shared) {
          ctx.send(ActorIds.wal, { t: 'snapshot-skip', shared: msg.shared } satisfies WalIn);
        }
        return;
      }
      switch (msg.t) {
        case 'boot':
          throw new Error(`${self}: booted twice`);
        case 'pump':
          pump();
          return;
        case 'tick':
          core.tick();
          break;
        case 'campaign':
          if (core.groups()[0]!.leader === 0) core.campaign();
          break;
        case 'in':
          for (const bytes of msg.data) {
            let m: RaftMessage;
            try {
              m = raftCodec.decode(bytes);
            } catch {
              counters.malformedIn++;
              continue;
            }
            core.step(m);
          }
          break;
        case 'propose':
          propose(msg.tag, msg.data);
          break;
        case 'appended':
          if (msg.error !== undefined) throw new Error(`raft/${args.group}: the log writer failed: ${msg.error}`);
          if (outstanding === null || msg.seq !== walSeq) throw new Error(`raft/${args.group}: unexpected append ack ${msg.seq} (expected ${walSeq})`);
          counters.persists++;
          counters.persistMs += ctx.now() - persistStart;
          finish(outstanding);
          return;
        case 'read-index':
          core.readIndex(msg.ctx);
          break;
        case 'compact':
          if (outstanding !== null) {
            if (pendingCompact?.shared) ctx.send(ActorIds.wal, { t: 'snapshot-skip', shared: pendingCompact.shared } satisfies WalIn);
            pendingCompact = { index: msg.index, data: msg.data, ...(msg.shared ? { shared: msg.shared } : {}) };
          } else compact(msg.index, msg.data, msg.shared);
          break;
        case 'mr-noops':
        case 'mr-entry':
        case 'mr-forward':
        case 'mr-record':
        case 'mr-converge':
          instanceRequest(msg);
          break;
        case 'snapshot-saved':
          return;
        case 'congestion':
          if (msg.congested) congested.add(msg.peer);
          else congested.delete(msg.peer);
          if (!msg.congested) break;
          return;
        case 'transfer': {
          const ok = core.transferLeadership(msg.to);
          if (msg.replyTo) ctx.send(msg.replyTo, { ok });
          break;
        }
        case 'status':
          ctx.send(msg.replyTo, status());
          return;
      }
      schedulePump();
    },
    snapshot(): State {
      return {
        core: booted ? exportRaftCore(core) : null,
        outstanding,
        walSeq,
        proposals: proposals.slice(propHead),
        congested: [...congested],
        pendingCompact,
        pendingShared,
        handled,
        outstandingWrites,
        earlyApplied,
        durableIndex,
        last,
        counters,
      };
    },
    restore(s: State): void {
      // The core and the outstanding Ready were cloned in one graph, so the core still recognises
      // the Ready when advance() is called with it.
      if (s.core === null) return;
      core = importRaftCore(s.core);
      booted = true;
      outstanding = s.outstanding;
      walSeq = s.walSeq;
      proposals = s.proposals;
      propHead = 0;
      congested = new Set(s.congested);
      pendingCompact = s.pendingCompact;
      pendingShared = s.pendingShared;
      handled = s.handled;
      reported = null;
      outstandingWrites = s.outstandingWrites;
      earlyApplied = s.earlyApplied;
      durableIndex = s.durableIndex;
      last = s.last;
      counters = s.counters;
      pumpQueued = false;
      schedulePump();
    },
  };
});
