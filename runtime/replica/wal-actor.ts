// wal: the log writer. Owns the LogStore (one shared WAL for every consensus group, group
// commit) and answers each append once it is durable.
//
// Pinned to the main thread. The store's state is not only file descriptors (which are
// process-wide) but lanes with double buffers, a write in flight on libuv's thread pool and
// promises waiting on it; none of that can be structured-cloned, and re-opening the store on
// another thread means running recovery over the whole WAL. The actual I/O already runs on the
// thread pool, so what the main thread spends here is only encoding and CRCs.
//
// Appends are not awaited inside receive(): each one is handed to the store at once, so appends
// from several groups (and a group's next Ready after its ack) share fdatasyncs.
//
// Multi-Raft's single snapshot (Niagara §3.3): every instance compacts with the same image, and
// each sends its own save-snapshot tagged with the shared id. They are collected until every
// instance asked has either sent its target or said it skips, and stored with ONE saveSnapshot
// (one image file, one WAL record per instance). A set still incomplete after SHARED_WAIT_MS is
// stored with what arrived (an instance that never answers must not keep the log from shrinking).
import type { Actor, ActorContext } from '../actors/index.js';
import type { SnapshotMeta } from '../protocols/api.js';
import type { LogStore } from '../storage/index.js';
import type { RaftIn, SharedSnapshot, WalIn } from './messages.js';

const SHARED_WAIT_MS = 10_000;

interface SharedSet {
  readonly groups: number;
  answered: number;
  readonly targets: { group: number; meta: SnapshotMeta; replyTo: string }[];
  data: Uint8Array | null;
}

export interface WalActorOptions {
  readonly store: LogStore;
  /** The store failed (disk full, I/O error): the replica must stop. */
  readonly fatal: (reason: string) => void;
  readonly onSnapshotSaved?: (group: number, index: number) => void;
  readonly log: (msg: string) => void;
  readonly info?: (msg: string) => void;
}

export function createWalActor(o: WalActorOptions): (ctx: ActorContext) => Actor {
  const shared = new Map<number, SharedSet>();
  return (ctx) => {
    const save = (targets: readonly { group: number; meta: SnapshotMeta; replyTo: string }[], data: Uint8Array): void => {
      o.store.saveSnapshot(targets.map(({ group, meta }) => ({ group, meta })), data).then(
        () => {
          for (const { group, meta, replyTo } of targets) {
            o.onSnapshotSaved?.(group, meta.index);
            ctx.send(replyTo, { t: 'snapshot-saved', index: meta.index } satisfies RaftIn);
          }
        },
        (e: unknown) => {
          // The log still holds everything the snapshot would have covered: nothing is lost.
          const m = e instanceof Error ? e.message : String(e);
          o.log(`snapshot of group(s) ${targets.map((t) => `${t.group}@${t.meta.index}`).join(', ')} was not stored: ${m}`);
          if (o.store.failed) o.fatal(`the store stopped: ${m}`);
          for (const { meta, replyTo } of targets) ctx.send(replyTo, { t: 'snapshot-saved', index: meta.index, error: m } satisfies RaftIn);
        },
      );
    };
    const sharedSet = (s: SharedSnapshot): SharedSet => {
      let set = shared.get(s.id);
      if (!set) {
        ctx.setTimer(`shared/${s.id}`, SHARED_WAIT_MS, { t: 'shared-timeout', id: s.id });
        set = { groups: s.groups, answered: 0, targets: [], data: null };
        shared.set(s.id, set);
      }
      return set;
    };
    const complete = (id: number): void => {
      const set = shared.get(id);
      if (!set) return;
      shared.delete(id);
      ctx.cancelTimer(`shared/${id}`);
      if (set.answered < set.groups) o.log(`shared snapshot ${id}: ${set.answered} of ${set.groups} instances answered; storing what arrived`);
      if (set.targets.length > 0 && set.data !== null) save(set.targets, set.data);
    };
    return {
    receive(raw: unknown): void {
      const msg = raw as WalIn | { t: 'shared-timeout'; id: number };
      if (msg.t === 'shared-timeout') {
        complete(msg.id);
        return;
      }
      if (msg.t === 'snapshot-skip') {
        const set = sharedSet(msg.shared);
        if (++set.answered >= set.groups) complete(msg.shared.id);
        return;
      }
      if (msg.t === 'save-snapshot' && msg.shared) {
        const set = sharedSet(msg.shared);
        set.targets.push({ group: msg.group, meta: msg.meta, replyTo: msg.replyTo });
        set.data ??= msg.data;
        if (++set.answered >= set.groups) complete(msg.shared.id);
        return;
      }
      if (msg.t === 'append') {
        const { seq, replyTo } = msg;
        for (const w of msg.writes) {
          if (w.snapshot) o.info?.(`installing a snapshot received from the leader: group ${w.group}, index ${w.snapshot.meta.index}, term ${w.snapshot.meta.term}, ${w.snapshot.data.length} bytes`);
        }
        o.store.append(msg.writes).then(
          () => ctx.send(replyTo, { t: 'appended', seq } satisfies RaftIn),
          (e: unknown) => o.fatal(`the write-ahead log refused or failed an append: ${e instanceof Error ? e.message : String(e)}`),
        );
      } else if (msg.t === 'save-snapshot') {
        save([{ group: msg.group, meta: msg.meta, replyTo: msg.replyTo }], msg.data);
      }
    },
    };
  };
}
