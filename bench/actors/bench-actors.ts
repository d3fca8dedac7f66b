// Actor kinds for `npm run bench -- actors`. Sinks check the sequence of every source, so the
// benchmark counts lost, duplicated and reordered messages instead of trusting the runtime.
import { defineActor } from '../../runtime/actors/define.js';

export type BenchMsg =
  | { t: 'run'; sink: string; total: number; window: number; replyTo: string }
  | { t: 'ack'; got: number }
  | { t: 'd'; n: number }
  | { t: 'pace'; sinks: string[]; perTick: number; tickMs: number; ticks: number }
  | { t: 'tick' }
  | { t: 'sample' }
  | { t: 'expect'; from: string; total: number; ackEvery: number; replyTo: string }
  | { t: 'report'; replyTo: string };

export interface SinkReport {
  received: number;
  duplicated: number;
  reordered: number;
  expected: Record<string, number>;
  /** [monoMs, messages received so far] every sampleMs. */
  samples: [number, number][];
}

/** Sends `total` messages to a sink with at most `window` unacknowledged, or paces by timer. */
interface SourceState {
  sent: Record<string, number>;
  closed: { sink: string; total: number; window: number; acked: number } | null;
  pace: { sinks: string[]; perTick: number; ticks: number; done: number } | null;
}

export const source = defineActor<unknown, BenchMsg, SourceState>((ctx) => {
  let sent: Record<string, number> = {};
  let closed: { sink: string; total: number; window: number; acked: number } | null = null;
  let pace: { sinks: string[]; perTick: number; ticks: number; done: number } | null = null;
  const pump = (): void => {
    if (!closed) return;
    let n = sent[closed.sink] ?? 0;
    const limit = Math.min(closed.total, closed.acked + closed.window);
    for (; n < limit; n++) ctx.send(closed.sink, { t: 'd', n });
    sent[closed.sink] = n;
  };
  return {
    receive(msg) {
      switch (msg.t) {
        case 'run': {
          // Totals are per run; counters are cumulative across runs.
          const base = sent[msg.sink] ?? 0;
          closed = { sink: msg.sink, total: base + msg.total, window: msg.window, acked: base };
          pump();
          break;
        }
        case 'ack':
          if (closed) {
            closed.acked = Math.max(closed.acked, msg.got);
            pump();
          }
          break;
        case 'pace':
          pace = { sinks: msg.sinks, perTick: msg.perTick, ticks: msg.ticks, done: 0 };
          ctx.setTimer('pace', msg.tickMs, { t: 'tick' }, { repeat: true });
          break;
        case 'tick':
          if (!pace) break;
          for (const s of pace.sinks) {
            let n = sent[s] ?? 0;
            for (let i = 0; i < pace.perTick; i++) ctx.send(s, { t: 'd', n: n++ });
            sent[s] = n;
          }
          if (++pace.done >= pace.ticks) {
            ctx.cancelTimer('pace');
            pace = null;
          }
          break;
        case 'report':
          ctx.send(msg.replyTo, { sent });
          break;
      }
    },
    snapshot: () => ({ sent, closed, pace }),
    restore(s) {
      sent = s.sent;
      closed = s.closed;
      pace = s.pace;
    },
  };
});

interface SinkState {
  expected: Record<string, number>;
  received: number;
  duplicated: number;
  reordered: number;
  samples: [number, number][];
  waits: { from: string; total: number; ackEvery: number; replyTo: string }[];
  ballast: Uint8Array;
}

/** Counts and checks what arrives; optionally carries `ballast` bytes of state. */
export const sink = defineActor<{ ballast?: number; sampleMs?: number }, BenchMsg, SinkState>((ctx, args) => {
  let s: SinkState = { expected: {}, received: 0, duplicated: 0, reordered: 0, samples: [], waits: [], ballast: new Uint8Array(args?.ballast ?? 0) };
  if (args?.sampleMs) ctx.setTimer('sample', args.sampleMs, { t: 'sample' }, { repeat: true });
  return {
    receive(msg, from) {
      switch (msg.t) {
        case 'd': {
          const want = s.expected[from] ?? 0;
          if (msg.n < want) {
            s.duplicated++;
            break;
          }
          if (msg.n > want) s.reordered++;
          const got = msg.n + 1;
          s.expected[from] = got;
          s.received++;
          for (let i = 0; i < s.waits.length; i++) {
            const w = s.waits[i]!;
            if (w.from !== from) continue;
            if (got === w.total) {
              ctx.send(from, { t: 'ack', got });
              ctx.send(w.replyTo, { done: got, at: ctx.now() });
              s.waits.splice(i, 1);
            } else if (got % w.ackEvery === 0) ctx.send(from, { t: 'ack', got });
            break;
          }
          break;
        }
        case 'expect':
          s.waits.push({ from: msg.from, total: (s.expected[msg.from] ?? 0) + msg.total, ackEvery: msg.ackEvery, replyTo: msg.replyTo });
          break;
        case 'sample':
          s.samples.push([ctx.now(), s.received]);
          break;
        case 'report':
          ctx.send(msg.replyTo, { received: s.received, duplicated: s.duplicated, reordered: s.reordered, expected: s.expected, samples: s.samples } satisfies SinkReport);
          break;
      }
    },
    snapshot: () => s,
    restore(st) {
      s = st;
    },
  };
});
