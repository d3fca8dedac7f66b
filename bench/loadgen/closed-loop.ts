// Closed-loop throughput probe: `window` requests outstanding at all times, a new one sent as each
// reply arrives. This finds a server's maximum throughput quickly (the server is never idle),
// but its latencies are not what an open-loop client would see: use it for "how fast at most",
// and the open-loop engine for latency at a given load.
import type { LatencySummary } from './hist.js';
import { newHistogram, recordUs, summarize } from './hist.js';
import { errorCode } from './interval.js';
import { KeyChooser } from './keys.js';
import type { LoadTarget } from './target.js';
import { ValueSource } from './workload.js';
import { SeededRng } from '../../runtime/protocols/rng.js';

export interface ClosedLoopOptions {
  /** Requests kept outstanding. */
  window: number;
  durationS: number;
  valueSize: number;
  /** Puts go to uniformly chosen keys among this many. */
  keyCount: number;
  keyPrefix?: string;
  seed?: number;
  signal?: AbortSignal;
}

export interface ClosedLoopResult {
  window: number;
  ok: number;
  errors: number;
  errors_by_code: Record<string, number>;
  elapsed_s: number;
  ops_per_s: number;
  latency: LatencySummary;
  client_cpu_s: number;
}

/** Durable 1-key puts at full speed for durationS. */
export async function runClosedLoopPuts(target: LoadTarget, o: ClosedLoopOptions): Promise<ClosedLoopResult> {
  const rng = new SeededRng(o.seed ?? 7);
  const keys = new KeyChooser({ count: o.keyCount, distribution: 'uniform', theta: 0.99, scramble: false, prefix: o.keyPrefix ?? 'cmp/' });
  const values = new ValueSource({ distribution: 'constant', size: o.valueSize }, rng.fork());
  const hist = newHistogram();
  const errorsByCode: Record<string, number> = {};
  let ok = 0;
  let errors = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const deadline = t0 + o.durationS * 1000;
  const lane = async (): Promise<void> => {
    while (performance.now() < deadline && !o.signal?.aborted) {
      const start = performance.now();
      try {
        await target.put(keys.key(keys.choose(rng)), values.value(rng));
        recordUs(hist, (performance.now() - start) * 1000);
        ok++;
      } catch (err) {
        errors++;
        const c = errorCode(err);
        errorsByCode[c] = (errorsByCode[c] ?? 0) + 1;
        // A failing server must not turn this into a busy loop.
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  };
  await Promise.all(Array.from({ length: o.window }, lane));
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return {
    window: o.window,
    ok,
    errors,
    errors_by_code: errorsByCode,
    elapsed_s: Math.round(elapsed * 1000) / 1000,
    ops_per_s: Math.round((ok / elapsed) * 10) / 10,
    latency: summarize(hist),
    client_cpu_s: Math.round(((cpu.user + cpu.system) / 1e6) * 1000) / 1000,
  };
}
