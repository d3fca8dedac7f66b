// RAPL power limit: constraint_0 ("long_term", PL1) of every package zone, plus its time window.
// A host cap in watts is split evenly across the packages.
import { join } from 'node:path';
import type { HostPaths } from '../sensors/host-paths.js';
import { discoverRapl, type RaplInventory, type RaplZone } from '../sensors/rapl.js';
import { readAttr } from '../sensors/sysfs.js';
import { ChangeJournal } from './journal.js';
import { ActuatorRangeError, ActuatorUnavailableError, type Actuator, type ApplyOutcome, type Capability, type Change } from './types.js';

export interface RaplLimitOptions {
  paths: HostPaths;
  dryRun?: boolean;
  /** Also set constraint_0_time_window_us (microseconds). */
  timeWindowUs?: number;
  inventory?: RaplInventory;
}

export class RaplLimitActuator implements Actuator<number> {
  readonly name = 'rapl-power-limit';
  readonly kind = 'rapl' as const;
  readonly dryRun: boolean;
  private readonly journal: ChangeJournal;
  private readonly inv: RaplInventory;
  private readonly timeWindowUs: number | undefined;

  constructor(opts: RaplLimitOptions) {
    this.dryRun = opts.dryRun ?? false;
    this.journal = new ChangeJournal(this.dryRun);
    this.inv = opts.inventory ?? discoverRapl(opts.paths);
    this.timeWindowUs = opts.timeWindowUs;
  }

  /** Package zones whose constraint_0 can be written. */
  private zones(): RaplZone[] {
    return this.inv.zones.filter((z) => z.kind === 'package' && z.parent === undefined && z.constraints[0] !== undefined);
  }

  capability(): Capability {
    if (!this.inv.present) return { available: false, reason: this.inv.error ?? 'no RAPL zones' };
    const zones = this.zones();
    if (zones.length === 0) return { available: false, reason: 'RAPL zones have no power-limit (constraint_*) files (e.g. AMD exposes energy counters only)' };
    const ro = zones.filter((z) => !z.constraints[0]!.writable);
    if (ro.length > 0) return { available: false, reason: `${ro[0]!.constraints[0]!.limitPath} is not writable (needs root)` };
    const c = zones[0]!.constraints[0]!;
    return {
      available: true,
      reason: `${zones.length} package zone(s), constraint_0 ${c.name ?? ''}`.trim(),
      detail: {
        zones: zones.map((z) => ({ id: z.id, name: z.name, limitW: (z.constraints[0]!.powerLimitUw ?? 0) / 1e6, windowUs: z.constraints[0]!.timeWindowUs, maxW: z.constraints[0]!.maxPowerUw ? z.constraints[0]!.maxPowerUw / 1e6 : undefined })),
      },
    };
  }

  async apply(watts: number): Promise<ApplyOutcome> {
    const cap = this.capability();
    if (!cap.available) throw new ActuatorUnavailableError(`RAPL power limit unavailable: ${cap.reason}`);
    if (!Number.isFinite(watts) || watts <= 0) throw new ActuatorRangeError('watts', `must be a positive number of watts, got ${watts}`);
    const zones = this.zones();
    const perZoneUw = Math.round((watts / zones.length) * 1e6);
    for (const z of zones) {
      const c = z.constraints[0]!;
      if (c.maxPowerUw && perZoneUw > c.maxPowerUw) {
        throw new ActuatorRangeError('watts', `${watts} W is ${(perZoneUw / 1e6).toFixed(1)} W per package, above ${z.id}'s maximum of ${c.maxPowerUw / 1e6} W`);
      }
      if (c.minPowerUw && perZoneUw < c.minPowerUw) {
        throw new ActuatorRangeError('watts', `${watts} W is ${(perZoneUw / 1e6).toFixed(1)} W per package, below ${z.id}'s minimum of ${c.minPowerUw / 1e6} W`);
      }
    }
    const changes: Change[] = [];
    for (const z of zones) {
      const c = z.constraints[0]!;
      if (z.enabled === false) this.journal.writeFile(join(z.dir, 'enabled'), '1', changes);
      if (this.timeWindowUs !== undefined) this.journal.writeFile(c.windowPath, String(Math.round(this.timeWindowUs)), changes);
      this.journal.writeFile(c.limitPath, String(perZoneUw), changes);
    }
    // The kernel rounds limits to the hardware's power unit: report what it accepted.
    const effective = this.dryRun ? perZoneUw : Number(readAttr(zones[0]!.constraints[0]!.limitPath));
    return {
      actuator: this.name,
      dryRun: this.dryRun,
      changes,
      summary: `${this.dryRun ? 'would set' : 'set'} RAPL long-term limit to ${(effective / 1e6).toFixed(2)} W on each of ${zones.length} package(s) (${watts} W total)`,
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
