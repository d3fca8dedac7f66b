// One-time CPU inventory. The CPU model name comes from <root>/proc/cpuinfo so fixture trees can
// be matched to host profiles; on the live machine systeminformation adds base/min/max speeds and
// the temperature when a sensor exists. systeminformation may spawn helper processes, which is why
// it runs once at start-up and never in the sampling loop.
import { readFileSync } from 'node:fs';
import type { HostPaths } from './host-paths.js';

export interface HostInventory {
  cpuModel: string;
  vendor: string | undefined;
  /** Logical CPUs listed in cpuinfo. */
  logicalCpus: number;
  sockets: number | undefined;
  physicalCores: number | undefined;
  speedMHz: { base: number | undefined; min: number | undefined; max: number | undefined };
  /** Main CPU temperature in °C, when a sensor is exposed; null when none. */
  temperatureC: number | null;
  /** Where the extra fields came from. */
  via: 'cpuinfo' | 'cpuinfo+systeminformation';
}

export function parseCpuinfo(text: string): Pick<HostInventory, 'cpuModel' | 'vendor' | 'logicalCpus' | 'sockets' | 'physicalCores'> {
  let cpuModel = '';
  let vendor: string | undefined;
  let logical = 0;
  const sockets = new Set<string>();
  const cores = new Set<string>();
  let phys = '';
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const k = line.slice(0, i).trim();
    const v = line.slice(i + 1).trim();
    if (k === 'processor') logical++;
    else if (k === 'model name' && !cpuModel) cpuModel = v;
    else if (k === 'vendor_id' && !vendor) vendor = v;
    else if (k === 'physical id') {
      phys = v;
      sockets.add(v);
    } else if (k === 'core id') cores.add(`${phys}:${v}`);
  }
  return {
    cpuModel: cpuModel || 'unknown',
    vendor,
    logicalCpus: logical,
    sockets: sockets.size || undefined,
    physicalCores: cores.size || undefined,
  };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(undefined), ms);
    t.unref();
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      () => {
        clearTimeout(t);
        resolve(undefined);
      },
    );
  });
}

export async function readInventory(paths: HostPaths, opts: { systeminformation?: boolean } = {}): Promise<HostInventory> {
  let text = '';
  try {
    text = readFileSync(paths.at('proc/cpuinfo'), 'utf8');
  } catch {
    // no cpuinfo (unusual fixture): the model stays 'unknown' and the fallback profile applies
  }
  const base = parseCpuinfo(text);
  const inv: HostInventory = { ...base, speedMHz: { base: undefined, min: undefined, max: undefined }, temperatureC: null, via: 'cpuinfo' };
  // systeminformation reads the live machine only, so it never describes a fixture root.
  const useSi = (opts.systeminformation ?? true) && paths.isLive;
  if (!useSi) return inv;
  const si = await import('systeminformation');
  const cpu = await withTimeout(si.cpu(), 5000);
  const temp = await withTimeout(si.cpuTemperature(), 5000);
  if (cpu) {
    const ghz = (x: number) => (x > 0 ? Math.round(x * 1000) : undefined);
    inv.speedMHz = { base: ghz(cpu.speed), min: ghz(cpu.speedMin), max: ghz(cpu.speedMax) };
    inv.physicalCores = inv.physicalCores ?? cpu.physicalCores;
    inv.sockets = inv.sockets ?? cpu.processors;
  }
  if (temp && typeof temp.main === 'number' && Number.isFinite(temp.main) && temp.main > 0) inv.temperatureC = temp.main;
  inv.via = 'cpuinfo+systeminformation';
  return inv;
}
