// Per-CPU load from /proc/stat, read in-process with one pread(2) per sample and parsed from
// bytes (no child process, no per-line strings). Utilisation is the share of non-idle jiffies
// between two samples: busy = user+nice+system+irq+softirq (guest time is already inside user),
// idle = idle+iowait, steal (time a hypervisor gave our vCPU to someone else) is reported apart.
import { PreadFile, toSysfsError } from './sysfs.js';

export interface CpuLoadSample {
  /** Monotonic milliseconds when the sample was taken. */
  atMs: number;
  /** Milliseconds since the previous sample (0 for the priming read). */
  intervalMs: number;
  /** Ids of the CPUs listed in /proc/stat (the online ones), ascending. */
  online: readonly number[];
  /** Utilisation 0..1 indexed by CPU id; NaN for CPUs absent from /proc/stat (offline). */
  perCpu: Float64Array;
  /** Sum of utilisation over online CPUs, in CPUs (2 busy cores = 2). */
  busyCpus: number;
  /** Mean utilisation over online CPUs, 0..1. */
  util: number;
  /** Mean steal fraction over online CPUs, 0..1 (0 on bare metal). */
  steal: number;
}

const BUSY = 0;
const IDLE = 1;
const STEAL = 2;
const FIELDS = 3;

/** Parses the per-CPU lines of /proc/stat. Exposed for tests; the sensor below reuses buffers. */
export class ProcStatParser {
  /** [busy, idle, steal] jiffies per cpu id. */
  counters = new Float64Array(64 * FIELDS);
  present = new Uint8Array(64);
  maxId = -1;

  private ensure(id: number): void {
    if (id < this.present.length) return;
    let n = this.present.length;
    while (n <= id) n *= 2;
    const c = new Float64Array(n * FIELDS);
    c.set(this.counters);
    const p = new Uint8Array(n);
    p.set(this.present);
    this.counters = c;
    this.present = p;
  }

  /** Returns the offset just past the last cpu line, or -1 if the buffer ended inside them. */
  parse(buf: Buffer, len: number): number {
    this.present.fill(0);
    this.maxId = -1;
    let i = 0;
    const vals = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    while (i < len) {
      // Every cpu line starts with "cpu"; the first other line ends the block.
      if (i + 3 > len) return -1;
      if (buf[i] !== 99 || buf[i + 1] !== 112 || buf[i + 2] !== 117) return i;
      i += 3;
      let id = -1;
      if (buf[i] !== 32) {
        id = 0;
        while (i < len && buf[i]! >= 48 && buf[i]! <= 57) id = id * 10 + (buf[i++]! - 48);
      }
      let k = 0;
      let v = 0;
      let inNum = false;
      while (i < len && buf[i] !== 10) {
        const c = buf[i]!;
        if (c >= 48 && c <= 57) {
          v = v * 10 + (c - 48);
          inNum = true;
        } else if (inNum) {
          if (k < 10) vals[k++] = v;
          v = 0;
          inNum = false;
        }
        i++;
      }
      if (i >= len) return -1; // line cut short: caller reads more
      if (inNum && k < 10) vals[k++] = v;
      i++; // newline
      if (id < 0) continue; // the aggregate "cpu " line
      for (let j = k; j < 10; j++) vals[j] = 0; // old kernels print fewer columns
      this.ensure(id);
      const o = id * FIELDS;
      this.counters[o + BUSY] = vals[0]! + vals[1]! + vals[2]! + vals[5]! + vals[6]!;
      this.counters[o + IDLE] = vals[3]! + vals[4]!;
      this.counters[o + STEAL] = vals[7]!;
      this.present[id] = 1;
      if (id > this.maxId) this.maxId = id;
    }
    return -1;
  }
}

export interface CpuLoadSensorOptions {
  clock?: () => number;
}

/** Reads /proc/stat and turns jiffy counters into per-CPU utilisation between samples. */
export class CpuLoadSensor {
  readonly path: string;
  private readonly file: PreadFile;
  private cur = new ProcStatParser();
  private prev = new ProcStatParser();
  private prevAt = 0;
  private lastUtil = new Float64Array(0);
  private onlineCache: number[] = [];
  private readonly clock: () => number;

  constructor(path: string, opts: CpuLoadSensorOptions = {}) {
    this.path = path;
    this.clock = opts.clock ?? (() => performance.now());
    this.file = new PreadFile(path, 16384);
    this.readInto(this.prev);
    this.prevAt = this.clock();
  }

  private readInto(p: ProcStatParser): void {
    const f = this.file;
    for (;;) {
      const n = f.read();
      const end = p.parse(f.buffer, n);
      if (end >= 0) {
        if (p.maxId < 0) throw toSysfsError(this.path, Object.assign(new Error('no per-cpu lines'), { code: 'EINVAL' }));
        return;
      }
      if (n < f.buffer.length) {
        // The file ended inside the cpu block: accept what was parsed if any cpu line was seen.
        if (p.maxId >= 0) return;
        throw toSysfsError(this.path, Object.assign(new Error('no per-cpu lines'), { code: 'EINVAL' }));
      }
      f.grow();
    }
  }

  /** Takes a sample: utilisation since the previous call (or since construction). */
  sample(): CpuLoadSample {
    const now = this.clock();
    this.readInto(this.cur);
    const cur = this.cur;
    const prev = this.prev;
    const size = cur.maxId + 1;
    if (this.lastUtil.length < size) {
      const l = new Float64Array(size);
      l.fill(0);
      l.set(this.lastUtil.subarray(0, Math.min(this.lastUtil.length, size)));
      this.lastUtil = l;
    }
    const perCpu = new Float64Array(size);
    let busyCpus = 0;
    let stealSum = 0;
    let n = 0;
    let onlineChanged = false;
    let oi = 0;
    for (let id = 0; id < size; id++) {
      if (!cur.present[id]) {
        perCpu[id] = NaN;
        continue;
      }
      if (this.onlineCache[oi] !== id) onlineChanged = true;
      oi++;
      const o = id * 3;
      let u = this.lastUtil[id]!;
      let s = 0;
      if (id <= prev.maxId && prev.present[id]) {
        const db = cur.counters[o]! - prev.counters[o]!;
        const di = cur.counters[o + 1]! - prev.counters[o + 1]!;
        const ds = cur.counters[o + 2]! - prev.counters[o + 2]!;
        const dt = db + di + ds;
        // Counters only move in 10 ms jiffies; with no tick in between keep the last value.
        if (dt > 0 && db >= 0 && di >= 0 && ds >= 0) {
          u = db / dt;
          s = ds / dt;
        }
      }
      this.lastUtil[id] = u;
      perCpu[id] = u;
      busyCpus += u;
      stealSum += s;
      n++;
    }
    if (onlineChanged || oi !== this.onlineCache.length) {
      const online: number[] = [];
      for (let id = 0; id < size; id++) if (cur.present[id]) online.push(id);
      this.onlineCache = online;
    }
    const intervalMs = now - this.prevAt;
    this.prevAt = now;
    this.cur = prev;
    this.prev = cur;
    return {
      atMs: now,
      intervalMs,
      online: this.onlineCache,
      perCpu,
      busyCpus,
      util: n > 0 ? busyCpus / n : 0,
      steal: n > 0 ? stealSum / n : 0,
    };
  }

  close(): void {
    this.file.close();
  }
}
