// instances (multi-Raft): creates the raft/<g> actors the global log asks for. Main thread (it
// spawns actors through the runtime, which only the main thread can do).
//
// The sequencer decides which instances exist: at boot, every instance its starting merge state
// names; later, every instance a merged change of R adds (the same on every replica, at the same
// point of the global log). For each one not yet running this actor spawns raft/<g> with the
// bootstrap membership the merge state gives it, on the executor the config places it on (or next
// to raft/0, so "all instances together" stays so), tells the peer actor to deliver the group, and
// boots it with the durable state recovered from the store, if any. On a fresh start the instance's
// preferred replica (voter g mod n) campaigns after two ticks rather than a whole election timeout. Instances are never stopped:
// one removed from the rotation idles and can be re-added.
import type { Actor, ActorContext, ActorRuntime } from '../actors/index.js';
import type { GroupDurableState, Membership, NodeId } from '../protocols/api.js';
import type { RaftOptions } from '../protocols/raft/index.js';
import { ActorIds } from './messages.js';
import type { RaftActorArgs, RaftBoot } from './raft-actor.js';

export interface InstanceManagerOptions {
  readonly runtime: ActorRuntime;
  readonly id: NodeId;
  readonly kind: { readonly module: string; readonly export: string };
  readonly membership: Membership;
  readonly raftOptions: Partial<RaftOptions>;
  readonly tickMs: number;
  readonly placement: Readonly<Record<string, number>>;
  /** Durable state per group recovered at startup; handed over (once) when the group is created. */
  readonly recovered: Map<number, GroupDurableState>;
  readonly seed: () => number;
  readonly addGroup: (group: number) => void;
  readonly fatal: (reason: string) => void;
  readonly info: (msg: string) => void;
}

export interface InstanceManagerHandle {
  /** Instances running (spawned and booted), increasing. */
  groups(): number[];
}

export type InstanceManagerMsg = { readonly t: 'need'; readonly group: number; readonly bootstrap: Membership | null };

export function createInstanceManager(o: InstanceManagerOptions): { factory: (ctx: ActorContext) => Actor; handle: InstanceManagerHandle } {
  const running = new Set<number>();
  const up = new Set<number>();

  async function spawn(group: number, bootstrap: Membership | null): Promise<void> {
    if (running.has(group)) return;
    running.add(group);
    const id = ActorIds.raft(group);
    const executor = o.placement[id] ?? o.runtime.executorOf(ActorIds.raft(0)) ?? 0;
    const members = bootstrap ?? o.membership;
    // One preferred replica per instance campaigns at once on a fresh start (the others wait for
    // their election timeout as usual): voter g mod n, so leaders start out spread.
    const voters = [...members.voters].sort((a, b) => a - b);
    const preferred = voters.length > 0 && voters[group % voters.length] === o.id;
    try {
      await o.runtime.spawn<RaftActorArgs>({
        id,
        kind: o.kind,
        args: { id: o.id, group, membership: members, options: o.raftOptions, tickMs: o.tickMs, seed: o.seed(), multiraft: true, ...(preferred ? { campaignAfterTicks: 2 } : {}) },
        executor,
      });
    } catch (e) {
      o.fatal(`cannot start instance ${group}: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    o.addGroup(group);
    const d = o.recovered.get(group);
    o.recovered.delete(group);
    o.runtime.send(id, { t: 'boot', durable: d ? [d] : [] } satisfies RaftBoot);
    up.add(group);
    o.info(`instance ${group} started on executor ${executor}${d ? ` (recovered: ${d.entries.length} entries${d.snapshot ? `, snapshot at ${d.snapshot.meta.index}` : ''})` : ''}`);
  }

  const factory = (_ctx: ActorContext): Actor => ({
    // One spawn at a time: the returned promise holds this actor's mailbox.
    receive(raw: unknown): Promise<void> | void {
      const msg = raw as InstanceManagerMsg;
      if (msg.t === 'need') return spawn(msg.group, msg.bootstrap);
    },
  });
  return { factory, handle: { groups: () => [...up].sort((a, b) => a - b) } };
}
