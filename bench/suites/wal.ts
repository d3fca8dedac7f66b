// `npm run bench -- wal [--seconds S] [--rounds R] [--dir DIR]` (defaults: 1 s, 5 rounds)
// Durable append throughput and latency of the WAL (1 KB entries, fdatasync on) for 1, 8 and 64
// concurrent appenders, with segment preallocation by fallocate, by zero-fill and off, side by
// side (interleaved rounds, because the machine is shared and noisy). Also: the raw fdatasync
// latency of this disk, what a hard-state change costs in the WAL versus an atomic file
// replacement, and CRC32C speed (JS vs native) by record size.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LogStore } from '../../runtime/storage/index.js';
import { crc32cJs, crc32cNative } from '../../runtime/storage/crc32c.js';
import { writeChecksummedFileAtomic } from '../../runtime/storage/atomic-file.js';
import { type PreallocateMode, preallocate } from '../../runtime/storage/fs-util.js';
import type { Entry } from '../../runtime/protocols/api.js';

function arg(args: string[], name: string, dflt: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : dflt;
}

function pct(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

const r1 = (x: number): number => Math.round(x * 10) / 10;
const r3 = (x: number): number => Math.round(x * 1000) / 1000;
const log = (m: string): void => void process.stderr.write(m + '\n');

interface RunResult {
  appends: number;
  seconds: number;
  latenciesUs: number[];
  fsyncs: number;
  records: number;
  batches: number;
}

interface RunOptions {
  prealloc: PreallocateMode;
  concurrency: number;
  seconds: number;
  sync: 'always' | 'none';
  /** Appenders are spread over this many groups (default: one group per appender). */
  groups?: number;
  layout?: 'shared' | 'per-group';
}

async function appendRun(root: string, o: RunOptions): Promise<RunResult> {
  const dir = fs.mkdtempSync(path.join(root, 'run-'));
  const groups = o.groups ?? o.concurrency;
  const { store } = await LogStore.open(dir, {
    preallocate: o.prealloc,
    sync: { mode: o.sync },
    walLayout: o.layout ?? 'shared',
    segmentBytes: o.layout === 'per-group' ? 16 << 20 : 64 << 20,
    onWarning: () => undefined,
  });
  const data = Buffer.alloc(1024, 0x5a);
  // Warm up: creates the segments (and their preallocation) outside the measured window.
  await store.append(Array.from({ length: groups }, (_, g) => ({ group: g, hardState: null, entries: [{ index: 1, term: 1, type: 0 as const, data }], snapshot: null })));
  const next = new Array<number>(groups).fill(2);
  const s0 = store.stats();
  const latencies: number[] = [];
  const deadline = performance.now() + o.seconds * 1000;
  let appends = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: o.concurrency }, async (_, a) => {
      const g = a % groups;
      while (performance.now() < deadline) {
        // Appenders of one group take consecutive indexes; staging is synchronous, so in order.
        const e: Entry = { index: next[g]!++, term: 1, type: 0, data };
        const t = performance.now();
        await store.append([{ group: g, hardState: null, entries: [e], snapshot: null }]);
        latencies.push((performance.now() - t) * 1000);
        appends++;
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  const s1 = store.stats();
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return { appends, seconds: elapsed, latenciesUs: latencies, fsyncs: s1.fsyncs - s0.fsyncs, records: s1.records - s0.records, batches: s1.batches - s0.batches };
}

/** write(1 KB) + fdatasync in files prepared each way, interleaved sample by sample. */
async function fsyncLatency(root: string, modes: PreallocateMode[], n: number): Promise<Record<string, unknown>> {
  const files = modes.map((m) => path.join(root, `fsync-${m}`));
  const fds = files.map((f) => fs.openSync(f, 'w+'));
  try {
    for (let k = 0; k < modes.length; k++) {
      await preallocate(fds[k]!, 0, 64 << 20, modes[k]!, files[k]!);
      fs.fsyncSync(fds[k]!);
    }
    const buf = Buffer.alloc(1024 + 64, 1);
    const lat = modes.map(() => new Float64Array(n));
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < modes.length; k++) {
        const t = performance.now();
        fs.writeSync(fds[k]!, buf, 0, buf.length, i * buf.length);
        fs.fdatasyncSync(fds[k]!);
        lat[k]![i] = (performance.now() - t) * 1000;
      }
    }
    const out: Record<string, unknown> = {};
    modes.forEach((m, k) => {
      const l = lat[k]!.sort();
      out[m] = { p50Us: r1(pct(l, 0.5)), p99Us: r1(pct(l, 0.99)) };
    });
    return out;
  } finally {
    fds.forEach((fd) => fs.closeSync(fd));
    files.forEach((f) => fs.rmSync(f, { force: true }));
  }
}

function crcBench(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const size of [64, 256, 1024, 4096, 65536]) {
    const buf = Buffer.alloc(size * 64);
    for (let i = 0; i < buf.length; i++) buf[i] = (i * 31) & 0xff;
    const time = (f: (o: number) => number): number => {
      const iters = Math.max(2000, Math.floor(4e7 / size));
      let x = 0;
      for (let i = 0; i < 1000; i++) x ^= f((i % 64) * size);
      const t = performance.now();
      for (let i = 0; i < iters; i++) x ^= f((i % 64) * size);
      const ns = ((performance.now() - t) * 1e6) / iters;
      if (x === 0.5) log('');
      return ns;
    };
    const js = time((o) => crc32cJs(buf, o, o + size));
    const nat = crc32cNative ? time((o) => crc32cNative!(buf.subarray(o, o + size))) : NaN;
    out[`${size}B`] = { jsNs: r1(js), nativeNs: r1(nat), jsGBs: r3(size / js), nativeGBs: r3(size / nat), nativeSpeedup: r3(js / nat) };
  }
  return out;
}

async function hardStateCost(root: string, n: number): Promise<Record<string, unknown>> {
  // One hard-state change per operation: as a WAL record (one write + fdatasync, shared with the
  // entries of the same Ready in practice) versus an atomically replaced file.
  const dir = fs.mkdtempSync(path.join(root, 'hs-'));
  const { store } = await LogStore.open(dir, { onWarning: () => undefined });
  await store.append([{ group: 0, hardState: { term: 1, vote: 0, commit: 0 }, entries: [], snapshot: null }]);
  const wal = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await store.append([{ group: 0, hardState: { term: 1, vote: 1, commit: 0 }, entries: [], snapshot: null }]);
    wal[i] = (performance.now() - t) * 1000;
  }
  await store.close();
  const file = path.join(dir, 'hardstate');
  const atomic = new Float64Array(n);
  const body = Buffer.alloc(24, 7);
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await writeChecksummedFileAtomic(file, body);
    atomic[i] = (performance.now() - t) * 1000;
  }
  fs.rmSync(dir, { recursive: true, force: true });
  wal.sort();
  atomic.sort();
  return {
    walRecord: { p50Us: r1(pct(wal, 0.5)), p99Us: r1(pct(wal, 0.99)) },
    atomicFileReplace: { p50Us: r1(pct(atomic, 0.5)), p99Us: r1(pct(atomic, 0.99)) },
    atomicOverWalP50: r3(pct(atomic, 0.5) / pct(wal, 0.5)),
  };
}

/** How long open() takes to recover a log of `n` 1 KB entries (written unsynced, then closed). */
async function recoveryTime(root: string, n: number): Promise<Record<string, unknown>> {
  const dir = fs.mkdtempSync(path.join(root, 'recover-'));
  const { store } = await LogStore.open(dir, { sync: { mode: 'none' }, onWarning: () => undefined });
  const data = Buffer.alloc(1024, 7);
  for (let i = 1; i <= n; i += 100) {
    const es: Entry[] = [];
    for (let k = i; k < i + 100 && k <= n; k++) es.push({ index: k, term: 1, type: 0, data });
    await store.append([{ group: 0, hardState: { term: 1, vote: 1, commit: es.at(-1)!.index }, entries: es, snapshot: null }]);
  }
  const bytes = store.stats().bytes;
  await store.close();
  const t = performance.now();
  const r = await LogStore.open(dir, { onWarning: () => undefined });
  const ms = performance.now() - t;
  const got = r.recovered[0]?.entries.length ?? 0;
  await r.store.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return { entries: got, walMB: r1(bytes / 1e6), openMs: r1(ms), MBps: r1(bytes / 1e6 / (ms / 1000)) };
}

export default async function wal(args: string[]): Promise<Record<string, unknown>> {
  const seconds = Number(arg(args, 'seconds', '1'));
  const rounds = Number(arg(args, 'rounds', '5'));
  const root = fs.mkdtempSync(path.join(arg(args, 'dir', os.tmpdir()), 'verdant-bench-wal-'));
  const modes: PreallocateMode[] = ['fallocate', 'zero-fill', 'off'];
  const concurrencies = [1, 8, 64];
  try {
    const loadBefore = os.loadavg()[0]!;
    log(`fdatasync latency of ${root} ...`);
    const fsync = await fsyncLatency(root, modes, 1500);

    const acc = new Map<string, RunResult[]>();
    for (let round = 0; round < rounds; round++) {
      for (const c of concurrencies) {
        // Rotate the order every round so slow drifts in the machine's load hit every variant.
        for (const m of modes.map((_, k) => modes[(k + round) % modes.length]!)) {
          log(`round ${round + 1}/${rounds}: ${c} appenders, preallocate=${m}`);
          const r = await appendRun(root, { prealloc: m, concurrency: c, seconds, sync: 'always' });
          const k = `${c}:${m}`;
          acc.set(k, [...(acc.get(k) ?? []), r]);
        }
      }
    }
    const appends: Record<string, unknown> = {};
    for (const c of concurrencies) {
      const row: Record<string, unknown> = {};
      for (const m of modes) {
        const rs = acc.get(`${c}:${m}`)!;
        const n = rs.reduce((s, r) => s + r.appends, 0);
        const secs = rs.reduce((s, r) => s + r.seconds, 0);
        const lat = Float64Array.from(rs.flatMap((r) => r.latenciesUs)).sort();
        const fsyncs = rs.reduce((s, r) => s + r.fsyncs, 0);
        const records = rs.reduce((s, r) => s + r.records, 0);
        row[m] = {
          appendsPerSec: Math.round(n / secs),
          p50Us: r1(pct(lat, 0.5)),
          p99Us: r1(pct(lat, 0.99)),
          recordsPerFdatasync: r1(records / Math.max(1, fsyncs)),
          fdatasyncs: fsyncs,
        };
      }
      const f = row['fallocate'] as { appendsPerSec: number; p50Us: number };
      const o = row['off'] as { appendsPerSec: number; p50Us: number };
      const z = row['zero-fill'] as { appendsPerSec: number; p50Us: number };
      row['ratios'] = {
        fallocateOverOffThroughput: r3(f.appendsPerSec / o.appendsPerSec),
        zeroFillOverOffThroughput: r3(z.appendsPerSec / o.appendsPerSec),
        offOverFallocateP50: r3(o.p50Us / f.p50Us),
      };
      appends[`${c}`] = row;
    }
    log('reference: sync=none (UNSAFE, no fdatasync), 64 appenders ...');
    const none = await appendRun(root, { prealloc: 'fallocate', concurrency: 64, seconds, sync: 'none' });
    log('layouts: 8 groups x 8 appenders, one shared WAL vs one WAL per group ...');
    const lay: Record<string, RunResult[]> = { shared: [], 'per-group': [] };
    for (let round = 0; round < rounds; round++) {
      for (const layout of round % 2 === 0 ? (['shared', 'per-group'] as const) : (['per-group', 'shared'] as const)) {
        lay[layout]!.push(await appendRun(root, { prealloc: 'fallocate', concurrency: 64, groups: 8, layout, seconds, sync: 'always' }));
      }
    }
    const layouts: Record<string, unknown> = {};
    for (const [k, rs] of Object.entries(lay)) {
      const n = rs.reduce((x, r) => x + r.appends, 0);
      const secs = rs.reduce((x, r) => x + r.seconds, 0);
      const f = rs.reduce((x, r) => x + r.fsyncs, 0);
      const lat = Float64Array.from(rs.flatMap((r) => r.latenciesUs)).sort();
      layouts[k] = { appendsPerSec: Math.round(n / secs), fdatasyncsPerSec: Math.round(f / secs), recordsPerFdatasync: r1(rs.reduce((x, r) => x + r.records, 0) / Math.max(1, f)), p50Us: r1(pct(lat, 0.5)), p99Us: r1(pct(lat, 0.99)) };
    }
    const noneLat = Float64Array.from(none.latenciesUs).sort();
    log('hard state: WAL record vs atomic file ...');
    const hardState = await hardStateCost(root, 300);
    log('crc32c ...');
    const crc = crcBench();
    log('recovery time ...');
    const recovery = await recoveryTime(root, 200_000);
    return {
      entryBytes: 1024,
      seconds,
      rounds,
      dir: root,
      // The 1-minute load average before and after: this machine is shared; read ratios, not absolutes.
      loadavg1: { before: r1(loadBefore), after: r1(os.loadavg()[0]!) },
      cores: os.availableParallelism(),
      fdatasyncOnly: fsync,
      durableAppends: appends,
      unsafeNoSync64: { appendsPerSec: Math.round(none.appends / none.seconds), p50Us: r1(pct(noneLat, 0.5)), p99Us: r1(pct(noneLat, 0.99)) },
      layouts,
      hardState,
      recovery,
      crc32c: crc,
    };
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}
