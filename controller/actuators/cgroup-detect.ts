// Which cgroup version controls CPU time here, and where its hierarchy is mounted.
//   v2 (unified): <root>/sys/fs/cgroup/cgroup.controllers lists "cpu"
//   v1: <root>/sys/fs/cgroup/cpu (often a link to cpu,cpuacct) has cpu.cfs_quota_us
//   hybrid: v1 controllers plus a v2 tree at sys/fs/cgroup/unified (used only if it has "cpu")
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import type { HostPaths } from '../sensors/host-paths.js';
import { readAttrIfExists } from '../sensors/sysfs.js';

export interface CgroupInfo {
  version: 1 | 2 | null;
  /** Directory of the root of the hierarchy that has the cpu controller. */
  cpuRoot: string | null;
  reason: string;
}

function hasCpuController(file: string): boolean {
  const s = readAttrIfExists(file);
  return s !== undefined && s.split(/\s+/).includes('cpu');
}

export function detectCgroup(paths: HostPaths): CgroupInfo {
  const fs = paths.at('sys/fs/cgroup');
  if (hasCpuController(join(fs, 'cgroup.controllers'))) return { version: 2, cpuRoot: fs, reason: 'cgroup v2 unified hierarchy with the cpu controller' };
  for (const name of ['cpu', 'cpu,cpuacct']) {
    const d = join(fs, name);
    if (existsSync(join(d, 'cpu.cfs_quota_us'))) return { version: 1, cpuRoot: realpathSync(d), reason: `cgroup v1 cpu controller at ${d}` };
  }
  const unified = join(fs, 'unified');
  if (hasCpuController(join(unified, 'cgroup.controllers'))) return { version: 2, cpuRoot: unified, reason: 'cgroup v2 (hybrid, sys/fs/cgroup/unified) with the cpu controller' };
  return { version: null, cpuRoot: null, reason: existsSync(fs) ? `no cpu controller under ${fs}` : `${fs} does not exist` };
}

/** The cgroup path (relative to the cpu hierarchy root) that holds `pid`, from /proc/<pid>/cgroup. */
export function cgroupOfPid(paths: HostPaths, info: CgroupInfo, pid: number): string | undefined {
  let text: string;
  try {
    text = readFileSync(paths.at(`proc/${pid}/cgroup`), 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    if (info.version === 2 && m[1] === '0' && m[2] === '') return m[3]!;
    if (info.version === 1 && m[2]!.split(',').includes('cpu')) return m[3]!;
  }
  return undefined;
}
