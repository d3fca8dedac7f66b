// Entry point of an executor's worker thread: pins itself, then serves coordinator requests.
import { parentPort, workerData } from 'node:worker_threads';
import { ExecutorCore } from './executor.js';
import type { BatchCodec } from './executor.js';
import { currentTid, pinCurrentThread, readCpusAllowed } from './pinning.js';
import type { PinReply, WorkerInbound, WorkerOutbound } from './wire.js';

interface WorkerInit {
  readonly index: number;
  readonly cpus: readonly number[] | null;
  readonly pin: boolean;
  readonly codec: BatchCodec;
}

const port = parentPort;
if (!port) throw new Error('worker-main.js must run in a worker thread');
const init = workerData as WorkerInit;

const tid = await currentTid();
let pin: PinReply = { ok: false, error: 'not requested', cpusAllowed: readCpusAllowed(tid) };
if (init.pin) pin = await pinCurrentThread(init.cpus, tid);

const post = (m: WorkerOutbound): void => port.postMessage(m);
const core = new ExecutorCore(init.index, tid, { emit: (ev) => post({ ev }) }, init.codec);

port.on('message', (m: WorkerInbound) => {
  core.handle(m.req).then(
    (value) => post({ rid: m.rid, ok: true, value }),
    (err: unknown) => post({ rid: m.rid, ok: false, error: err instanceof Error ? err.message : String(err) }),
  );
});

post({ ready: { ...core.info(), pin } });
