// cpufreq governor and maximum frequency for every policy, where a cpufreq driver exists.
import { join } from 'node:path';
import type { HostPaths } from '../sensors/host-paths.js';
import { discoverCpufreq, type CpufreqInfo } from '../sensors/cpufreq.js';
import { readIntAttrIfExists } from '../sensors/sysfs.js';
import { ChangeJournal } from './journal.js';
import { ActuatorRangeError, ActuatorUnavailableError, type Actuator, type ApplyOutcome, type Capability, type Change } from './types.js';

export interface CpufreqSetting {
  governor?: string;
  /** Upper frequency limit in kHz (sysfs unit). */
  maxKHz?: number;
}

export interface CpufreqActuatorOptions {
  paths: HostPaths;
  dryRun?: boolean;
  info?: CpufreqInfo;
}

export class CpufreqActuator implements Actuator<CpufreqSetting> {
  readonly name = 'cpufreq';
  readonly dryRun: boolean;
  private readonly info: CpufreqInfo;
  private readonly journal: ChangeJournal;

  constructor(opts: CpufreqActuatorOptions) {
    this.dryRun = opts.dryRun ?? false;
    this.info = opts.info ?? discoverCpufreq(opts.paths);
    this.journal = new ChangeJournal(this.dryRun);
  }

  capability(): Capability {
    if (!this.info.available) return { available: false, reason: this.info.reason };
    const p = this.info.policies[0]!;
    return {
      available: true,
      reason: this.info.reason,
      detail: { governors: p.availableGovernors, hwMinKHz: p.hwMinKHz, hwMaxKHz: p.hwMaxKHz, policies: this.info.policies.map((x) => x.name) },
    };
  }

  async apply(v: CpufreqSetting): Promise<ApplyOutcome> {
    if (!this.info.available) throw new ActuatorUnavailableError(`cpufreq unavailable: ${this.info.reason}`);
    if (v.governor === undefined && v.maxKHz === undefined) throw new ActuatorRangeError('cpufreq', 'nothing to set: give a governor and/or maxKHz');
    for (const p of this.info.policies) {
      if (v.governor !== undefined && !p.availableGovernors.includes(v.governor)) {
        throw new ActuatorRangeError('governor', `${JSON.stringify(v.governor)} is not available on ${p.name} (available: ${p.availableGovernors.join(', ')})`);
      }
      if (v.maxKHz !== undefined) {
        if (!Number.isInteger(v.maxKHz) || v.maxKHz <= 0) throw new ActuatorRangeError('maxKHz', `must be a positive integer (kHz), got ${v.maxKHz}`);
        if (p.hwMinKHz !== undefined && v.maxKHz < p.hwMinKHz) throw new ActuatorRangeError('maxKHz', `${v.maxKHz} kHz is below ${p.name}'s hardware minimum ${p.hwMinKHz} kHz`);
        if (p.hwMaxKHz !== undefined && v.maxKHz > p.hwMaxKHz) throw new ActuatorRangeError('maxKHz', `${v.maxKHz} kHz is above ${p.name}'s hardware maximum ${p.hwMaxKHz} kHz`);
        const minNow = readIntAttrIfExists(join(p.dir, 'scaling_min_freq'));
        if (minNow !== undefined && v.maxKHz < minNow) throw new ActuatorRangeError('maxKHz', `${v.maxKHz} kHz is below ${p.name}'s scaling_min_freq ${minNow} kHz`);
      }
    }
    const changes: Change[] = [];
    for (const p of this.info.policies) {
      if (v.governor !== undefined) this.journal.writeFile(join(p.dir, 'scaling_governor'), v.governor, changes);
      if (v.maxKHz !== undefined) this.journal.writeFile(join(p.dir, 'scaling_max_freq'), String(v.maxKHz), changes);
    }
    const parts = [v.governor !== undefined ? `governor ${v.governor}` : '', v.maxKHz !== undefined ? `max ${v.maxKHz} kHz` : ''].filter(Boolean);
    return { actuator: this.name, dryRun: this.dryRun, changes, summary: `${this.dryRun ? 'would set' : 'set'} ${parts.join(', ')} on ${this.info.policies.length} policies` };
  }

  restoreSync(): void {
    const errors = this.journal.restoreSync();
    if (errors.length > 0) throw new Error(`could not restore: ${errors.join('; ')}`);
  }

  async restore(): Promise<void> {
    this.restoreSync();
  }
}
