// The modelled power used where RAPL cannot be read (docs/host.md, "Power model").
//
//   P = P_idle * L / (C * T)  +  sum over physical cores k of  u_k * P_core * (f_k / f_base)^alpha
//   P_core = (P_load - P_idle) / C          then, under a cap W:  P = min(P, max(W, idle part))
//
// with, from the host profile: P_idle / P_load the package power of an idle / fully busy socket
// at base frequency (the TDP), C cores per socket, T threads per core, f_base, alpha; and from
// the host: L online logical CPUs, u_k the utilisation of core k (the busiest of its SMT threads:
// a core is awake when any thread is), f_k its current frequency (f_base without cpufreq).
// The idle part is the profile's socket idle scaled to the logical CPUs this host has, which is
// exact for whole sockets and gives a VM its share of the package.
import type { HostProfile } from './host-profile.js';
import type { CpuLoadSample } from './proc-stat.js';
import type { PowerReading, PowerSource } from './power-source.js';

export interface HostShape {
  /** Online logical CPUs. */
  logicalCpus: number;
  /** Dense physical-core index per logical CPU id; -1 (or out of range) = a core of its own. */
  coreOf: Int32Array;
  coreCount: number;
}

export class PowerModel {
  readonly profile: HostProfile;
  /** Host idle power, watts. */
  readonly idleWatts: number;
  /** Power of one fully busy physical core at base frequency, watts. */
  readonly coreWatts: number;
  readonly baseMHz: number;
  readonly alpha: number;
  private shape: HostShape;
  private scratch: Float64Array;

  constructor(profile: HostProfile, shape: HostShape) {
    this.profile = profile;
    const { coresPerSocket: C, threadsPerCore: T, baseMHz } = profile.cpu;
    const { idleWattsPerSocket: idle, loadWattsPerSocket: load, freqExponent } = profile.power;
    this.coreWatts = (load - idle) / C;
    this.baseMHz = baseMHz;
    this.alpha = freqExponent;
    this.idleWatts = (idle * shape.logicalCpus) / (C * T);
    this.shape = shape;
    this.scratch = new Float64Array(shape.coreCount + 64);
  }

  get cores(): number {
    return this.shape.coreCount;
  }

  /** (f / f_base)^alpha for one frequency in MHz; 1 when unknown. */
  freqFactor(mhz: number | undefined): number {
    if (mhz === undefined || !(mhz > 0)) return 1;
    return Math.pow(mhz / this.baseMHz, this.alpha);
  }

  /** Mean frequency factor over the given per-CPU frequencies (MHz; NaN entries skipped). */
  meanFreqFactor(freqMHz: Float64Array | null | undefined): number {
    if (!freqMHz) return 1;
    let s = 0;
    let n = 0;
    for (let i = 0; i < freqMHz.length; i++) {
      const f = freqMHz[i]!;
      if (f > 0) {
        s += this.freqFactor(f);
        n++;
      }
    }
    return n > 0 ? s / n : 1;
  }

  /** Modelled host power for per-CPU utilisation (0..1, NaN = offline). */
  watts(perCpu: Float64Array, freqMHz?: Float64Array | null, capWatts?: number): number {
    const coreOf = this.shape.coreOf;
    const core = this.scratch;
    core.fill(0, 0, this.shape.coreCount);
    let extra = 0;
    for (let id = 0; id < perCpu.length; id++) {
      const u = perCpu[id]!;
      if (!(u > 0)) continue;
      const f = freqMHz && id < freqMHz.length ? freqMHz[id] : undefined;
      const term = Math.min(1, u) * this.freqFactor(f);
      const k = id < coreOf.length ? coreOf[id]! : -1;
      if (k < 0 || k >= this.shape.coreCount) extra += term;
      else if (term > core[k]!) core[k] = term;
    }
    let dyn = extra;
    for (let k = 0; k < this.shape.coreCount; k++) dyn += core[k]!;
    const p = this.idleWatts + this.coreWatts * dyn;
    if (capWatts !== undefined) return Math.min(p, Math.max(capWatts, this.idleWatts));
    return p;
  }

  /** Modelled power with every core busy. */
  maxWatts(freqFactor = 1): number {
    return this.idleWatts + this.shape.coreCount * this.coreWatts * freqFactor;
  }

  /**
   * How many CPUs' worth of busy time fit under `watts` (the inverse of the model, used to turn
   * a power cap into a CPU quota). Assumes each quota CPU keeps one physical core busy, the
   * conservative choice with SMT. Can be < 0 when the cap is below idle power.
   */
  cpusForWatts(watts: number, freqFactor = 1): number {
    return (watts - this.idleWatts) / (this.coreWatts * freqFactor);
  }
}

export interface ModelPowerSourceOptions {
  profileName: string;
  matched: boolean;
  fallbackReason?: string;
  /** Takes a load sample when read() is used standalone. */
  load?: () => CpuLoadSample;
  /** Current per-CPU frequency in MHz, when cpufreq is present. */
  freq?: () => Float64Array | null;
}

/** Modelled power integrated over time; the reading is always labelled source: 'model'. */
export class ModelPowerSource implements PowerSource {
  readonly source = 'model' as const;
  readonly model: PowerModel;
  private joules = 0;
  private readonly opts: ModelPowerSourceOptions;

  constructor(model: PowerModel, opts: ModelPowerSourceOptions) {
    this.model = model;
    this.opts = opts;
  }

  /** Computes a reading from a load sample the caller already took (the HostSensors path). */
  readFrom(load: CpuLoadSample, freqMHz: Float64Array | null, capWatts?: number): PowerReading {
    const watts = this.model.watts(load.perCpu, freqMHz, capWatts);
    this.joules += (watts * load.intervalMs) / 1000;
    const model = { profile: this.opts.profileName, matched: this.opts.matched, ...(capWatts !== undefined ? { capWatts } : {}) };
    const r: PowerReading = { watts, joules: this.joules, source: 'model', model };
    if (this.opts.fallbackReason) r.fallbackReason = this.opts.fallbackReason;
    return r;
  }

  read(): PowerReading {
    if (!this.opts.load) throw new Error('ModelPowerSource.read() needs a load sampler; use readFrom()');
    return this.readFrom(this.opts.load(), this.opts.freq ? this.opts.freq() : null);
  }

  close(): void {}
}
