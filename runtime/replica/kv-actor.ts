// kv: the service. Owns the KV state machine: applies committed entries in global order and
// sends each locally proposed batch's results to the client actor, answers reads (stale ones at
// once; linearizable ones once a read index is confirmed and applied), takes periodic snapshots
// and hands them to the sequencer (which asks each group to compact), and restores from a
// snapshot received from a leader or found on disk.
import { defineActor } from '../actors/index.js';
import type { ActorContext } from '../actors/index.js';
import { createKvStateMachine, type SessionConfig } from '../service/index.js';
import { ActorIds, type ClientIn, type KvIn, type KvStatus, type SequencerIn } from './messages.js';

export interface KvActorArgs {
  readonly sessions: SessionConfig;
  readonly snapshotEveryEntries: number;
  readonly snapshotEveryBytes: number;
}

type Msg = KvIn;

interface WaitingRead {
  readonly index: number;
  readonly tag: number;
  readonly queries: readonly Uint8Array[];
}

/** What travels when the actor moves to another thread. */
interface KvMoveState {
  readonly image: Uint8Array[];
  readonly index: number;
  readonly pendingLin: [number, { tag: number; queries: readonly Uint8Array[] }][];
  readonly waiting: WaitingRead[];
  readonly nextCtx: number;
  readonly entriesSince: number;
  readonly bytesSince: number;
  readonly snapshotIndex: number;
  readonly snapshots: number;
}

export const kvActor = defineActor<KvActorArgs, Msg, KvMoveState>((ctx: ActorContext<Msg>, args) => {
  const sm = createKvStateMachine({ sessions: args.sessions });
  /** Linearizable reads waiting for their read index, by ctx. */
  const pendingLin = new Map<number, { tag: number; queries: readonly Uint8Array[] }>();
  /** Reads whose read index is known, waiting for apply to reach it (ascending index). */
  let waiting: WaitingRead[] = [];
  let nextCtx = 1;
  let entriesSince = 0;
  let bytesSince = 0;
  let snapshotIndex = 0;
  let snapshotting = false;
  let snapshots = 0;
  let stopped = false;
  /** Set while a moved-in state is being restored: messages wait for it. */
  let arriving: Promise<void> | null = null;

  const toClient = (m: ClientIn): void => ctx.send(ActorIds.client, m);

  function serve(tag: number, queries: readonly Uint8Array[]): void {
    const results = new Array<Uint8Array>(queries.length);
    for (let i = 0; i < queries.length; i++) results[i] = sm.query(queries[i]!);
    toClient({ t: 'read-results', tag, results });
  }

  function serveWaiting(): void {
    const applied = sm.appliedIndex;
    if (waiting.length === 0 || waiting[0]!.index > applied) return;
    let i = 0;
    while (i < waiting.length && waiting[i]!.index <= applied) {
      const w = waiting[i++]!;
      serve(w.tag, w.queries);
    }
    waiting = waiting.slice(i);
  }

  function apply(msg: Extract<KvIn, { t: 'apply' }>): void {
    const outcomes = sm.apply(msg.entries);
    for (const e of msg.entries) bytesSince += e.data.length;
    entriesSince += msg.entries.length;
    let tags: number[] | null = null;
    let results: Uint8Array[][] | null = null;
    if (outcomes.length > 0) {
      // Results of the batches this replica proposed, in command order, per batch tag.
      let byIndex: Map<number, number> | null = null;
      for (let i = 0; i < msg.entries.length; i++) {
        const tag = msg.tags[i]!;
        if (tag !== 0) (byIndex ??= new Map()).set(msg.entries[i]!.index, tag);
      }
      if (byIndex !== null) {
        tags = [];
        results = [];
        let curIndex = -1;
        let cur: Uint8Array[] | null = null;
        for (const o of outcomes) {
          if (o.index !== curIndex) {
            curIndex = o.index;
            const tag = byIndex.get(o.index);
            cur = null;
            if (tag !== undefined) {
              cur = [];
              tags.push(tag);
              results.push(cur);
            }
          }
          cur?.push(o.result);
        }
      }
    }
    if (tags !== null && tags.length > 0) toClient({ t: 'results', tags, results: results! });
    serveWaiting();
    maybeSnapshot();
  }

  function maybeSnapshot(): void {
    if (snapshotting || (entriesSince < args.snapshotEveryEntries && bytesSince < args.snapshotEveryBytes)) return;
    snapshotting = true;
    entriesSince = 0;
    bytesSince = 0;
    // The sequencer chooses the point: it answers after everything it has sent here so far, so the
    // state captured on its answer is at or after the point it noted. (Multi-Raft maps the one image
    // to a cut in every instance's log from the merge state at that point; a state looked up only
    // after the capture could have aged out of its recent checkpoints while this mailbox lagged.)
    ctx.send(ActorIds.sequencer, { t: 'snapshot-point' } satisfies SequencerIn);
  }

  function capture(point: number): void {
    snapshotting = true;
    const stream = sm.snapshot();
    const index = stream.index;
    // Streamed in the background: applies continue (the image was captured at this point).
    void (async () => {
      const chunks: Uint8Array[] = [];
      let size = 0;
      try {
        for await (const c of stream) {
          if (stopped) return;
          chunks.push(c);
          size += c.length;
        }
      } catch (e) {
        snapshotting = false;
        if (!stopped) throw e;
        return;
      }
      if (stopped) return;
      const data = Buffer.concat(chunks, size);
      snapshotting = false;
      snapshotIndex = index;
      snapshots++;
      ctx.send(ActorIds.sequencer, { t: 'snapshot-taken', index, data, point } satisfies SequencerIn);
    })();
  }

  function status(): KvStatus {
    const st = sm.stats();
    return { applied: sm.appliedIndex, snapshotIndex, snapshots, stats: { ...st } };
  }

  function handle(msg: Msg): void | Promise<void> {
    switch (msg.t) {
      case 'apply':
        apply(msg);
        return;
      case 'restore':
        if (msg.index <= sm.appliedIndex) return;
        // Holds this actor's mailbox until done, so nothing is applied on the old state.
        return sm.restore([msg.data]).then(() => {
          snapshotIndex = msg.index;
          entriesSince = 0;
          bytesSince = 0;
          serveWaiting();
        });
      case 'read':
        if (!msg.linearizable) {
          serve(msg.tag, msg.queries);
          return;
        }
        {
          const c = nextCtx++;
          pendingLin.set(c, { tag: msg.tag, queries: msg.queries });
          ctx.send(ActorIds.sequencer, { t: 'read-index', ctx: c });
        }
        return;
      case 'read-state': {
        const p = pendingLin.get(msg.ctx);
        if (!p) return;
        pendingLin.delete(msg.ctx);
        if (msg.error !== undefined) {
          toClient({ t: 'read-failed', tag: p.tag, reason: msg.error, leader: msg.leader ?? 0 });
        } else if (msg.index <= sm.appliedIndex) {
          serve(p.tag, p.queries);
        } else {
          const w = { index: msg.index, tag: p.tag, queries: p.queries };
          if (waiting.length === 0 || waiting[waiting.length - 1]!.index <= w.index) waiting.push(w);
          else {
            waiting.push(w);
            waiting.sort((a, b) => a.index - b.index);
          }
        }
        return;
      }
      case 'status':
        ctx.send(msg.replyTo, status());
        return;
      case 'snapshot-point':
        capture(msg.point);
        return;
      case 'take-snapshot':
        entriesSince = Number.MAX_SAFE_INTEGER;
        maybeSnapshot();
        if (msg.replyTo) ctx.send(msg.replyTo, { started: snapshotting });
        return;
    }
  }

  return {
    // Synchronous except for restores: a returned promise holds the mailbox until it settles.
    receive(msg: Msg): void | Promise<void> {
      if (arriving !== null) {
        const a = arriving;
        return a.then(() => {
          if (arriving === a) arriving = null;
          return handle(msg);
        });
      }
      return handle(msg);
    },
    snapshot(): KvMoveState {
      const img = sm.snapshotSync();
      if (img === null) throw new Error('kv: the service cannot produce its snapshot synchronously, so it cannot move');
      return {
        image: img.chunks,
        index: img.index,
        pendingLin: [...pendingLin],
        waiting,
        nextCtx,
        entriesSince,
        bytesSince,
        snapshotIndex,
        snapshots,
      };
    },
    restore(s: KvMoveState): void {
      for (const [k, v] of s.pendingLin) pendingLin.set(k, v);
      waiting = s.waiting;
      nextCtx = s.nextCtx;
      entriesSince = s.entriesSince;
      bytesSince = s.bytesSince;
      snapshotIndex = s.snapshotIndex;
      snapshots = s.snapshots;
      if (s.index > 0) arriving = sm.restore(s.image).then(() => undefined);
    },
    onStop(): void {
      stopped = true;
    },
  };
});
