// Worker side of the transport comparison in bench/suites/actors.ts: the same 4-slot batch
// layout the runtime uses, moved either by MessagePort.postMessage (structured clone) or through
// a SharedArrayBuffer ring (msgpackr-encoded batches, Atomics for wake-ups).
import { parentPort, workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { Packr, Unpackr } from 'msgpackr';

interface Init {
  role: 'port-producer' | 'port-consumer' | 'ring-producer' | 'ring-consumer';
  total: number;
  batch: number;
  port?: MessagePort;
  sab?: SharedArrayBuffer;
  codec?: 'clone' | 'msgpack';
}
const init = workerData as Init;
const done = (v: unknown): void => parentPort!.postMessage(v);
/** Producers start on 'go' so that thread start-up is not timed. */
const onGo = (fn: () => void): void => {
  parentPort!.once('message', fn);
  parentPort!.postMessage('ready');
};

function makeBatch(start: number, count: number): unknown[] {
  const b: unknown[] = [];
  for (let i = start; i < start + count; i++) b.push(7, 3, i, { t: 'd', n: i });
  return b;
}

const packer = new Packr({ useRecords: true });
const unpacker = new Unpackr({ useRecords: true });

// Ring layout: Int32 control words [head, tail, consumerSleeping], then `cap` data bytes.
// Each record is a 4-byte length then msgpack bytes, 4-byte aligned; -1 length means "wrap".
const CTL_BYTES = 64;

if (init.role === 'port-producer') {
  const port = init.port!;
  let i = 0;
  const go = (): void => {
    for (let k = 0; k < 32 && i < init.total; k++) {
      const n = Math.min(init.batch, init.total - i);
      if (init.codec === 'msgpack') {
        const u8 = packer.pack(makeBatch(i, n));
        const ab = u8.buffer.slice(u8.byteOffset, u8.byteOffset + u8.byteLength) as ArrayBuffer;
        port.postMessage(ab, [ab]);
      } else port.postMessage(makeBatch(i, n));
      i += n;
    }
    if (i < init.total) setImmediate(go);
  };
  onGo(go);
} else if (init.role === 'port-consumer') {
  const port = init.port!;
  let got = 0;
  let sum = 0;
  parentPort!.postMessage('ready');
  port.on('message', (m: unknown[] | ArrayBuffer) => {
    const b = m instanceof ArrayBuffer ? (unpacker.unpack(new Uint8Array(m)) as unknown[]) : m;
    for (let j = 0; j < b.length; j += 4) {
      sum += (b[j + 3] as { n: number }).n;
      got++;
    }
    if (got >= init.total) {
      done({ got, sum });
      port.close();
    }
  });
} else {
  const sab = init.sab!;
  const cap = sab.byteLength - CTL_BYTES;
  const ctl = new Int32Array(sab, 0, 3);
  const data = new Uint8Array(sab, CTL_BYTES, cap);
  const dv = new DataView(sab, CTL_BYTES, cap);
  const packr = new Packr({ useRecords: true });
  if (init.role === 'ring-producer') {
    let i = 0;
    const go = (): void => {
      for (let k = 0; k < 32 && i < init.total; k++) {
        const n = Math.min(init.batch, init.total - i);
        const buf = packr.pack(makeBatch(i, n));
        i += n;
        const need = 4 + buf.length + 4;
        // Wait for room (the consumer frees space as it reads); worst case one wrap wastes < need.
        while (cap - (Atomics.load(ctl, 0) - Atomics.load(ctl, 1)) < 2 * need) Atomics.wait(ctl, 1, Atomics.load(ctl, 1), 1);
        let head = Atomics.load(ctl, 0);
        let pos = head % cap;
        if (pos + 4 + buf.length > cap) {
          dv.setInt32(pos, -1, true);
          head += cap - pos;
          pos = 0;
        }
        dv.setInt32(pos, buf.length, true);
        data.set(buf, pos + 4);
        head += 4 + buf.length;
        head += (4 - (head & 3)) & 3;
        Atomics.store(ctl, 0, head);
        if (Atomics.load(ctl, 2) === 1) Atomics.notify(ctl, 0);
      }
      if (i < init.total) setImmediate(go);
    };
    onGo(go);
  } else {
    let got = 0;
    let sum = 0;
    parentPort!.postMessage('ready');
    const keepAlive = setInterval(() => {}, 1000);
    const loop = async (): Promise<void> => {
      for (;;) {
        const head = Atomics.load(ctl, 0);
        let tail = Atomics.load(ctl, 1);
        if (head === tail) {
          Atomics.store(ctl, 2, 1);
          if (Atomics.load(ctl, 0) === tail) {
            const r = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number): { async: boolean; value: Promise<unknown> } }).waitAsync(ctl, 0, head);
            if (r.async) await r.value;
          }
          Atomics.store(ctl, 2, 0);
          continue;
        }
        while (tail < head) {
          const pos = tail % cap;
          const len = dv.getInt32(pos, true);
          if (len === -1) {
            tail += cap - pos;
            continue;
          }
          // Copied out of the shared memory first: msgpackr's native string extractor
          // (msgpackr-extract 3.0.4) segfaults on SharedArrayBuffer-backed input.
          const b = packr.unpack(data.slice(pos + 4, pos + 4 + len)) as unknown[];
          for (let j = 0; j < b.length; j += 4) {
            sum += (b[j + 3] as { n: number }).n;
            got++;
          }
          tail += 4 + len;
          tail += (4 - (tail & 3)) & 3;
        }
        Atomics.store(ctl, 1, tail);
        Atomics.notify(ctl, 1);
        if (got >= init.total) {
          clearInterval(keepAlive);
          done({ got, sum });
          return;
        }
      }
    };
    void loop();
  }
}
