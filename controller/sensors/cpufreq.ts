// cpufreq discovery and the per-sample current-frequency reader. Policies live in
// sys/devices/system/cpu/cpufreq/policyN (cpuN/cpufreq links to one of them); a policy can
// cover several CPUs (affected_cpus). Frequencies in sysfs are in kHz.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { HostPaths } from './host-paths.js';
import { PreadFile, parseCpuList, readAttrIfExists, readIntAttrIfExists } from './sysfs.js';

export interface CpufreqPolicy {
  name: string;
  dir: string;
  cpus: number[];
  driver: string | undefined;
  governor: string | undefined;
  availableGovernors: string[];
  minKHz: number | undefined;
  maxKHz: number | undefined;
  hwMinKHz: number | undefined;
  hwMaxKHz: number | undefined;
  curKHz: number | undefined;
}

export interface CpufreqInfo {
  available: boolean;
  reason: string;
  policies: CpufreqPolicy[];
}

export function discoverCpufreq(paths: HostPaths): CpufreqInfo {
  const dir = join(paths.cpuDir, 'cpufreq');
  const names = existsSync(dir) ? readdirSync(dir).filter((n) => /^policy\d+$/.test(n)) : [];
  names.sort((a, b) => Number(a.slice(6)) - Number(b.slice(6)));
  const policies: CpufreqPolicy[] = [];
  for (const name of names) {
    const p = join(dir, name);
    const cpusStr = readAttrIfExists(join(p, 'affected_cpus')) ?? readAttrIfExists(join(p, 'related_cpus'));
    policies.push({
      name,
      dir: p,
      cpus: cpusStr !== undefined ? parseCpuList(cpusStr.replace(/\s+/g, ',')) : [Number(name.slice(6))],
      driver: readAttrIfExists(join(p, 'scaling_driver')),
      governor: readAttrIfExists(join(p, 'scaling_governor')),
      availableGovernors: (readAttrIfExists(join(p, 'scaling_available_governors')) ?? '').split(/\s+/).filter(Boolean),
      minKHz: readIntAttrIfExists(join(p, 'scaling_min_freq')),
      maxKHz: readIntAttrIfExists(join(p, 'scaling_max_freq')),
      hwMinKHz: readIntAttrIfExists(join(p, 'cpuinfo_min_freq')),
      hwMaxKHz: readIntAttrIfExists(join(p, 'cpuinfo_max_freq')),
      curKHz: readIntAttrIfExists(join(p, 'scaling_cur_freq')),
    });
  }
  return {
    available: policies.length > 0,
    reason: policies.length > 0 ? `${policies.length} cpufreq policies (${policies[0]!.driver ?? 'unknown driver'})` : `no cpufreq policies under ${dir}`,
    policies,
  };
}

/** Reads scaling_cur_freq of every policy into a per-CPU MHz array (NaN where unknown). */
export class CpufreqReader {
  private readonly files: { file: PreadFile; cpus: number[] }[] = [];
  private readonly size: number;
  constructor(info: CpufreqInfo) {
    let max = -1;
    for (const p of info.policies) {
      const f = join(p.dir, 'scaling_cur_freq');
      if (!existsSync(f)) continue;
      this.files.push({ file: new PreadFile(f), cpus: p.cpus });
      for (const c of p.cpus) max = Math.max(max, c);
    }
    this.size = max + 1;
  }
  get empty(): boolean {
    return this.files.length === 0;
  }
  readMHz(): Float64Array {
    const out = new Float64Array(this.size).fill(NaN);
    for (const { file, cpus } of this.files) {
      let mhz = NaN;
      try {
        mhz = file.readUint() / 1000;
      } catch {
        // a policy whose CPUs went offline reads EBUSY/EIO on some drivers: leave NaN
      }
      for (const c of cpus) out[c] = mhz;
    }
    return out;
  }
  close(): void {
    for (const f of this.files) f.file.close();
  }
}
