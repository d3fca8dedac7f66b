// CPU hotplug through sys/devices/system/cpu/cpuN/online. Opt-in only: offlining CPUs affects
// every process on the host. Safety rules: cpu0 is never written, the last online CPU is never
// taken offline, and CPUs are brought online before others go offline.
import { join } from 'node:path';
import type { HostPaths } from '../sensors/host-paths.js';
import { formatCpuList, parseCpuList, readAttr, readAttrIfExists } from '../sensors/sysfs.js';
import { readTopology } from '../sensors/topology.js';
import { ChangeJournal } from './journal.js';
import { ActuatorRangeError, ActuatorUnavailableError, type Actuator, type ApplyOutcome, type Capability, type Change } from './types.js';

export interface HotplugOptions {
  paths: HostPaths;
  dryRun?: boolean;
  /** Must be true: hotplug is never used unless asked for. */
  optIn: boolean;
}

/** Keeps exactly the given CPUs online (cpu0 must be among them). */
export class HotplugCoresActuator implements Actuator<number[]> {
  readonly name = 'hotplug-cores';
  readonly dryRun: boolean;
  private readonly paths: HostPaths;
  private readonly optIn: boolean;
  private readonly journal: ChangeJournal;

  constructor(opts: HotplugOptions) {
    this.paths = opts.paths;
    this.dryRun = opts.dryRun ?? false;
    this.optIn = opts.optIn;
    this.journal = new ChangeJournal(this.dryRun);
  }

  capability(): Capability {
    const topo = readTopology(this.paths);
    if (topo.hotpluggable.length === 0) return { available: false, reason: `no cpuN/online files under ${this.paths.cpuDir} (no CPU hotplug)` };
    if (!this.optIn) return { available: false, reason: 'CPU hotplug is opt-in (it affects every process on the host)', detail: { hotpluggable: topo.hotpluggable } };
    return { available: true, reason: `${topo.hotpluggable.length} hotpluggable CPUs (${formatCpuList(topo.hotpluggable)}); cpu0 is never taken offline`, detail: { hotpluggable: topo.hotpluggable } };
  }

  async apply(keepOnline: number[]): Promise<ApplyOutcome> {
    const cap = this.capability();
    if (!cap.available) throw new ActuatorUnavailableError(`CPU hotplug unavailable: ${cap.reason}`);
    const keep = new Set(keepOnline);
    if (keep.size === 0) throw new ActuatorRangeError('cpus', 'at least one CPU must stay online');
    const dir = this.paths.cpuDir;
    const online = new Set(parseCpuList(readAttr(join(dir, 'online'))));
    const possible = new Set(parseCpuList(readAttrIfExists(join(dir, 'possible')) ?? readAttr(join(dir, 'online'))));
    const unknown = [...keep].filter((c) => !possible.has(c));
    if (unknown.length > 0) throw new ActuatorRangeError('cpus', `CPU(s) ${formatCpuList(unknown)} do not exist`);
    if (online.has(0) && !keep.has(0)) throw new ActuatorRangeError('cpus', 'cpu0 is never taken offline; include it in the set');
    const hot = new Set(readTopology(this.paths).hotpluggable);
    const toOnline = [...keep].filter((c) => !online.has(c));
    const cannot = toOnline.filter((c) => !hot.has(c));
    if (cannot.length > 0) throw new ActuatorRangeError('cpus', `CPU(s) ${formatCpuList(cannot)} are offline and not hotpluggable`);
    const toOffline = [...online].filter((c) => !keep.has(c));
    const pinned = toOffline.filter((c) => c === 0 || !hot.has(c));
    if (pinned.length > 0) throw new ActuatorRangeError('cpus', `CPU(s) ${formatCpuList(pinned)} cannot be taken offline`);
    const finalOnline = new Set([...online, ...toOnline].filter((c) => !toOffline.includes(c)));
    if (finalOnline.size === 0) throw new ActuatorRangeError('cpus', 'refusing to take the last online CPU offline');
    const changes: Change[] = [];
    // Online first, so the number of online CPUs never dips below the target on the way.
    for (const c of toOnline.sort((a, b) => a - b)) this.journal.writeFile(join(dir, `cpu${c}`, 'online'), '1', changes);
    for (const c of toOffline.sort((a, b) => b - a)) {
      const stillOnline = parseCpuList(readAttr(join(dir, 'online')));
      if (!this.dryRun && stillOnline.filter((x) => x !== c).length === 0) throw new ActuatorRangeError('cpus', `refusing to take cpu${c}, the last online CPU, offline`);
      this.journal.writeFile(join(dir, `cpu${c}`, 'online'), '0', changes);
    }
    return {
      actuator: this.name,
      dryRun: this.dryRun,
      changes,
      summary: `${this.dryRun ? 'would keep' : 'kept'} CPUs ${formatCpuList([...finalOnline])} online (${toOnline.length} brought online, ${toOffline.length} taken offline)`,
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
