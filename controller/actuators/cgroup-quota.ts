// CPU quota through cgroups (v1 cpu.cfs_quota_us / cpu.cfs_period_us, v2 cpu.max) for a group of
// processes, and on top of it the emulated power cap for hosts without RAPL: watts become a quota
// through the host's power model, so a cap has a real effect on the capped processes.
import { existsSync, mkdirSync, rmdirSync, accessSync, constants } from 'node:fs';
import { dirname, join } from 'node:path';
import type { HostPaths } from '../sensors/host-paths.js';
import type { PowerModel } from '../sensors/power-model.js';
import { readAttr, readAttrIfExists, writeAttr } from '../sensors/sysfs.js';
import { cgroupOfPid, detectCgroup, type CgroupInfo } from './cgroup-detect.js';
import { ChangeJournal } from './journal.js';
import { ActuatorRangeError, ActuatorUnavailableError, type Actuator, type ApplyOutcome, type Capability, type Change } from './types.js';

/** The smallest quota the kernel accepts is 1 ms per period. */
const MIN_QUOTA_US = 1000;
const DEFAULT_PERIOD_US = 100000;

export interface CgroupQuotaOptions {
  paths: HostPaths;
  dryRun?: boolean;
  /** Group path inside the cpu hierarchy; created if missing and removed on restore. */
  group?: string;
  /** Processes to move into the group (moved back on restore). */
  pids?: number[];
  info?: CgroupInfo;
}

/** Limits a cgroup to `cpus` CPUs' worth of time per period; null removes the limit. */
export class CgroupCpuQuotaActuator implements Actuator<number | null> {
  readonly name = 'cgroup-cpu-quota';
  readonly dryRun: boolean;
  readonly info: CgroupInfo;
  readonly group: string;
  private readonly paths: HostPaths;
  private readonly pids: number[];
  private readonly journal: ChangeJournal;

  constructor(opts: CgroupQuotaOptions) {
    this.paths = opts.paths;
    this.dryRun = opts.dryRun ?? false;
    this.info = opts.info ?? detectCgroup(opts.paths);
    this.group = (opts.group ?? 'verdant').replace(/^\/+|\/+$/g, '');
    if (this.group === '' || this.group.split('/').includes('..')) throw new ActuatorRangeError('cgroup', `bad cgroup name ${JSON.stringify(opts.group)}`);
    this.pids = opts.pids ?? [];
    this.journal = new ChangeJournal(this.dryRun);
  }

  get groupDir(): string {
    return join(this.info.cpuRoot ?? '', this.group);
  }

  capability(): Capability {
    if (this.info.version === null || this.info.cpuRoot === null) return { available: false, reason: this.info.reason };
    try {
      accessSync(this.info.cpuRoot, constants.W_OK);
    } catch {
      return { available: false, reason: `${this.info.cpuRoot} is not writable (needs root or a delegated cgroup)` };
    }
    return { available: true, reason: this.info.reason, detail: { version: this.info.version, group: this.groupDir } };
  }

  private quotaFile(): string {
    return join(this.groupDir, this.info.version === 2 ? 'cpu.max' : 'cpu.cfs_quota_us');
  }

  async apply(cpus: number | null): Promise<ApplyOutcome> {
    const cap = this.capability();
    if (!cap.available) throw new ActuatorUnavailableError(`cgroup CPU quota unavailable: ${cap.reason}`);
    if (cpus !== null && (!Number.isFinite(cpus) || cpus <= 0)) throw new ActuatorRangeError('cpus', `must be a positive number of CPUs or null, got ${cpus}`);
    const changes: Change[] = [];
    const dir = this.groupDir;
    if (this.info.version === 2) {
      // The cpu controller must be enabled in the parent for cpu.max to exist in the group.
      const sc = join(dirname(dir), 'cgroup.subtree_control');
      const before = readAttr(sc);
      if (!before.split(/\s+/).includes('cpu')) {
        this.journal.record(sc, before, `${before} cpu`.trim(), () => writeAttr(sc, '+cpu'), () => writeAttr(sc, '-cpu'), changes);
      }
    }
    if (!existsSync(dir)) {
      this.journal.record(dir, 'absent', 'created', () => mkdirSync(dir), () => rmdirSync(dir), changes);
    }
    const v2 = this.info.version === 2;
    let period = DEFAULT_PERIOD_US;
    if (!v2) period = Number(readAttrIfExists(join(dir, 'cpu.cfs_period_us')) ?? DEFAULT_PERIOD_US);
    else {
      const cur = readAttrIfExists(join(dir, 'cpu.max'));
      if (cur !== undefined) period = Number(cur.split(/\s+/)[1] ?? DEFAULT_PERIOD_US);
    }
    const quota = cpus === null ? null : Math.max(MIN_QUOTA_US, Math.round(cpus * period));
    const value = v2 ? `${quota ?? 'max'} ${period}` : String(quota ?? -1);
    if (this.dryRun && !existsSync(dir)) changes.push({ target: this.quotaFile(), from: 'absent', to: value });
    else this.journal.writeFile(this.quotaFile(), value, changes);
    for (const pid of this.pids) {
      const from = cgroupOfPid(this.paths, this.info, pid);
      if (from === undefined) throw new ActuatorRangeError('pid', `process ${pid} not found (no ${this.paths.at(`proc/${pid}/cgroup`)})`);
      const to = '/' + this.group;
      if (from === to) continue;
      const back = join(this.info.cpuRoot!, from, 'cgroup.procs');
      this.journal.record(
        `cgroup of pid ${pid}`,
        from,
        to,
        () => writeAttr(join(dir, 'cgroup.procs'), String(pid)),
        () => {
          try {
            writeAttr(back, String(pid));
          } catch (err) {
            // The process may have exited meanwhile; nothing to move back then.
            if (!(err instanceof Error && /ESRCH/.test(err.message))) throw err;
          }
        },
        changes,
      );
    }
    const what = quota === null ? 'no CPU limit' : `${(quota / period).toFixed(3)} CPUs (${quota}/${period} us)`;
    return { actuator: this.name, dryRun: this.dryRun, changes, summary: `${this.dryRun ? 'would limit' : 'limited'} cgroup ${dir} to ${what}` };
  }

  restoreSync(): void {
    const errors = this.journal.restoreSync();
    if (errors.length > 0) throw new Error(`could not restore: ${errors.join('; ')}`);
  }

  async restore(): Promise<void> {
    this.restoreSync();
  }
}

export interface EmulatedCapOptions extends CgroupQuotaOptions {
  model: PowerModel;
  /** Current mean frequency factor (f/f_base)^alpha; 1 without cpufreq. */
  freqFactor?: () => number;
}

/** A power cap in watts enforced as a CPU quota: cpus = (W - P_idle) / (P_core * freq factor). */
export class EmulatedPowerCapActuator implements Actuator<number> {
  readonly name = 'emulated-power-cap';
  readonly kind = 'cgroup-quota' as const;
  readonly dryRun: boolean;
  readonly quota: CgroupCpuQuotaActuator;
  private readonly model: PowerModel;
  private readonly freqFactor: () => number;

  constructor(opts: EmulatedCapOptions) {
    this.quota = new CgroupCpuQuotaActuator(opts);
    this.dryRun = this.quota.dryRun;
    this.model = opts.model;
    this.freqFactor = opts.freqFactor ?? (() => 1);
  }

  capability(): Capability {
    const c = this.quota.capability();
    if (!c.available) return c;
    const ff = this.freqFactor();
    return {
      ...c,
      reason: `${c.reason}; watts -> quota through the ${this.model.profile.name} power model`,
      detail: { ...c.detail, minWatts: this.minWatts(), maxWatts: this.model.maxWatts(ff), idleWatts: this.model.idleWatts },
    };
  }

  /** The lowest enforceable cap: idle power plus the smallest quota (1 ms per 100 ms period). */
  minWatts(): number {
    return this.model.idleWatts + (MIN_QUOTA_US / DEFAULT_PERIOD_US) * this.model.coreWatts * this.freqFactor();
  }

  async apply(watts: number): Promise<ApplyOutcome> {
    if (!Number.isFinite(watts) || watts <= 0) throw new ActuatorRangeError('watts', `must be a positive number of watts, got ${watts}`);
    const ff = this.freqFactor();
    const min = this.minWatts();
    if (watts < min) {
      throw new ActuatorRangeError('watts', `${watts} W is below what a CPU quota can enforce here: the model's idle power is ${this.model.idleWatts.toFixed(2)} W, so the lowest cap is ${min.toFixed(2)} W`);
    }
    const cpus = this.model.cpusForWatts(watts, ff);
    const max = this.model.maxWatts(ff);
    const unlimited = watts >= max;
    const out = await this.quota.apply(unlimited ? null : cpus);
    const note = unlimited
      ? `${watts} W is at or above the modelled maximum of ${max.toFixed(2)} W: no CPU limit`
      : `${watts} W -> ${cpus.toFixed(3)} CPUs (model ${this.model.profile.name}: idle ${this.model.idleWatts.toFixed(2)} W + ${this.model.coreWatts.toFixed(2)} W per busy core${ff === 1 ? '' : ` × frequency factor ${ff.toFixed(2)}`})`;
    return { ...out, actuator: this.name, summary: `${out.summary}; ${note}` };
  }

  restoreSync(): void {
    this.quota.restoreSync();
  }

  async restore(): Promise<void> {
    this.quota.restoreSync();
  }
}
