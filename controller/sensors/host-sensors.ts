// The one object the controller daemon samples (about once a second). open() does all discovery
// (RAPL zones, topology, cpufreq, cgroups, pinning, host profile, one-time inventory); sample() is
// cheap and synchronous: one pread of /proc/stat, one pread per counted RAPL zone (or the power
// model), one pread per cpufreq policy. It never spawns a process.
import type { CgroupInfo } from '../actuators/cgroup-detect.js';
import { detectCgroup } from '../actuators/cgroup-detect.js';
import { detectPinning, type PinningInfo } from '../actuators/affinity.js';
import { CpufreqReader, discoverCpufreq, type CpufreqInfo } from './cpufreq.js';
import { HostPaths } from './host-paths.js';
import { selectHostProfile, type SelectedHostProfile } from './host-profile.js';
import { readInventory, type HostInventory } from './inventory.js';
import { ModelPowerSource, PowerModel } from './power-model.js';
import type { PowerReading, PowerSourceKind } from './power-source.js';
import { CpuLoadSensor, type CpuLoadSample } from './proc-stat.js';
import { discoverRapl, RaplPowerSource, type RaplInventory } from './rapl.js';
import { readIntAttrIfExists } from './sysfs.js';
import { readTopology, type CpuTopology } from './topology.js';

export interface HostSensorsOptions {
  /** Root of sysfs/procfs/cgroupfs paths; default '/'. */
  root?: string;
  /** Host profile name or YAML file; default: matched by CPU model, else the fallback profile. */
  hostProfile?: string;
  profilesDir?: string;
  /** 'auto' (default) uses RAPL when its counters can be read, else the model. */
  power?: 'auto' | PowerSourceKind;
  /** Use systeminformation for inventory extras; default only with root '/'. */
  systeminformation?: boolean;
  /** Monotonic milliseconds; injectable for tests. */
  clock?: () => number;
}

export interface HostSample {
  atMs: number;
  intervalMs: number;
  load: CpuLoadSample;
  /** Current frequency per CPU id in MHz (NaN unknown), or null without cpufreq. */
  freqMHz: Float64Array | null;
  power: PowerReading;
}

export interface HostCapabilities {
  root: string;
  inventory: HostInventory;
  cpus: { online: number[]; cores: number; packages: number; topologyFromSysfs: boolean };
  power: { source: PowerSourceKind; reason: string; profile: { name: string; file: string; matched: boolean; how: string } | null };
  rapl: {
    present: boolean;
    readable: boolean;
    error: string | undefined;
    counted: string[];
    ignored: { id: string; reason: string }[];
    zones: { id: string; name: string; kind: string; counted: boolean; energyReadable: boolean; energyError?: string; maxEnergyRangeUj?: number; limits: { name?: string; powerLimitW?: number; timeWindowUs?: number; writable: boolean }[] }[];
  };
  hotplug: { available: boolean; cpus: number[]; reason: string };
  cpufreq: { available: boolean; reason: string; driver?: string; governors?: string[]; governor?: string; minKHz?: number; maxKHz?: number; hwMinKHz?: number; hwMaxKHz?: number };
  cgroup: { version: 1 | 2 | null; cpuRoot: string | null; reason: string };
  pinning: PinningInfo;
  model: { idleWatts: number; coreWatts: number; maxWatts: number } | null;
}

export class HostSensors {
  readonly paths: HostPaths;
  readonly inventory: HostInventory;
  readonly rapl: RaplInventory;
  readonly cpufreq: CpufreqInfo;
  readonly cgroup: CgroupInfo;
  readonly pinning: PinningInfo;
  readonly profile: SelectedHostProfile;
  readonly powerSource: PowerSourceKind;
  readonly powerReason: string;
  private topo: CpuTopology;
  private modelValue: PowerModel;
  private readonly load: CpuLoadSensor;
  private readonly freq: CpufreqReader | null;
  private readonly raplSource: RaplPowerSource | null;
  private modelSource: ModelPowerSource;
  private readonly clock: () => number;

  private constructor(init: {
    paths: HostPaths;
    inventory: HostInventory;
    rapl: RaplInventory;
    cpufreq: CpufreqInfo;
    cgroup: CgroupInfo;
    pinning: PinningInfo;
    profile: SelectedHostProfile;
    topo: CpuTopology;
    load: CpuLoadSensor;
    freq: CpufreqReader | null;
    raplSource: RaplPowerSource | null;
    powerReason: string;
    clock: () => number;
  }) {
    this.paths = init.paths;
    this.inventory = init.inventory;
    this.rapl = init.rapl;
    this.cpufreq = init.cpufreq;
    this.cgroup = init.cgroup;
    this.pinning = init.pinning;
    this.profile = init.profile;
    this.topo = init.topo;
    this.load = init.load;
    this.freq = init.freq;
    this.raplSource = init.raplSource;
    this.powerSource = init.raplSource ? 'rapl' : 'model';
    this.powerReason = init.powerReason;
    this.clock = init.clock;
    this.modelValue = this.buildModel();
    this.modelSource = this.buildModelSource();
  }

  static async open(opts: HostSensorsOptions = {}): Promise<HostSensors> {
    const paths = new HostPaths(opts.root ?? '/');
    const clock = opts.clock ?? (() => performance.now());
    const load = new CpuLoadSensor(paths.procStat, { clock });
    try {
      const first = load.sample();
      const topo = readTopology(paths, first.online);
      const inventory = await readInventory(paths, opts.systeminformation !== undefined ? { systeminformation: opts.systeminformation } : {});
      const profile = await selectHostProfile(inventory.cpuModel, {
        ...(opts.hostProfile !== undefined ? { explicit: opts.hostProfile } : {}),
        ...(opts.profilesDir !== undefined ? { dir: opts.profilesDir } : {}),
      });
      const rapl = discoverRapl(paths);
      const cpufreq = discoverCpufreq(paths);
      const freq = cpufreq.available ? new CpufreqReader(cpufreq) : null;
      let raplSource: RaplPowerSource | null = null;
      let powerReason: string;
      const want = opts.power ?? 'auto';
      if (want === 'model') powerReason = 'power model requested';
      else if (rapl.readable) {
        try {
          raplSource = new RaplPowerSource(
            rapl.zones.filter((z) => z.counted),
            { clock },
          );
          powerReason = `RAPL energy counters: ${rapl.counted.join(' + ')}`;
        } catch (err) {
          powerReason = `RAPL present but unusable (${err instanceof Error ? err.message : String(err)}); using the power model`;
        }
      } else if (rapl.present) powerReason = `RAPL present but unusable (${rapl.error}); using the power model`;
      else powerReason = `no RAPL (${rapl.error}); using the power model`;
      if (want === 'rapl' && !raplSource) throw new Error(`RAPL requested but unavailable: ${powerReason}`);
      return new HostSensors({ paths, inventory, rapl, cpufreq, cgroup: detectCgroup(paths), pinning: detectPinning(paths), profile, topo, load, freq, raplSource, powerReason, clock });
    } catch (err) {
      load.close();
      throw err;
    }
  }

  private buildModel(): PowerModel {
    return new PowerModel(this.profile.profile, { logicalCpus: this.topo.online.length, coreOf: this.topo.coreOf, coreCount: this.topo.coreCount });
  }

  private buildModelSource(): ModelPowerSource {
    const fallbackReason = this.rapl.present && !this.raplSource ? this.powerReason : undefined;
    return new ModelPowerSource(this.modelValue, {
      profileName: this.profile.profile.name,
      matched: this.profile.matched,
      ...(fallbackReason !== undefined ? { fallbackReason } : {}),
    });
  }

  /** The power model for this host (also used when RAPL measures, e.g. to size emulated caps). */
  get model(): PowerModel {
    return this.modelValue;
  }

  get topology(): CpuTopology {
    return this.topo;
  }

  /** One sample of every sensor. Synchronous, no child processes, no discovery. */
  sample(): HostSample {
    const load = this.load.sample();
    if (load.online.length !== this.topo.online.length || load.online.some((c, i) => c !== this.topo.online[i])) {
      // CPUs came or went (hotplug): refresh topology and the model's view of the host.
      this.topo = readTopology(this.paths, load.online);
      this.modelValue = this.buildModel();
      this.modelSource = this.buildModelSource();
    }
    const freqMHz = this.freq ? this.freq.readMHz() : null;
    const power = this.raplSource ? this.raplSource.read() : this.modelSource.readFrom(load, freqMHz, this.raplLimitWatts());
    return { atMs: load.atMs, intervalMs: load.intervalMs, load, freqMHz, power };
  }

  /**
   * The RAPL long-term limit in force (constraint 0 of every enabled package zone, summed), read
   * now: a modelled reading is capped by it. Only where RAPL limits exist but energy cannot be read
   * (e.g. a non-root daemon since Linux 5.10); undefined when any package has no readable limit.
   */
  private raplLimitWatts(): number | undefined {
    const packages = this.rapl.zones.filter((z) => z.kind === 'package' && z.parent === undefined);
    if (packages.length === 0) return undefined;
    let uw = 0;
    for (const z of packages) {
      if (z.enabled === false) return undefined;
      const c0 = z.constraints.find((c) => c.index === 0);
      const v = c0 ? readIntAttrIfExists(c0.limitPath) : undefined;
      if (v === undefined || v <= 0) return undefined;
      uw += v;
    }
    return uw / 1e6;
  }

  /** Mean (f/f_base)^alpha over CPUs now; 1 without cpufreq. */
  freqFactor(): number {
    return this.freq ? this.modelValue.meanFreqFactor(this.freq.readMHz()) : 1;
  }

  capabilities(): HostCapabilities {
    const p0 = this.cpufreq.policies[0];
    const m = this.modelValue;
    return {
      root: this.paths.root,
      inventory: this.inventory,
      cpus: { online: this.topo.online, cores: this.topo.coreCount, packages: this.topo.packageCount, topologyFromSysfs: this.topo.fromSysfs },
      power: {
        source: this.powerSource,
        reason: this.powerReason,
        profile: { name: this.profile.profile.name, file: this.profile.file, matched: this.profile.matched, how: this.profile.how },
      },
      rapl: {
        present: this.rapl.present,
        readable: this.rapl.readable,
        error: this.rapl.error,
        counted: this.rapl.counted,
        ignored: this.rapl.ignored,
        zones: this.rapl.zones.map((z) => ({
          id: z.id,
          name: z.name,
          kind: z.kind,
          counted: z.counted,
          energyReadable: z.energyReadable,
          ...(z.energyError !== undefined ? { energyError: z.energyError } : {}),
          ...(z.maxEnergyRangeUj !== undefined ? { maxEnergyRangeUj: z.maxEnergyRangeUj } : {}),
          limits: z.constraints.map((c) => ({
            ...(c.name !== undefined ? { name: c.name } : {}),
            ...(c.powerLimitUw !== undefined ? { powerLimitW: c.powerLimitUw / 1e6 } : {}),
            ...(c.timeWindowUs !== undefined ? { timeWindowUs: c.timeWindowUs } : {}),
            writable: c.writable,
          })),
        })),
      },
      hotplug: {
        available: this.topo.hotpluggable.length > 0,
        cpus: this.topo.hotpluggable,
        reason: this.topo.hotpluggable.length > 0 ? 'cpuN/online present (opt-in actuator; cpu0 never offlined)' : 'no cpuN/online files',
      },
      cpufreq: {
        available: this.cpufreq.available,
        reason: this.cpufreq.reason,
        ...(p0
          ? {
              ...(p0.driver !== undefined ? { driver: p0.driver } : {}),
              governors: p0.availableGovernors,
              ...(p0.governor !== undefined ? { governor: p0.governor } : {}),
              ...(p0.minKHz !== undefined ? { minKHz: p0.minKHz } : {}),
              ...(p0.maxKHz !== undefined ? { maxKHz: p0.maxKHz } : {}),
              ...(p0.hwMinKHz !== undefined ? { hwMinKHz: p0.hwMinKHz } : {}),
              ...(p0.hwMaxKHz !== undefined ? { hwMaxKHz: p0.hwMaxKHz } : {}),
            }
          : {}),
      },
      cgroup: { version: this.cgroup.version, cpuRoot: this.cgroup.cpuRoot, reason: this.cgroup.reason },
      pinning: this.pinning,
      model: { idleWatts: m.idleWatts, coreWatts: m.coreWatts, maxWatts: m.maxWatts(this.freqFactor()) },
    };
  }

  close(): void {
    this.load.close();
    this.freq?.close();
    this.raplSource?.close();
  }
}
