// RAPL through the powercap sysfs interface (Linux Documentation/power/powercap/powercap.rst).
//
// Discovery walks the flat list of zone links in sys/class/powercap: "intel-rapl:N" top-level
// zones and "intel-rapl:N:M" subzones, indices printed in hexadecimal. The "intel-rapl-mmio"
// control type exposes the same package again through MMIO on client platforms and is ignored.
//
// What is summed: package zones, plus "dram" zones (servers attach DRAM as a package subzone,
// but its energy is not part of the package's). Never "core"/"uncore" (inside the package) and
// never "psys" (the whole platform, a superset); psys is used alone only when no package exists.
import { accessSync, constants, existsSync, readdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import type { HostPaths } from './host-paths.js';
import type { PowerReading, PowerSource, ZoneReading } from './power-source.js';
import { PreadFile, SysfsError, readAttrIfExists, readIntAttrIfExists } from './sysfs.js';

export type RaplZoneKind = 'package' | 'dram' | 'core' | 'uncore' | 'psys' | 'other';

export interface RaplConstraint {
  index: number;
  name: string | undefined;
  powerLimitUw: number | undefined;
  timeWindowUs: number | undefined;
  maxPowerUw: number | undefined;
  minPowerUw: number | undefined;
  limitPath: string;
  windowPath: string;
  writable: boolean;
}

export interface RaplZone {
  /** The sysfs name, e.g. 'intel-rapl:0:1'. */
  id: string;
  /** Hex indices parsed from the id: [0, 1]. */
  index: number[];
  /** Resolved directory of the zone. */
  dir: string;
  /** The zone's `name` attribute: 'package-0', 'dram', 'core', 'uncore', 'psys'. */
  name: string;
  kind: RaplZoneKind;
  /** Parent zone id for subzones. */
  parent: string | undefined;
  maxEnergyRangeUj: number | undefined;
  /** Whether energy_uj can be read by this process; `energyError` says why not. */
  energyReadable: boolean;
  energyError: string | undefined;
  enabled: boolean | undefined;
  constraints: RaplConstraint[];
  /** Whether this zone's energy is part of the host total. */
  counted: boolean;
}

export interface RaplInventory {
  /** sys/class/powercap exists and lists at least one intel-rapl zone. */
  present: boolean;
  zones: RaplZone[];
  /** Entries deliberately skipped, with the reason. */
  ignored: { id: string; reason: string }[];
  /** Ids of the zones that make up the total. */
  counted: string[];
  /** Every counted zone's energy_uj is readable. */
  readable: boolean;
  /** Why RAPL cannot be used for sensing, when it cannot. */
  error: string | undefined;
}

const ZONE_RE = /^intel-rapl((?::[0-9a-f]+)+)$/;

/** Parses 'intel-rapl:a:1' into [10, 1]; undefined for anything else. */
export function parseZoneId(id: string): number[] | undefined {
  const m = ZONE_RE.exec(id);
  if (!m) return undefined;
  return m[1]!
    .slice(1)
    .split(':')
    .map((h) => parseInt(h, 16));
}

function kindOf(name: string): RaplZoneKind {
  if (/^package-\d+$/.test(name) || name === 'package') return 'package';
  if (name === 'dram') return 'dram';
  if (name === 'core') return 'core';
  if (name === 'uncore') return 'uncore';
  if (name === 'psys') return 'psys';
  return 'other';
}

export const EACCES_HINT = 'energy_uj is readable only by root since Linux 5.10 (CVE-2020-8694); run as root or grant read access to the energy_uj files';

function probeEnergy(file: string): { ok: true } | { ok: false; error: string } {
  try {
    const f = new PreadFile(file);
    try {
      f.readUint();
    } finally {
      f.close();
    }
    return { ok: true };
  } catch (err) {
    const code = err instanceof SysfsError ? err.code : 'EIO';
    const hint = code === 'EACCES' || code === 'EPERM' ? `: ${EACCES_HINT}` : '';
    return { ok: false, error: `${err instanceof Error ? err.message : String(err)}${hint}` };
  }
}

function isWritable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function readConstraints(dir: string): RaplConstraint[] {
  const out: RaplConstraint[] = [];
  for (let i = 0; ; i++) {
    const limitPath = join(dir, `constraint_${i}_power_limit_uw`);
    if (!existsSync(limitPath)) break;
    const windowPath = join(dir, `constraint_${i}_time_window_us`);
    out.push({
      index: i,
      name: readAttrIfExists(join(dir, `constraint_${i}_name`)),
      powerLimitUw: readIntAttrIfExists(limitPath),
      timeWindowUs: readIntAttrIfExists(windowPath),
      maxPowerUw: readIntAttrIfExists(join(dir, `constraint_${i}_max_power_uw`)),
      minPowerUw: readIntAttrIfExists(join(dir, `constraint_${i}_min_power_uw`)),
      limitPath,
      windowPath,
      writable: isWritable(limitPath),
    });
  }
  return out;
}

export function discoverRapl(paths: HostPaths): RaplInventory {
  const dir = paths.powercapDir;
  const zones: RaplZone[] = [];
  const ignored: { id: string; reason: string }[] = [];
  if (!existsSync(dir)) {
    return { present: false, zones, ignored, counted: [], readable: false, error: `${dir} does not exist (no powercap support)` };
  }
  for (const entry of readdirSync(dir).sort()) {
    if (entry.startsWith('.')) continue;
    if (entry === 'intel-rapl' || entry === 'intel-rapl-mmio') continue; // control types, not zones
    if (entry.startsWith('intel-rapl-mmio:')) {
      ignored.push({ id: entry, reason: 'MMIO interface duplicates the MSR package zone' });
      continue;
    }
    const index = parseZoneId(entry);
    if (!index) {
      ignored.push({ id: entry, reason: 'not a RAPL zone' });
      continue;
    }
    const link = join(dir, entry);
    let zdir: string;
    try {
      zdir = realpathSync(link);
    } catch {
      ignored.push({ id: entry, reason: 'dangling link' });
      continue;
    }
    const name = readAttrIfExists(join(zdir, 'name')) ?? entry;
    const energyFile = join(zdir, 'energy_uj');
    const hasEnergy = existsSync(energyFile);
    const probe = hasEnergy ? probeEnergy(energyFile) : ({ ok: false, error: `${energyFile} does not exist` } as const);
    const enabledStr = readAttrIfExists(join(zdir, 'enabled'));
    zones.push({
      id: entry,
      index,
      dir: zdir,
      name,
      kind: kindOf(name),
      parent: index.length > 1 ? `intel-rapl:${index.slice(0, -1).map((n) => n.toString(16)).join(':')}` : undefined,
      maxEnergyRangeUj: readIntAttrIfExists(join(zdir, 'max_energy_range_uj')),
      energyReadable: probe.ok,
      energyError: probe.ok ? undefined : probe.error,
      enabled: enabledStr === undefined ? undefined : enabledStr === '1',
      constraints: readConstraints(zdir),
      counted: false,
    });
  }
  zones.sort((a, b) => {
    for (let i = 0; i < Math.max(a.index.length, b.index.length); i++) {
      const d = (a.index[i] ?? -1) - (b.index[i] ?? -1);
      if (d !== 0) return d;
    }
    return 0;
  });
  const packages = zones.filter((z) => z.kind === 'package');
  const counted = packages.length > 0 ? [...packages, ...zones.filter((z) => z.kind === 'dram')] : zones.filter((z) => z.kind === 'psys');
  for (const z of counted) z.counted = true;
  const present = zones.length > 0;
  const unreadable = counted.filter((z) => !z.energyReadable);
  let error: string | undefined;
  if (!present) error = `no intel-rapl zones under ${dir}`;
  else if (counted.length === 0) error = 'no package, dram or psys zone to measure';
  else if (unreadable.length > 0) error = unreadable[0]!.energyError;
  return {
    present,
    zones,
    ignored,
    counted: counted.map((z) => z.id),
    readable: present && counted.length > 0 && unreadable.length === 0,
    error,
  };
}

/** Energy consumed between two counter readings, allowing for one wraparound. */
export function energyDeltaUj(prev: number, cur: number, maxRangeUj: number | undefined): number {
  if (cur >= prev) return cur - prev;
  // The counter wrapped: it ran from prev up to max_energy_range_uj, then from 0 to cur.
  if (maxRangeUj === undefined || maxRangeUj <= prev) return cur; // no range known: count from 0
  return maxRangeUj - prev + cur;
}

interface ZoneState {
  zone: RaplZone;
  file: PreadFile;
  last: number;
  joules: number;
  watts: number;
}

export interface RaplPowerSourceOptions {
  clock?: () => number;
}

/** Measured power: the sum of the counted zones' energy counters. */
export class RaplPowerSource implements PowerSource {
  readonly source = 'rapl' as const;
  private readonly states: ZoneState[];
  private lastAt: number;
  private joules = 0;
  private watts = 0;
  private readonly clock: () => number;

  constructor(zones: readonly RaplZone[], opts: RaplPowerSourceOptions = {}) {
    this.clock = opts.clock ?? (() => performance.now());
    if (zones.length === 0) throw new Error('RAPL power source needs at least one zone');
    const states: ZoneState[] = [];
    try {
      for (const zone of zones) {
        const file = new PreadFile(join(zone.dir, 'energy_uj'));
        states.push({ zone, file, last: 0, joules: 0, watts: 0 });
        states[states.length - 1]!.last = file.readUint();
      }
    } catch (err) {
      for (const s of states) s.file.close();
      if (err instanceof SysfsError && (err.code === 'EACCES' || err.code === 'EPERM')) {
        throw new SysfsError(err.path, err.code, `${err.message}: ${EACCES_HINT}`);
      }
      throw err;
    }
    this.states = states;
    this.lastAt = this.clock();
  }

  read(): PowerReading {
    const now = this.clock();
    const dtS = (now - this.lastAt) / 1000;
    let dTotal = 0;
    for (const s of this.states) {
      const cur = s.file.readUint();
      const dUj = energyDeltaUj(s.last, cur, s.zone.maxEnergyRangeUj);
      s.last = cur;
      const dJ = dUj / 1e6;
      s.joules += dJ;
      if (dtS > 0) s.watts = dJ / dtS;
      dTotal += dJ;
    }
    this.joules += dTotal;
    if (dtS > 0) this.watts = dTotal / dtS;
    this.lastAt = now;
    const zones: ZoneReading[] = this.states.map((s) => ({ id: s.zone.id, name: s.zone.name, watts: s.watts, joules: s.joules }));
    return { watts: this.watts, joules: this.joules, source: 'rapl', zones };
  }

  close(): void {
    for (const s of this.states) s.file.close();
  }
}
