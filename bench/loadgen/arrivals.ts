// Open-loop arrival times: a non-homogeneous Poisson process following the profile's rate curve,
// drawn by thinning (Lewis & Shedler): candidates at the phase's peak rate, each kept with
// probability rate(t)/peak. Times depend only on the seed and the profile, never on responses.
import type { CompiledPhase } from './profile/profile.js';
import { phaseMaxRate, phaseRateAt } from './rate-curve.js';

export interface UniformSource {
  /** Uniform in [0, 1). */
  nextFloat(): number;
}

export class PoissonArrivals {
  private readonly phases: readonly CompiledPhase[];
  private readonly rng: UniformSource;
  private readonly share: number;
  private readonly peaks: number[];
  private phase = 0;
  private t = 0;

  /**
   * @param share fraction of the rate this stream offers (1/workers): N independent streams at
   *   rate r/N add up to one Poisson stream at rate r.
   */
  constructor(phases: readonly CompiledPhase[], rng: UniformSource, share = 1) {
    this.phases = phases;
    this.rng = rng;
    this.share = share;
    this.peaks = phases.map((p) => phaseMaxRate(p) * share);
    this.t = phases[0]?.start ?? 0;
  }

  /** Seconds from the run's start of the next arrival, or undefined when the profile is over. */
  next(): number | undefined {
    for (;;) {
      const p = this.phases[this.phase];
      if (!p) return undefined;
      const end = p.start + p.duration;
      const peak = this.peaks[this.phase]!;
      if (peak <= 0) {
        this.t = end;
        this.phase++;
        continue;
      }
      // Exp(1) / peak; 1 - u is in (0, 1], so the log is finite.
      this.t += -Math.log(1 - this.rng.nextFloat()) / peak;
      if (this.t >= end) {
        // Memorylessness: restarting the draw at the boundary with the next phase's peak is exact.
        this.t = end;
        this.phase++;
        continue;
      }
      if (this.rng.nextFloat() * peak < phaseRateAt(p, this.t - p.start) * this.share) return this.t;
    }
  }
}
