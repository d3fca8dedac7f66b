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
import type { Actor, ActorContext } from '../actors/index.js';
import type { LogStore } from '../storage/index.js';
import type { RaftIn, WalIn } from './messages.js';

export interface WalActorOptions {
  readonly store: LogStore;
  /** The store failed (disk full, I/O error): the replica must stop. */
  readonly fatal: (reason: string) => void;
  readonly onSnapshotSaved?: (group: number, index: number) => void;
  readonly log: (msg: string) => void;
  readonly info?: (msg: string) => void;
}

export function createWalActor(o: WalActorOptions): (ctx: ActorContext) => Actor {
  return (ctx) => ({
    receive(raw: unknown): void {
      const msg = raw as WalIn;
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
        const { group, meta, replyTo } = msg;
        o.store.saveSnapshot([{ group, meta }], msg.data).then(
          () => {
            o.onSnapshotSaved?.(group, meta.index);
            ctx.send(replyTo, { t: 'snapshot-saved', index: meta.index } satisfies RaftIn);
          },
          (e: unknown) => {
            // The log still holds everything the snapshot would have covered: nothing is lost.
            const m = e instanceof Error ? e.message : String(e);
            o.log(`snapshot at index ${meta.index} of group ${group} was not stored: ${m}`);
            if (o.store.failed) o.fatal(`the store stopped: ${m}`);
            ctx.send(replyTo, { t: 'snapshot-saved', index: meta.index, error: m } satisfies RaftIn);
          },
        );
      }
    },
  });
}
