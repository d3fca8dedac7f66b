// Thread pinning. The default way to shrink the set of active cores is to restrict a process
// (every one of its threads) to a CPU set with sched_setaffinity(2) per thread id. koffi calls
// libc directly; where koffi cannot load, `taskset -p` does the same through a child process
// (at apply time only, never per sample). Reading the current mask needs no syscall binding:
// /proc/<pid>/task/<tid>/status has Cpus_allowed_list.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import type { HostPaths } from '../sensors/host-paths.js';
import { formatCpuList, parseCpuList, readAttrIfExists } from '../sensors/sysfs.js';
import { ChangeJournal } from './journal.js';
import { ActuatorRangeError, ActuatorUnavailableError, type Actuator, type ApplyOutcome, type Capability, type Change } from './types.js';

const MASK_BYTES = 128; // 1024 CPUs, glibc's cpu_set_t

interface Libc {
  setaffinity(pid: number, size: number, mask: Buffer): number;
  errno(): number;
}

let libc: Libc | null | undefined;
let libcError = '';

function loadLibc(): Libc | null {
  if (libc !== undefined) return libc;
  try {
    const require = createRequire(import.meta.url);
    const koffi = require('koffi') as {
      load(name: string): { func(sig: string): (...args: unknown[]) => number };
      errno(): number;
    };
    const lib = koffi.load('libc.so.6');
    const set = lib.func('int sched_setaffinity(int pid, size_t cpusetsize, const uint8_t *mask)');
    libc = { setaffinity: (pid, size, mask) => set(pid, size, mask), errno: () => koffi.errno() };
  } catch (err) {
    libcError = err instanceof Error ? err.message : String(err);
    libc = null;
  }
  return libc;
}

function hasTaskset(): boolean {
  for (const dir of (process.env['PATH'] ?? '/usr/bin:/bin').split(':')) if (dir && existsSync(`${dir}/taskset`)) return true;
  return false;
}

export type PinningMethod = 'koffi' | 'taskset';

export interface PinningInfo {
  available: boolean;
  method: PinningMethod | null;
  reason: string;
}

export function detectPinning(paths: HostPaths): PinningInfo {
  if (!paths.isLive) return { available: false, method: null, reason: `root is ${paths.root}: affinity acts on live threads, so it is only offered with root /` };
  if (loadLibc()) return { available: true, method: 'koffi', reason: 'sched_setaffinity via koffi (libc.so.6)' };
  if (hasTaskset()) return { available: true, method: 'taskset', reason: `koffi unavailable (${libcError}); using taskset` };
  return { available: false, method: null, reason: `koffi unavailable (${libcError}) and no taskset in PATH` };
}

/** Thread ids of a live process. */
export function threadsOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`)
      .map(Number)
      .filter((n) => Number.isInteger(n) && n > 0);
  } catch {
    return [];
  }
}

/** The CPUs a thread may run on, from /proc (no syscall binding needed). */
export function affinityOf(tid: number): number[] | undefined {
  try {
    const s = readFileSync(`/proc/${tid}/status`, 'utf8');
    const m = /^Cpus_allowed_list:\s*(.*)$/m.exec(s);
    return m ? parseCpuList(m[1]!) : undefined;
  } catch {
    return undefined;
  }
}

class EsrchError extends Error {}

function setAffinity(method: PinningMethod, tid: number, cpus: readonly number[]): void {
  if (method === 'koffi') {
    const l = loadLibc();
    if (!l) throw new Error(`koffi unavailable: ${libcError}`);
    const mask = Buffer.alloc(MASK_BYTES);
    for (const c of cpus) {
      if (c >= MASK_BYTES * 8) throw new ActuatorRangeError('cpus', `cpu ${c} beyond the ${MASK_BYTES * 8}-cpu mask`);
      mask[c >> 3]! |= 1 << (c & 7);
    }
    if (l.setaffinity(tid, MASK_BYTES, mask) !== 0) {
      const e = l.errno();
      if (e === 3) throw new EsrchError(`thread ${tid} is gone (ESRCH)`);
      throw new Error(`sched_setaffinity(${tid}, ${formatCpuList(cpus)}) failed: errno ${e}${e === 22 ? ' (EINVAL: no online CPU in the set)' : e === 1 ? ' (EPERM)' : ''}`);
    }
    return;
  }
  const r = spawnSync('taskset', ['-p', '-c', formatCpuList(cpus), String(tid)], { encoding: 'utf8' });
  if (r.status !== 0) {
    if (/No such process/i.test(r.stderr)) throw new EsrchError(`thread ${tid} is gone`);
    throw new Error(`taskset -p -c ${formatCpuList(cpus)} ${tid} failed: ${r.stderr.trim() || r.error?.message}`);
  }
}

export interface AffinityOptions {
  paths: HostPaths;
  pid: number;
  dryRun?: boolean;
  method?: PinningMethod;
}

/** Restricts every thread of a process to a set of CPUs (the default "active cores" actuator). */
export class AffinityCoresActuator implements Actuator<number[]> {
  readonly name = 'affinity-cores';
  readonly dryRun: boolean;
  readonly pid: number;
  private readonly paths: HostPaths;
  private readonly journal: ChangeJournal;
  private readonly forcedMethod: PinningMethod | undefined;

  constructor(opts: AffinityOptions) {
    this.paths = opts.paths;
    this.pid = opts.pid;
    this.dryRun = opts.dryRun ?? false;
    this.journal = new ChangeJournal(this.dryRun);
    this.forcedMethod = opts.method;
  }

  private method(): PinningMethod | null {
    if (this.forcedMethod === 'taskset') return hasTaskset() ? 'taskset' : null;
    if (this.forcedMethod === 'koffi') return loadLibc() ? 'koffi' : null;
    return detectPinning(this.paths).method;
  }

  capability(): Capability {
    const p = detectPinning(this.paths);
    if (!p.available) return { available: false, reason: p.reason };
    const m = this.method();
    if (!m) return { available: false, reason: `pinning method ${this.forcedMethod} unavailable` };
    if (threadsOf(this.pid).length === 0) return { available: false, reason: `process ${this.pid} not found` };
    return { available: true, reason: `sched_setaffinity per thread via ${m}`, detail: { method: m, pid: this.pid } };
  }

  async apply(cpus: number[]): Promise<ApplyOutcome> {
    const cap = this.capability();
    if (!cap.available) throw new ActuatorUnavailableError(`affinity unavailable: ${cap.reason}`);
    const method = this.method()!;
    const want = [...new Set(cpus)].sort((a, b) => a - b);
    if (want.length === 0) throw new ActuatorRangeError('cpus', 'the CPU set is empty');
    const onlineStr = readAttrIfExists(`${this.paths.cpuDir}/online`);
    if (onlineStr !== undefined) {
      const online = new Set(parseCpuList(onlineStr));
      const bad = want.filter((c) => !online.has(c));
      if (bad.length > 0) throw new ActuatorRangeError('cpus', `CPU(s) ${formatCpuList(bad)} not online (online: ${onlineStr})`);
    }
    const to = formatCpuList(want);
    const changes: Change[] = [];
    for (const tid of threadsOf(this.pid)) {
      const before = affinityOf(tid);
      if (!before) continue; // exited between listing and reading
      try {
        this.journal.record(
          `affinity of tid ${tid} (pid ${this.pid})`,
          formatCpuList(before),
          to,
          () => setAffinity(method, tid, want),
          () => {
            try {
              setAffinity(method, tid, before);
            } catch (err) {
              if (!(err instanceof EsrchError)) throw err;
            }
          },
          changes,
        );
      } catch (err) {
        if (!(err instanceof EsrchError)) throw err;
      }
    }
    return {
      actuator: this.name,
      dryRun: this.dryRun,
      changes,
      summary: `${this.dryRun ? 'would pin' : 'pinned'} ${changes.length} thread(s) of pid ${this.pid} to CPUs ${to} (${method})`,
    };
  }

  restoreSync(): void {
    const errors = this.journal.restoreSync();
    if (errors.length > 0) throw new Error(`could not restore: ${errors.join('; ')}`);
  }

  async restore(): Promise<void> {
    this.restoreSync();
  }
}
