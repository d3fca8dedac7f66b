// sequencer: the seam between the consensus groups and the service.
//
// In:  per-group committed entries (group index space, tagged with the local batch that proposed
//      them), per-group read states, snapshots to restore; from the service: snapshots taken (at a
//      global index) and read-index requests.
// Out: globally indexed entries to apply, read points in the global index space, and per-group
//      compaction requests.
//
// With one group (single Raft) every mapping is the identity and this actor is a pass-through.
// Multi-Raft runs another actor kind under the same id: multiraft-sequencer.ts (the round-robin
// merge and everything around it, through runtime/protocols/multiraft/coordinator.ts).
import { defineActor } from '../actors/index.js';
import type { Entry, NodeId } from '../protocols/api.js';
import { ActorIds, type KvIn, type RaftIn, type SequencerIn } from './messages.js';

export interface SequencerArgs {
  readonly groups: number;
}

export type SequencerMsg = SequencerIn | { readonly t: 'read-index'; readonly ctx: number };

/** The pure part: index mapping between groups and the global log. */
export interface SequencerCore {
  /** Committed entries of `group` in order → entries ready to apply in global order (maybe none yet). */
  committed(group: number, entries: readonly Entry[], tags: readonly number[]): { entries: readonly Entry[]; tags: readonly number[] };
  /** A read point of `group` → the global index the service must have applied to answer it. */
  readPoint(group: number, index: number): number;
  /** A snapshot at global index → the per-group index each group may compact to. */
  compactionPoints(globalIndex: number): readonly { group: number; index: number }[];
  /** A group's state was replaced by a snapshot at `index` (its own index space) → global index. */
  restored(group: number, index: number): number;
  /** Which groups a linearizable read must consult. */
  readGroups(): readonly number[];
}

export function createSequencerCore(groups: number): SequencerCore {
  if (groups !== 1) throw new Error(`sequencer: ${groups} groups need the multi-Raft sequencer (multiraft-sequencer.ts)`);
  return {
    committed: (_g, entries, tags) => ({ entries, tags }),
    readPoint: (_g, index) => index,
    compactionPoints: (globalIndex) => [{ group: 0, index: globalIndex }],
    restored: (_g, index) => index,
    readGroups: () => [0],
  };
}

export const sequencerActor = defineActor<SequencerArgs, SequencerMsg>((ctx, args) => {
  const core = createSequencerCore(args.groups);
  const toKv = (m: KvIn): void => ctx.send(ActorIds.kv, m);
  return {
    receive(msg: SequencerMsg): void {
      switch (msg.t) {
        case 'committed': {
          const out = core.committed(msg.group, msg.entries, msg.tags);
          if (out.entries.length > 0) toKv({ t: 'apply', entries: out.entries, tags: out.tags });
          return;
        }
        case 'restore':
          toKv({ t: 'restore', index: core.restored(msg.group, msg.index), data: msg.data });
          return;
        case 'read-state': {
          const leader: NodeId | undefined = msg.leader;
          if (msg.error !== undefined) toKv({ t: 'read-state', ctx: msg.ctx, index: 0, error: msg.error, ...(leader !== undefined ? { leader } : {}) });
          else toKv({ t: 'read-state', ctx: msg.ctx, index: core.readPoint(msg.group, msg.index) });
          return;
        }
        case 'read-index':
          for (const g of core.readGroups()) ctx.send(ActorIds.raft(g), { t: 'read-index', ctx: msg.ctx } satisfies RaftIn);
          return;
        case 'snapshot-taken':
          for (const p of core.compactionPoints(msg.index)) ctx.send(ActorIds.raft(p.group), { t: 'compact', index: p.index, data: msg.data } satisfies RaftIn);
          return;
        case 'snapshot-point':
          toKv({ t: 'snapshot-point', point: 0 });
          return;
        case 'view':
          return;
      }
    },
  };
});
