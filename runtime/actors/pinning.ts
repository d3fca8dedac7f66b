// Thread-level CPU pinning through libc's sched_setaffinity(0, ...), which acts on the calling
// thread only. Each executor calls it from its own thread, so pinning one worker never moves
// another. koffi is loaded lazily: where it (or libc) is missing, or the kernel refuses, pinning
// degrades to a reported capability and the executor keeps running unpinned.
import { readFileSync } from 'node:fs';
import os from 'node:os';

interface Libc {
  gettid(): number;
  setaffinity(mask: Uint8Array): number;
  errno(): number;
}

const MASK_BYTES = 128; // 1024 CPUs, the glibc cpu_set_t size

let libc: Libc | null | undefined;
let libcError = '';

async function loadLibc(): Promise<Libc | null> {
  if (libc !== undefined) return libc;
  if (process.platform !== 'linux') {
    libcError = `pinning needs Linux (platform is ${process.platform})`;
    return (libc = null);
  }
  try {
    const mod = (await import('koffi')) as unknown as { default?: typeof import('koffi') } & typeof import('koffi');
    const koffi = mod.default ?? mod;
    const lib = koffi.load('libc.so.6');
    const gettid = lib.func('int gettid()');
    const setaff = lib.func('int sched_setaffinity(int pid, size_t size, uint8_t *mask)');
    libc = {
      gettid: () => gettid() as number,
      setaffinity: (mask) => setaff(0, mask.length, mask) as number,
      errno: () => koffi.errno(),
    };
  } catch (err) {
    libcError = `cannot load libc through koffi: ${err instanceof Error ? err.message : String(err)}`;
    libc = null;
  }
  return libc;
}

/** Kernel thread id of the calling thread, or null when it cannot be obtained. */
export async function currentTid(): Promise<number | null> {
  const l = await loadLibc();
  if (l) return l.gettid();
  // The main thread's tid is the pid; a worker's cannot be found without gettid.
  return null;
}

export interface PinResult {
  readonly ok: boolean;
  readonly error?: string;
  /** Cpus_allowed_list after the call, as the kernel reports it. */
  readonly cpusAllowed: string | null;
}

/** Pins the calling thread to `cpus` (null: all online CPUs). Never throws. */
export async function pinCurrentThread(cpus: readonly number[] | null, tid: number | null): Promise<PinResult> {
  const l = await loadLibc();
  if (!l) return { ok: false, error: libcError, cpusAllowed: tid === null ? null : readCpusAllowed(tid) };
  const set = cpus ?? onlineCpus();
  const mask = new Uint8Array(MASK_BYTES);
  for (const c of set) {
    if (!Number.isInteger(c) || c < 0 || c >= MASK_BYTES * 8) return { ok: false, error: `cpu ${c} out of range`, cpusAllowed: readCpusAllowed(tid) };
    mask[c >> 3]! |= 1 << (c & 7);
  }
  const rc = l.setaffinity(mask);
  if (rc !== 0) {
    const errno = l.errno();
    const name = errno === 1 ? 'EPERM' : errno === 22 ? 'EINVAL' : errno === 3 ? 'ESRCH' : `errno ${errno}`;
    return { ok: false, error: `sched_setaffinity failed: ${name}`, cpusAllowed: readCpusAllowed(tid) };
  }
  return { ok: true, cpusAllowed: readCpusAllowed(tid) };
}

/** `Cpus_allowed_list` of a thread of this process, e.g. "0-1" or "1". */
export function readCpusAllowed(tid: number | null): string | null {
  if (tid === null) return null;
  try {
    const status = readFileSync(`/proc/${process.pid}/task/${tid}/status`, 'utf8');
    const m = /^Cpus_allowed_list:\s*(\S+)/m.exec(status);
    return m ? m[1]! : null;
  } catch {
    return null;
  }
}

/** utime+stime of a thread of this process in ms, from /proc (USER_HZ is 100 on Linux). */
export function readThreadCpuMs(tid: number | null): number | null {
  if (tid === null) return null;
  try {
    const stat = readFileSync(`/proc/${process.pid}/task/${tid}/stat`, 'utf8');
    // Fields after the parenthesised comm; utime and stime are fields 14 and 15 overall.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) * 10;
  } catch {
    return null;
  }
}

/** Parses a kernel CPU list such as "0-3,8,10-11". */
export function parseCpuList(s: string): number[] {
  const out: number[] = [];
  for (const part of s.trim().split(',')) {
    if (!part) continue;
    const [a, b] = part.split('-');
    const lo = Number(a);
    const hi = b === undefined ? lo : Number(b);
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || hi < lo) continue;
    for (let c = lo; c <= hi; c++) out.push(c);
  }
  return out;
}

/** Online CPUs from sysfs; falls back to 0..n-1 from os.cpus(). */
export function onlineCpus(): number[] {
  try {
    const cpus = parseCpuList(readFileSync('/sys/devices/system/cpu/online', 'utf8'));
    if (cpus.length > 0) return cpus;
  } catch {
    /* not Linux or no sysfs */
  }
  return Array.from({ length: os.availableParallelism() }, (_, i) => i);
}

/**
 * Probes whether this process may pin threads: loads libc and re-applies the calling thread's
 * current mask (a no-op change). Reported as a capability; failures never throw.
 */
export async function probePinning(): Promise<{ supported: boolean; reason?: string }> {
  const l = await loadLibc();
  if (!l) return { supported: false, reason: libcError };
  const tid = l.gettid();
  const current = readCpusAllowed(tid);
  const r = await pinCurrentThread(current ? parseCpuList(current) : null, tid);
  return r.ok ? { supported: true } : { supported: false, reason: r.error ?? 'unknown' };
}
