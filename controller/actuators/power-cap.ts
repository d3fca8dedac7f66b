// Picks the best available way to cap host power: the RAPL package limit where it can be written,
// else the emulated cap (cgroup CPU quota sized through the power model). The chosen actuator is
// labelled with its kind, as power readings are labelled with their source.
import type { HostPaths } from '../sensors/host-paths.js';
import type { PowerModel } from '../sensors/power-model.js';
import type { RaplInventory } from '../sensors/rapl.js';
import type { CgroupInfo } from './cgroup-detect.js';
import { EmulatedPowerCapActuator } from './cgroup-quota.js';
import { RaplLimitActuator } from './rapl-limit.js';
import { ActuatorUnavailableError, type Actuator } from './types.js';

export type PowerCapKind = 'rapl' | 'cgroup-quota';
export type PowerCapActuator = Actuator<number> & { readonly kind: PowerCapKind };

export interface PowerCapChoiceOptions {
  paths: HostPaths;
  rapl: RaplInventory;
  cgroup: CgroupInfo;
  model: PowerModel | null;
  dryRun?: boolean;
  prefer?: 'auto' | PowerCapKind;
  /** RAPL: constraint_0 time window. */
  timeWindowUs?: number;
  /** Emulated cap: the cgroup and the processes to put in it. */
  group?: string;
  pids?: number[];
  freqFactor?: () => number;
}

export interface PowerCapChoice {
  actuator: PowerCapActuator;
  /** Why each candidate was or was not taken. */
  considered: { kind: PowerCapKind; available: boolean; reason: string }[];
}

export function choosePowerCap(opts: PowerCapChoiceOptions): PowerCapChoice {
  const considered: PowerCapChoice['considered'] = [];
  const prefer = opts.prefer ?? 'auto';
  const candidates: (() => PowerCapActuator | null)[] = [];
  const rapl = () => {
    const a = new RaplLimitActuator({ paths: opts.paths, dryRun: opts.dryRun ?? false, inventory: opts.rapl, ...(opts.timeWindowUs !== undefined ? { timeWindowUs: opts.timeWindowUs } : {}) });
    const c = a.capability();
    considered.push({ kind: 'rapl', available: c.available, reason: c.reason });
    return c.available ? a : null;
  };
  const quota = () => {
    if (!opts.model) {
      considered.push({ kind: 'cgroup-quota', available: false, reason: 'no power model (no host profile) to turn watts into a CPU quota' });
      return null;
    }
    const a = new EmulatedPowerCapActuator({
      paths: opts.paths,
      dryRun: opts.dryRun ?? false,
      info: opts.cgroup,
      model: opts.model,
      ...(opts.group !== undefined ? { group: opts.group } : {}),
      ...(opts.pids !== undefined ? { pids: opts.pids } : {}),
      ...(opts.freqFactor !== undefined ? { freqFactor: opts.freqFactor } : {}),
    });
    const c = a.capability();
    considered.push({ kind: 'cgroup-quota', available: c.available, reason: c.reason });
    return c.available ? a : null;
  };
  if (prefer === 'auto' || prefer === 'rapl') candidates.push(rapl);
  if (prefer === 'auto' || prefer === 'cgroup-quota') candidates.push(quota);
  for (const make of candidates) {
    const a = make();
    if (a) return { actuator: a, considered };
  }
  throw new ActuatorUnavailableError(`no power-cap actuator available: ${considered.map((c) => `${c.kind}: ${c.reason}`).join('; ')}`);
}
