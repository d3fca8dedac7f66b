// CPU topology from sysfs: which logical CPUs are online, which physical core and package each
// belongs to, and which CPUs can be hot-unplugged. Read once; re-read after hotplug changes.
import { existsSync, readdirSync } from 'node:fs';
import type { HostPaths } from './host-paths.js';
import { parseCpuList, readAttrIfExists, readIntAttrIfExists } from './sysfs.js';

export interface CpuTopology {
  /** Online logical CPU ids (from sys/devices/system/cpu/online, else from /proc/stat). */
  online: number[];
  /** All possible logical CPU ids. */
  possible: number[];
  /** Package (socket) id per logical CPU id; -1 when unknown. */
  packageOf: Int32Array;
  /** Dense physical-core index per logical CPU id (SMT siblings share one); -1 when unknown. */
  coreOf: Int32Array;
  /** Number of distinct physical cores among the known CPUs. */
  coreCount: number;
  /** Number of distinct packages. */
  packageCount: number;
  /** True when sysfs gave package/core ids; false means each logical CPU counts as a core. */
  fromSysfs: boolean;
  /** Logical CPUs that have an `online` attribute (hotpluggable), excluding cpu0. */
  hotpluggable: number[];
}

function listCpuDirs(cpuDir: string): number[] {
  if (!existsSync(cpuDir)) return [];
  return readdirSync(cpuDir)
    .map((n) => /^cpu(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

export function readTopology(paths: HostPaths, fallbackOnline: readonly number[] = []): CpuTopology {
  const dir = paths.cpuDir;
  const onlineStr = readAttrIfExists(`${dir}/online`);
  const possibleStr = readAttrIfExists(`${dir}/possible`);
  const dirs = listCpuDirs(dir);
  const online = onlineStr !== undefined ? parseCpuList(onlineStr) : [...fallbackOnline];
  const possible = possibleStr !== undefined ? parseCpuList(possibleStr) : dirs.length > 0 ? dirs : [...online];
  const size = Math.max(0, ...possible, ...online) + 1;
  const packageOf = new Int32Array(size).fill(-1);
  const coreOf = new Int32Array(size).fill(-1);
  const coreKey = new Map<string, number>();
  const packages = new Set<number>();
  let fromSysfs = true;
  for (const id of online) {
    const pkg = readIntAttrIfExists(`${dir}/cpu${id}/topology/physical_package_id`);
    const core = readIntAttrIfExists(`${dir}/cpu${id}/topology/core_id`);
    if (pkg === undefined || core === undefined) {
      fromSysfs = false;
      break;
    }
    packageOf[id] = pkg;
    packages.add(pkg);
    const key = `${pkg}:${core}`;
    let idx = coreKey.get(key);
    if (idx === undefined) {
      idx = coreKey.size;
      coreKey.set(key, idx);
    }
    coreOf[id] = idx;
  }
  if (!fromSysfs) {
    packageOf.fill(-1);
    coreOf.fill(-1);
    online.forEach((id, i) => {
      packageOf[id] = 0;
      coreOf[id] = i;
    });
  }
  const hotpluggable = dirs.filter((id) => id !== 0 && existsSync(`${dir}/cpu${id}/online`));
  return {
    online,
    possible,
    packageOf,
    coreOf,
    coreCount: fromSysfs ? coreKey.size : online.length,
    packageCount: fromSysfs ? packages.size : 1,
    fromSysfs,
    hotpluggable,
  };
}
