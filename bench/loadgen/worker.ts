// A generator thread: its own target connections and an independent Poisson stream carrying
// 1/workers of the rate. Reports per-second buckets to the main thread, which merges them.
import { parentPort, workerData } from 'node:worker_threads';
import { OpenLoopEngine } from './engine.js';
import { encodeHistogram } from './hist.js';
import { toWire } from './interval.js';
import type { Profile } from './profile/profile.js';
import { OPERATION_KINDS } from './profile/profile.js';
import type { TargetOptions } from './target.js';
import { createTarget } from './targets/index.js';
import type { MainToWorker, WorkerInit, WorkerToMain } from './worker-protocol.js';

const port = parentPort!;
const init = workerData as WorkerInit;
const post = (m: WorkerToMain) => port.postMessage(m);

async function main(): Promise<void> {
  const profile: Profile = init.profile;
  const target = await createTarget(init.target, init.targetOptions as TargetOptions);
  await target.connect();
  let engine: OpenLoopEngine | undefined;
  let stopEarly = false;
  const started = new Promise<number>((resolve) => {
    port.on('message', (m: MainToWorker) => {
      if (m.type === 'start') resolve(m.startEpochMs);
      else if (m.type === 'stop') {
        stopEarly = true;
        engine?.stop(m.drainMs);
        resolve(0);
      }
    });
  });
  post({ type: 'ready' });
  const startEpochMs = await started;
  if (stopEarly) {
    await target.close();
    post({ type: 'final', final: null });
    return;
  }
  engine = new OpenLoopEngine(profile, target, {
    worker: init.worker,
    workers: init.workers,
    startEpochMs,
    onInterval: (b) => post({ type: 'interval', bucket: toWire(b), inFlight: engine?.inFlightCount ?? 0 }),
  });
  const f = await engine.run();
  await target.close();
  post({
    type: 'final',
    final: {
      ...f,
      sendLag: encodeHistogram(f.sendLag),
      byOp: Object.fromEntries(OPERATION_KINDS.map((k) => [k, { ...f.byOp[k], hist: encodeHistogram(f.byOp[k].hist) }])),
    },
  });
}

main().catch((err: unknown) => {
  post({ type: 'error', name: err instanceof Error ? err.name : 'Error', message: err instanceof Error ? err.message : String(err) });
});
