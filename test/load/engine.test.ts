// The generator's accounting, against a target with a known service time: one request at a time,
// 10 ms each (a FIFO single server written here, since no real server has a fixed service time).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { profileFromObject } from '../../bench/loadgen/profile/load.js';
import { OpenLoopEngine } from '../../bench/loadgen/engine.js';
import { RunAggregator } from '../../bench/loadgen/report.js';
import type { LoadTarget, ReadConsistency } from '../../bench/loadgen/target.js';

class SingleServerTarget implements LoadTarget {
  readonly kind = 'single-server';
  private tail: Promise<void> = Promise.resolve();
  served = 0;
  constructor(private readonly serviceMs: number) {}
  private serve(): Promise<void> {
    const done = this.tail.then(() => new Promise<void>((r) => setTimeout(r, this.serviceMs)));
    this.tail = done;
    return done.then(() => {
      this.served++;
    });
  }
  async connect(): Promise<void> {}
  async put(_k: Uint8Array, _v: Uint8Array): Promise<void> {
    await this.serve();
  }
  async get(_k: Uint8Array, _c: ReadConsistency): Promise<Uint8Array | undefined> {
    await this.serve();
    return new Uint8Array(1);
  }
  async delete(): Promise<boolean> {
    await this.serve();
    return true;
  }
  async cas(): Promise<boolean> {
    await this.serve();
    return true;
  }
  async scan(): Promise<number> {
    await this.serve();
    return 1;
  }
  async close(): Promise<void> {}
}

function overload(maxInFlight: number) {
  // 200 arrivals/s for 1 s against a server that completes 100/s (10 ms each, one at a time).
  return profileFromObject({
    seed: 3,
    phases: [{ type: 'constant', duration: 1, rate: 200 }],
    operations: { write: 1 },
    keys: { count: 10 },
    values: { size: 8 },
    concurrency: { max_in_flight: maxInFlight },
  });
}

async function run(maxInFlight: number, stopAfterMs?: number) {
  const profile = overload(maxInFlight);
  const target = new SingleServerTarget(10);
  const agg = new RunAggregator();
  const startEpochMs = performance.timeOrigin + performance.now() + 10;
  const engine = new OpenLoopEngine(profile, target, { worker: 0, workers: 1, startEpochMs, onInterval: (b) => agg.addInterval(b) });
  if (stopAfterMs !== undefined) setTimeout(() => engine.stop(50), stopAfterMs);
  const final = await engine.run();
  agg.addFinal(final);
  const elapsed = (performance.timeOrigin + performance.now() - startEpochMs) / 1000;
  const summary = agg.summary({ profile, target: 'single-server', startedAt: new Date(), elapsed, arrivalWindow: 1, interrupted: stopAfterMs ? 'test' : null, cpu: { user: 0, system: 0 }, workers: 1 });
  return { summary, final, target };
}

test('latency counts from the intended send time: a backlog shows up as latency (no coordinated omission)', { timeout: 30_000 }, async () => {
  const { summary: s } = await run(1000);
  assert.ok(s.offered > 150 && s.offered < 250, `offered ${s.offered}`);
  assert.equal(s.ok, s.offered);
  // Requests left on time (the generator did not wait for the server)...
  assert.ok(s.client.send_lag_ms.p50 < 20, `send lag p50 ${s.client.send_lag_ms.p50}`);
  assert.ok(s.client.max_in_flight > 50, `in flight ${s.client.max_in_flight}`);
  // ...so the server's backlog is in the latencies: the last of ~200 requests at 100/s waits ~1 s,
  // where a closed-loop client would have reported ~10 ms for every request.
  assert.ok(s.latency.p50_ms > 200, `p50 ${s.latency.p50_ms}`);
  assert.ok(s.latency.max_ms > 600, `max ${s.latency.max_ms}`);
});

test('requests queued behind max_in_flight still count their wait', { timeout: 30_000 }, async () => {
  const { summary: s } = await run(1);
  assert.equal(s.ok, s.offered);
  assert.equal(s.client.max_in_flight, 1);
  assert.ok(s.client.max_queued > 50, `queued ${s.client.max_queued}`);
  assert.ok(s.latency.p50_ms > 200 && s.latency.max_ms > 600, `p50 ${s.latency.p50_ms} max ${s.latency.max_ms}`);
  assert.ok(s.client.send_lag_ms.max > 500, 'the queue wait is the generator sending late, and it is reported');
});

test('stop() ends the run early and reports unanswered requests as abandoned', { timeout: 30_000 }, async () => {
  const { summary: s, final } = await run(1000, 500);
  assert.ok(s.offered > 50 && s.offered < 160, `offered ${s.offered}`);
  assert.ok(final.abandoned > 0, 'the backlog was not waited for');
  assert.equal(s.ok + final.abandoned, s.offered);
  assert.equal(s.partial, true);
});
