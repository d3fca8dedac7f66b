// Runtime behaviour around the edges of the contract: timers and async handlers across moves,
// actors that own file descriptors, dead letters and spawn errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ActorRuntime } from '../../runtime/actors/runtime.js';
import type { FaultReport } from '../../runtime/actors/types.js';
import type { StormReport } from './fixtures/actors.js';
import { monoMs } from '../../runtime/actors/clock.js';
import { fixtureKind, sleep } from './helpers.js';

type Got = { n: number; ticks: number; executor: number };

test('a repeating timer keeps ticking across moves and never runs on two threads', { timeout: 60_000 }, async () => {
  const rt = await ActorRuntime.start({ workers: 2 });
  try {
    await rt.spawn({ id: 't', kind: fixtureKind('counter'), executor: 1 });
    const t0 = monoMs();
    rt.send('t', { t: 'tick-every', ms: 10 });
    const seen: number[] = [];
    for (const to of [2, 0, 1, 2, 1]) {
      await sleep(60);
      await rt.apply({ workers: 2, placement: { t: to } });
      const g = await rt.ask<Got>('t', (replyTo) => ({ t: 'get', replyTo }));
      assert.equal(g.executor, to);
      seen.push(g.ticks);
    }
    await sleep(60);
    const end = await rt.ask<Got>('t', (replyTo) => ({ t: 'get', replyTo }));
    const elapsed = monoMs() - t0;
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! > seen[i - 1]!, `ticks grow after move ${i}: ${seen.join(',')}`);
    assert.ok(end.ticks > seen[seen.length - 1]!, 'still ticking after the last move');
    // One timer fires at most once per period, so the count can never outrun the clock.
    assert.ok(end.ticks <= Math.floor(elapsed / 10) + 1, `${end.ticks} ticks in ${elapsed.toFixed(0)} ms: a timer fired twice`);
    const st = (await rt.stats()).actors.find((a) => a.id === 't')!;
    assert.equal(st.timersArmed, 1);
    assert.equal(st.migrations, 5);
  } finally {
    await rt.stop();
  }
});

test('a migration waits for an in-flight async handler; order is kept', { timeout: 60_000 }, async () => {
  const rt = await ActorRuntime.start({ workers: 2 });
  try {
    await rt.spawn({ id: 'slow', kind: fixtureKind('slowAppender'), executor: 1 });
    for (let v = 0; v < 5; v++) rt.send('slow', { t: 'add', v, delayMs: 30 });
    await sleep(10);
    const r = await rt.apply({ workers: 2, placement: { slow: 2 } });
    assert.equal(r.moved.length, 1);
    for (let v = 5; v < 10; v++) rt.send('slow', { t: 'add', v, delayMs: 1 });
    const g = await rt.ask<{ list: number[]; executor: number }>('slow', (replyTo) => ({ t: 'get', replyTo }));
    assert.deepEqual(g.list, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(g.executor, 2);
  } finally {
    await rt.stop();
  }
});

test('an actor owning a file descriptor keeps writing to it after moving threads', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(os.tmpdir(), 'verdant-actors-fd-'));
  const path = join(dir, 'out.log');
  const rt = await ActorRuntime.start({ workers: 2 });
  try {
    await rt.spawn({ id: 'w', kind: fixtureKind('fileWriter'), args: { path }, executor: 1 });
    const lines: string[] = [];
    for (const [i, to] of [[0, 2], [1, 0], [2, 1]] as const) {
      for (let k = 0; k < 3; k++) rt.send('w', { t: 'line', text: `${i}.${k}` });
      // FIFO from one sender: once 'where' is answered, the lines before it are written. (Without
      // this wait they may be handled after the move, on the next thread: also correct.)
      await rt.ask('w', (replyTo) => ({ t: 'where', replyTo }));
      await rt.apply({ workers: 2, placement: { w: to } });
    }
    const where = await rt.ask<{ executor: number }>('w', (replyTo) => ({ t: 'where', replyTo }));
    assert.equal(where.executor, 1);
    for (const [i, from] of [[0, 1], [1, 2], [2, 0]] as const) for (let k = 0; k < 3; k++) lines.push(`${i}.${k} @${from}`);
    assert.deepEqual(readFileSync(path, 'utf8').trim().split('\n'), lines);
  } finally {
    await rt.stop();
  }
});

test('dead letters are counted; bad spawns fail with clear errors and change nothing', { timeout: 60_000 }, async () => {
  const rt = await ActorRuntime.start({ workers: 1 });
  try {
    await rt.spawn({ id: 'c', kind: fixtureKind('counter'), executor: 1 });
    await assert.rejects(rt.spawn({ id: 'c', kind: fixtureKind('counter') }), /already exists/);
    await assert.rejects(rt.spawn({ id: '$x', kind: fixtureKind('counter') }), /reserved/);
    await assert.rejects(rt.spawn({ id: 'd', kind: fixtureKind('counter'), executor: 4 }), /executor 4 does not exist/);
    await assert.rejects(rt.spawn({ id: 'd', kind: { module: fileURLToPath(new URL('./fixtures/actors.js', import.meta.url)), export: 'nope' } }), /not made with defineActor/);
    await assert.rejects(rt.spawn({ id: 'd', kind: { module: 'relative/path.js', export: 'x' } }), /absolute path/);
    await assert.rejects(rt.spawn({ id: 'd', kind: fixtureKind('counter'), args: { f: () => 1 } }), /structured-cloneable/);
    await assert.rejects(rt.spawn({ id: 'd', kind: fixtureKind('mainOnly'), executor: 1 }), /pinned to the main thread/);
    assert.deepEqual(Object.keys((await rt.topology()).actors), ['c']);

    rt.send('nobody', { t: 'inc' });
    await rt.stopActor('c');
    rt.send('c', { t: 'inc' });
    const st = await rt.stats();
    assert.equal(st.executors.find((e) => e.index === 0)!.deadLetters, 2);
    assert.deepEqual(Object.keys((await rt.topology()).actors), []);
  } finally {
    await rt.stop();
  }
});

test('a message that cannot be cloned faults its sender and does not stall the pair', { timeout: 60_000 }, async () => {
  const faults: FaultReport[] = [];
  const rt = await ActorRuntime.start({ workers: 2, onFault: (r) => faults.push(r) });
  try {
    await rt.spawn({ id: 'relay', kind: fixtureKind('relay'), executor: 1 });
    await rt.spawn({ id: 'dst', kind: fixtureKind('storm'), executor: 2 });
    for (let n = 0; n < 6; n++) rt.send('relay', { t: 'send', to: 'dst', bad: n === 2, n });
    const ok = await (async () => {
      for (let i = 0; i < 200; i++) {
        const r = await rt.ask<StormReport>('dst', (replyTo) => ({ t: 'report', replyTo }));
        if ((r.expected['relay'] ?? 0) >= 6) return r;
        await sleep(20);
      }
      return null;
    })();
    assert.ok(ok, 'messages after the bad one still arrive (no stalled sequence)');
    // The receiver saw 0,1,3,4,5: #2 consumed its sequence number without being delivered.
    assert.deepEqual(ok.violations, ['dst: from relay got #3, expected #2']);
    assert.equal(faults.length, 1);
    assert.deepEqual([faults[0]!.actor, faults[0]!.action], ['relay', 'restarted']);
    assert.match(faults[0]!.error, /message to 'dst' is not structured-cloneable/);
    const st = await rt.stats();
    assert.equal(st.executors.find((e) => e.index === 1)!.unsendable, 1);
  } finally {
    await rt.stop();
  }
});

for (const codec of ['clone', 'msgpack'] as const) {
  test(`transfer lists move buffers and SharedArrayBuffer is shared (${codec} codec)`, { timeout: 60_000 }, async () => {
    const rt = await ActorRuntime.start({ workers: 1, codec });
    try {
      await rt.spawn({ id: 'r', kind: fixtureKind('bytesReader'), executor: 1 });
      const replies: { len: number; first: number; executor: number }[] = [];
      let wake = (): void => {};
      await rt.spawnLocal('col', () => ({
        receive(m) {
          replies.push(m as { len: number; first: number; executor: number });
          wake();
        },
      }));
      const next = (): Promise<void> => new Promise((r) => (wake = r));

      const buf = new Uint8Array(1 << 16).fill(7);
      const shared = new Int32Array(new SharedArrayBuffer(4));
      let p = next();
      rt.send('r', { t: 'bytes', buf, shared, replyTo: 'col' }, [buf.buffer, shared.buffer]);
      await p;
      assert.deepEqual(replies[0], { len: 1 << 16, first: 7, executor: 1 });
      assert.equal(buf.byteLength, 0, 'the buffer was transferred, not copied');
      assert.equal(Atomics.load(shared, 0), 42, 'the worker wrote into memory shared with the sender');

      // Only the SharedArrayBuffer listed: still shared, whatever the codec.
      const shared2 = new Int32Array(new SharedArrayBuffer(4));
      p = next();
      rt.send('r', { t: 'bytes', buf: new Uint8Array([5]), shared: shared2, replyTo: 'col' }, [shared2.buffer]);
      await p;
      assert.deepEqual(replies[1], { len: 1, first: 5, executor: 1 });
      assert.equal(Atomics.load(shared2, 0), 42);
    } finally {
      await rt.stop();
    }
  });
}

test('cross-executor messages travel in batches, and the metrics count them', { timeout: 60_000 }, async () => {
  const rt = await ActorRuntime.start({ workers: 1 });
  try {
    await rt.spawn({ id: 'c', kind: fixtureKind('counter'), executor: 1 });
    const N = 5000;
    for (let i = 0; i < N; i++) rt.send('c', { t: 'inc' }); // one synchronous burst from the main thread
    const got = await rt.ask<Got>('c', (replyTo) => ({ t: 'get', replyTo }));
    assert.equal(got.n, N);
    assert.equal(got.executor, 1);
    const st = await rt.stats();
    const main = st.executors.find((e) => e.index === 0)!;
    const worker = st.executors.find((e) => e.index === 1)!;
    assert.ok(main.msgsOut >= N, `main sent ${main.msgsOut}`);
    // Batched: a handful of transfers for the burst, not one per message.
    assert.ok(main.batchesOut * 50 <= main.msgsOut, `${main.batchesOut} batches for ${main.msgsOut} messages`);
    const c = st.actors.find((a) => a.id === 'c')!;
    assert.ok(c.msgsIn >= N + 1, `c received ${c.msgsIn}`);
    assert.ok(c.handlerMs > 0, 'time inside the handler is measured');
    assert.equal(c.mailboxDepth, 0);
    assert.ok(worker.msgsIn >= N, `the worker received ${worker.msgsIn}`);
    assert.ok(worker.utilization > 0 && worker.utilization <= 1, `utilization ${worker.utilization}`);
    assert.ok(worker.threadCpuMs === null || worker.threadCpuMs > 0, `thread CPU ${worker.threadCpuMs}`);
    assert.ok(worker.tid !== null && worker.tid > 0);
  } finally {
    await rt.stop();
  }
});
