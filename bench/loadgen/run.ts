// Runs a profile against a target: connect (fail fast if unreachable), preload, then the open-loop
// engine on this thread or on `concurrency.workers` worker threads, with a progress line each
// second. An abort (Ctrl-C) stops the arrivals, waits briefly for replies and returns the partial
// result, marked as such.
import { Worker } from 'node:worker_threads';
import type { EngineFinal } from './engine.js';
import { OpenLoopEngine } from './engine.js';
import { decodeHistogram, summarize } from './hist.js';
import type { IntervalBucket } from './interval.js';
import { fromWire } from './interval.js';
import { preloadKeys } from './preload.js';
import type { OperationKind, Profile } from './profile/profile.js';
import type { LoadResult } from './report.js';
import { RunAggregator } from './report.js';
import type { TargetOptions, TargetSpec } from './target.js';
import { DEFAULT_TARGET_OPTIONS } from './target.js';
import { parseTargetUrl } from './target-url.js';
import { createTarget } from './targets/index.js';
import type { MainToWorker, WireFinal, WorkerInit, WorkerToMain } from './worker-protocol.js';

export interface RunLoadOptions {
  profile: Profile;
  target: string | TargetSpec;
  targetOptions?: Partial<TargetOptions>;
  /** Aborting stops the run early; the result is then partial. */
  signal?: AbortSignal;
  /** Called about once per second with a one-line status. */
  progress?: (line: string) => void;
  /** Messages about set-up (preload). */
  log?: (line: string) => void;
  /** How long to wait for in-flight replies after an abort (default 2 s). */
  abortDrainMs?: number;
}

function fmtRate(x: number): string {
  return x >= 10_000 ? `${(x / 1000).toFixed(1)}k` : x.toFixed(0);
}

export async function runLoad(opts: RunLoadOptions): Promise<LoadResult> {
  const { profile } = opts;
  const spec = typeof opts.target === 'string' ? parseTargetUrl(opts.target) : opts.target;
  const targetOptions: TargetOptions = {
    ...DEFAULT_TARGET_OPTIONS,
    connectionsPerEndpoint: profile.concurrency.connections,
    timeoutMs: profile.timeoutMs,
    ...opts.targetOptions,
  };
  const workers = profile.concurrency.workers;
  const log = opts.log ?? (() => {});

  const target = await createTarget(spec, targetOptions);
  await target.connect();
  let targetOpen = true;
  try {
    if (profile.preload > 0) {
      log(`preloading ${profile.preload} keys`);
      await preloadKeys(target, profile, {
        ...(opts.signal ? { signal: opts.signal } : {}),
        progress: (done, total) => log(`preloaded ${done}/${total} keys`),
      });
    }
    const agg = new RunAggregator();
    const startedAt = new Date();
    let interrupted: string | null = null;
    let startEpochMs = 0;
    let stopAtS: number | undefined;
    const markStop = () => {
      stopAtS ??= startEpochMs === 0 ? 0 : Math.max(0, (performance.timeOrigin + performance.now() - startEpochMs) / 1000);
    };
    opts.signal?.addEventListener('abort', markStop, { once: true });
    let inFlight = 0;
    const cpu0 = process.cpuUsage();

    // Progress and client CPU, once per second of the run.
    let lastCpu = process.cpuUsage();
    let lastCpuAt = performance.now();
    let shownSecond = -1;
    const progressTimer = setInterval(() => {
      if (startEpochMs === 0) return; // worker threads still connecting
      const now = performance.now();
      const c = process.cpuUsage(lastCpu);
      const cpuPct = ((c.user + c.system) / 1000 / Math.max(1, now - lastCpuAt)) * 100;
      lastCpu = process.cpuUsage();
      lastCpuAt = now;
      const nowS = (performance.timeOrigin + now - startEpochMs) / 1000;
      const second = Math.floor(nowS) - 1;
      if (second < 0) return;
      agg.addCpuSample(second, cpuPct);
      if (!opts.progress || second <= shownSecond) return;
      shownSecond = second;
      const b: IntervalBucket | undefined = agg.bucketFor(second);
      const ok = b ? b.completed - b.errors : 0;
      const p99 = b ? summarize(b.hist).p99_ms : 0;
      opts.progress(
        `[${String(Math.min(Math.floor(nowS), Math.ceil(profile.duration))).padStart(4)}/${Math.ceil(profile.duration)} s] ` +
          `offered ${fmtRate(b?.offered ?? 0)}/s achieved ${fmtRate(ok)}/s p99 ${p99.toFixed(2)} ms ` +
          `errors ${b?.errors ?? 0} in-flight ${inFlight} client-cpu ${cpuPct.toFixed(0)}%`,
      );
    }, 1000);

    try {
      if (workers === 1) {
        startEpochMs = performance.timeOrigin + performance.now() + 20;
        const engine: OpenLoopEngine = new OpenLoopEngine(profile, target, {
          worker: 0,
          workers: 1,
          startEpochMs,
          onInterval: (b) => {
            agg.addInterval(b);
            inFlight = engine.inFlightCount;
          },
        });
        const onAbort = () => {
          interrupted = reasonOf(opts.signal);
          engine.stop(opts.abortDrainMs ?? 2000);
        };
        if (opts.signal?.aborted) onAbort();
        else opts.signal?.addEventListener('abort', onAbort, { once: true });
        const final = await engine.run();
        opts.signal?.removeEventListener('abort', onAbort);
        agg.addFinal(final);
      } else {
        await target.close();
        targetOpen = false;
        const r = await runWorkers(profile, spec, targetOptions, agg, opts, (n) => (inFlight = n), (t) => (startEpochMs = t));
        interrupted = r.interrupted;
      }
    } finally {
      clearInterval(progressTimer);
      opts.signal?.removeEventListener('abort', markStop);
    }
    // elapsed runs to the last reply (or the drain deadline); arrivals ran for the profile's
    // duration, or until the interrupt.
    const elapsed = Math.max(0, (performance.timeOrigin + performance.now() - startEpochMs) / 1000);
    const arrivalWindow = interrupted ? Math.min(stopAtS ?? elapsed, profile.duration) : profile.duration;
    const cpu = process.cpuUsage(cpu0);
    const summary = agg.summary({
      profile,
      target: spec.url,
      startedAt,
      elapsed,
      arrivalWindow,
      interrupted,
      cpu,
      workers,
    });
    return { summary, timeline: agg.timeline(profile, elapsed) };
  } finally {
    if (targetOpen) await target.close();
  }
}

function reasonOf(signal: AbortSignal | undefined): string {
  const r: unknown = signal?.reason;
  if (typeof r === 'string') return r;
  if (r instanceof Error && r.message) return r.message;
  return 'aborted';
}

function decodeFinal(w: WireFinal): EngineFinal {
  const byOp = {} as EngineFinal['byOp'];
  for (const [k, v] of Object.entries(w.byOp)) byOp[k as OperationKind] = { count: v.count, errors: v.errors, errorCodes: v.errorCodes, hist: decodeHistogram(v.hist) };
  return { ...w, byOp, sendLag: decodeHistogram(w.sendLag) };
}

async function runWorkers(
  profile: Profile,
  spec: TargetSpec,
  targetOptions: TargetOptions,
  agg: RunAggregator,
  opts: RunLoadOptions,
  setInFlight: (n: number) => void,
  setStart: (epochMs: number) => void,
): Promise<{ interrupted: string | null }> {
  const n = profile.concurrency.workers;
  const url = new URL('./worker.js', import.meta.url);
  const inFlightBy = new Array<number>(n).fill(0);
  const workers: Worker[] = [];
  let interrupted: string | null = null;
  let failure: Error | undefined;
  const ready: Array<Promise<void>> = [];
  const finals: Array<Promise<void>> = [];
  for (let i = 0; i < n; i++) {
    const init: WorkerInit = { profile, target: spec, targetOptions, worker: i, workers: n };
    const w = new Worker(url, { workerData: init });
    workers.push(w);
    let markReady!: () => void;
    let markFinal!: () => void;
    ready.push(new Promise<void>((r) => (markReady = r)));
    finals.push(new Promise<void>((r) => (markFinal = r)));
    w.on('message', (m: WorkerToMain) => {
      switch (m.type) {
        case 'ready':
          markReady();
          break;
        case 'interval':
          agg.addInterval(fromWire(m.bucket));
          inFlightBy[i] = m.inFlight;
          setInFlight(inFlightBy.reduce((a, b) => a + b, 0));
          break;
        case 'final':
          if (m.final) agg.addFinal(decodeFinal(m.final));
          markFinal();
          break;
        case 'error': {
          const e = new Error(m.message);
          e.name = m.name;
          failure ??= e;
          markReady();
          markFinal();
          break;
        }
      }
    });
    w.on('error', (err) => {
      failure ??= err;
      markReady();
      markFinal();
    });
    w.on('exit', () => {
      markReady();
      markFinal();
    });
  }
  const post = (m: MainToWorker) => workers.forEach((w) => w.postMessage(m));
  const onAbort = () => {
    interrupted = reasonOf(opts.signal);
    post({ type: 'stop', drainMs: opts.abortDrainMs ?? 2000 });
  };
  try {
    await Promise.all(ready);
    if (failure) throw failure;
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });
    const startEpochMs = performance.timeOrigin + performance.now() + 50;
    setStart(startEpochMs);
    post({ type: 'start', startEpochMs });
    await Promise.all(finals);
    if (failure) throw failure;
    return { interrupted };
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
