// `npm run bench -- kv-apply [--keys N] [--ops N] [--batch B] [--quick]`
// Single-threaded throughput of the KV state machine itself (no consensus, no I/O): apply of 100 B
// and 1 KB puts in several shapes, get, scan, snapshot and restore. Inputs are encoded in rounds
// outside the timed sections; only apply/query/snapshot/restore are timed.
import { Consistency } from '../../runtime/service/api.js';
import { ByteReader, ByteWriter, varintSize } from '../../runtime/common/bytes.js';
import os from 'node:os';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { BATCH_FORMAT, CommandKind, encodeBatch, encodeCommand, encodeQuery, okBody } from '../../runtime/service/envelope.js';
import { createKvStateMachine, encodeKvQuery, KvOp } from '../../runtime/service/kv/index.js';
import type { ServiceStateMachine } from '../../runtime/service/service-state-machine.js';
import type { Entry } from '../../runtime/protocols/api.js';

interface Options {
  keys: number;
  ops: number;
  batch: number;
  clients: number;
}

function parse(args: string[]): Options {
  const o: Options = { keys: 100_000, ops: 1_000_000, batch: 64, clients: 16 };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const v = Number(args[i + 1]);
    if (a === '--quick') {
      o.keys = 20_000;
      o.ops = 200_000;
    } else if (a === '--keys') (o.keys = v), i++;
    else if (a === '--ops') (o.ops = v), i++;
    else if (a === '--batch') (o.batch = v), i++;
    else if (a === '--clients') (o.clients = v), i++;
    else throw new Error(`kv-apply: unknown argument ${a}`);
  }
  return o;
}

const BASE_TS = 1_700_000_000_000;

function keyOf(i: number): Buffer {
  return Buffer.from(`key${String(i).padStart(12, '0')}`);
}

/** A permutation-ish walk over the key space that is not sequential. */
function scatter(i: number, keys: number): number {
  return (i * 2654435761) % keys;
}

interface Driver {
  sm: ServiceStateMachine;
  index: number;
  clients: { id: number; seq: number }[];
}

function newDriver(clients: number): Driver {
  const sm = createKvStateMachine();
  const d: Driver = { sm, index: 0, clients: [] };
  if (clients > 0) {
    const open = [];
    for (let c = 0; c < clients; c++) open.push(encodeCommand({ kind: CommandKind.OpenSession, client: 0, seq: c + 1 }));
    const out = sm.apply([{ index: ++d.index, term: 1, type: 0, data: encodeBatch(BASE_TS, open) }]);
    for (const o of out) d.clients.push({ id: new ByteReader(okBody(o.result)).varint(), seq: 0 });
  }
  return d;
}

/**
 * Encode `n` puts as entries of `batch` commands, straight into one buffer per entry (the bench
 * should spend its time in apply, not in building inputs). Sessions: clients take turns; each
 * command acks all but its client's last 8 seqs (a client pipelining 8 deep).
 */
function makeEntries(d: Driver, n: number, batch: number, valueSize: number, key: (i: number) => number, from: number): Entry[] {
  const value = Buffer.alloc(valueSize, 0x61);
  const entries: Entry[] = [];
  const w = new ByteWriter(batch * (valueSize + 64) + 64);
  for (let i = 0; i < n; ) {
    const count = Math.min(batch, n - i);
    const index = ++d.index;
    w.reset().u8(BATCH_FORMAT).varint(BASE_TS + index).varint(count);
    for (let j = 0; j < count; j++, i++) {
      const k = keyOf(key(from + i));
      let client = 0;
      let seq = 1;
      let ack = 0;
      if (d.clients.length > 0) {
        const c = d.clients[i % d.clients.length]!;
        client = c.id;
        seq = ++c.seq;
        ack = Math.max(0, seq - 8);
      }
      const bodyLen = 2 + varintSize(k.length) + k.length + varintSize(valueSize) + valueSize;
      w.u8(CommandKind.Service).varint(client).varint(seq).varint(seq - ack).varint(bodyLen);
      w.u8(KvOp.Put).u8(0).bytes(k).bytes(value);
    }
    // A Buffer, as entries reach the state machine in a replica (from the network or the WAL).
    entries.push({ index, term: 1, type: 0, data: w.toBytes() });
  }
  return entries;
}

const gc: () => void = (() => {
  v8.setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

interface Rate {
  /** Operations per wall-clock second of the timed calls. */
  perS: number;
  /** Operations per CPU-second of this process (all its threads, GC helpers included). */
  perCpuS: number;
}

/** Time `fn` (which performs `ops` operations) by wall clock and by process CPU time. */
function timed(ops: number, fn: () => void, acc: { ns: number; cpuUs: number }): void {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  fn();
  acc.ns += Number(process.hrtime.bigint() - t0);
  const c = process.cpuUsage(c0);
  acc.cpuUs += c.user + c.system;
  void ops;
}

function rate(ops: number, acc: { ns: number; cpuUs: number }): Rate {
  return { perS: Math.round(ops / (acc.ns / 1e9)), perCpuS: Math.round(ops / (acc.cpuUs / 1e6)) };
}

/** Apply `ops` puts in rounds of pre-encoded entries; only the apply calls are timed. */
function applyRun(d: Driver, ops: number, batch: number, valueSize: number, key: (i: number) => number): Rate {
  const round = Math.max(batch, Math.min(ops, Math.floor((32 * 1024 * 1024) / (valueSize + 64))));
  const acc = { ns: 0, cpuUs: 0 };
  let done = 0;
  while (done < ops) {
    const n = Math.min(round, ops - done);
    const entries = makeEntries(d, n, batch, valueSize, key, done);
    gc();
    const perCall = 64;
    timed(n, () => {
      for (let i = 0; i < entries.length; i += perCall) d.sm.apply(entries.slice(i, i + perCall));
    }, acc);
    done += n;
  }
  return rate(ops, acc);
}

function round(x: number): number {
  return Math.round(x);
}

function fill(d: Driver, keys: number, valueSize: number, batch: number): void {
  applyRun(d, keys, batch, valueSize, (i) => i);
}

/**
 * Calibration for a shared machine: the bare minimum a put must do in this design (look a fresh
 * key string up in a Map of `keys` entries and copy 1 KB into a chunk), timed the same way.
 * Apply rates are best read as a fraction of this.
 */
function floor(keys: number, ops: number): Rate {
  const map = new Map<string, { off: number }>();
  const raw: Buffer[] = [];
  for (let i = 0; i < keys; i++) {
    const k = keyOf(i);
    raw.push(k);
    map.set(k.toString('latin1'), { off: 0 });
  }
  const value = Buffer.alloc(1024, 1);
  const chunk = Buffer.alloc(4 * 1024 * 1024);
  const acc = { ns: 0, cpuUs: 0 };
  gc();
  timed(ops, () => {
    let off = 0;
    for (let i = 0; i < ops; i++) {
      const k = raw[scatter(i, keys)]!;
      const slot = map.get(k.toString('latin1', 0, k.length))!;
      if (off + 1024 > chunk.length) off = 0;
      value.copy(chunk, off, 0, 1024);
      slot.off = off;
      off += 1024;
    }
  }, acc);
  return rate(ops, acc);
}

export default async function kvApply(args: string[]): Promise<Record<string, unknown>> {
  const o = parse(args);
  const log = (m: string) => process.stderr.write(`kv-apply: ${m}\n`);
  const fmt = (r: Rate) => `${r.perS} ops/s (${r.perCpuS} per CPU-second)`;
  const results: Record<string, unknown> = { keys: o.keys, ops: o.ops, batch: o.batch, clients: o.clients, loadavg_start: os.loadavg()[0] };
  const put: Record<string, Rate> = {};
  results.floor_map_get_1KB_copy = floor(o.keys, o.ops);
  log(`machine floor (hash lookup + 1 KB copy per op): ${fmt(results.floor_map_get_1KB_copy as Rate)}`);

  // Each case runs twice, interleaved (A B C ... A B C ...), on a fresh state machine; the better
  // run counts. Interleaving spreads the machine's load changes over all cases alike.
  const cases: { name: string; size: number; clients: number; batch: number; ops: number; fresh: boolean }[] = [
    { name: 'overwrite_100B', size: 100, clients: o.clients, batch: o.batch, ops: o.ops, fresh: false },
    { name: 'overwrite_1024B', size: 1024, clients: o.clients, batch: o.batch, ops: o.ops, fresh: false },
    { name: 'overwrite_1024B_sessionless', size: 1024, clients: 0, batch: o.batch, ops: o.ops, fresh: false },
    { name: 'overwrite_1024B_batch1', size: 1024, clients: o.clients, batch: 1, ops: Math.floor(o.ops / 4), fresh: false },
    { name: 'insert_1024B', size: 1024, clients: o.clients, batch: o.batch, ops: Math.min(o.ops, 4 * o.keys), fresh: true },
  ];
  for (let rep = 0; rep < 2; rep++) {
    for (const c of cases) {
      const d = newDriver(c.clients);
      if (!c.fresh) fill(d, o.keys, c.size, o.batch);
      const keyOfOp = c.fresh ? (i: number) => scatter(i + rep * c.ops, 1_000_000_007) : (i: number) => scatter(i, o.keys);
      const r = applyRun(d, c.ops, c.batch, c.size, keyOfOp);
      const best = put[c.name];
      if (best === undefined || r.perCpuS > best.perCpuS) put[c.name] = r;
      log(`${c.name} (run ${rep + 1}): ${fmt(r)}`);
    }
  }
  results.put = put;

  // Reads, snapshot and restore against one 1 KB store; then apply while a snapshot is open.
  const d = newDriver(o.clients);
  fill(d, o.keys, 1024, o.batch);
  const sm = d.sm;
  {
    const queries: Buffer[] = [];
    for (let i = 0; i < 50_000; i++) queries.push(encodeQuery(Consistency.Stale, encodeKvQuery({ op: 'get', key: keyOf(scatter(i, o.keys)) })));
    const reps = Math.max(1, Math.floor(o.ops / queries.length));
    // queryView: the answer as a view of an internal buffer (what a replica copying it straight
    // into a response frame uses); query: a copy the caller owns.
    for (const [name, fn] of [
      ['get_1024B_view', (q: Buffer) => sm.queryView(q)],
      ['get_1024B_copy', (q: Buffer) => sm.query(q)],
    ] as const) {
      const acc = { ns: 0, cpuUs: 0 };
      gc();
      timed(reps * queries.length, () => {
        for (let r = 0; r < reps; r++) for (const q of queries) fn(q);
      }, acc);
      results[name] = rate(reps * queries.length, acc);
      log(`${name}: ${fmt(results[name] as Rate)}`);
    }
  }
  {
    const limit = 100;
    const queries: Buffer[] = [];
    for (let i = 0; i < 2_000; i++)
      queries.push(encodeQuery(Consistency.Stale, encodeKvQuery({ op: 'scan', start: keyOf(scatter(i, o.keys)), end: null, limit })));
    const acc = { ns: 0, cpuUs: 0 };
    gc();
    timed(queries.length, () => {
      for (const q of queries) sm.queryView(q);
    }, acc);
    results.scan_100x1024B = rate(queries.length, acc);
    log(`scan of 100 x 1 KB: ${fmt(results.scan_100x1024B as Rate)} scans`);
  }
  {
    const chunks: Uint8Array[] = [];
    let bytes = 0;
    gc();
    const t0 = process.hrtime.bigint();
    const snap = sm.snapshot();
    for await (const c of snap) {
      chunks.push(c);
      bytes += c.length;
    }
    const snapS = Number(process.hrtime.bigint() - t0) / 1e9;
    results.snapshot_bytes = bytes;
    results.snapshot_MB_per_s = Math.round(bytes / 1e6 / snapS);
    const target = createKvStateMachine();
    gc();
    const t1 = process.hrtime.bigint();
    await target.restore(chunks);
    const restoreS = Number(process.hrtime.bigint() - t1) / 1e9;
    results.restore_MB_per_s = Math.round(bytes / 1e6 / restoreS);
    log(`snapshot ${(bytes / 1e6).toFixed(1)} MB: ${results.snapshot_MB_per_s} MB/s; restore ${results.restore_MB_per_s} MB/s`);
  }
  {
    // Apply cost while a snapshot is open (copy-on-write tree + kept versions), side by side.
    const ops = Math.floor(o.ops / 2);
    const plain = applyRun(d, ops, o.batch, 1024, (i) => scatter(i, o.keys));
    const snap = sm.snapshot();
    const it = snap[Symbol.asyncIterator]();
    await it.next();
    const during = applyRun(d, ops, o.batch, 1024, (i) => scatter(i, o.keys));
    for (let r = await it.next(); !r.done; r = await it.next());
    results.overwrite_1024B_no_snapshot = plain;
    results.overwrite_1024B_during_snapshot = during;
    results.during_snapshot_ratio = Math.round((during.perCpuS / plain.perCpuS) * 100) / 100;
    log(`1 KB overwrite while a snapshot is open: ${fmt(during)} vs ${fmt(plain)}`);
  }
  results.loadavg_end = os.loadavg()[0];
  results.node = process.version;
  return results;
}
