// Every sysfs, procfs and cgroupfs path the controller touches hangs off one root, so the same
// code runs against the live machine ('/') and against fixture trees shaped like real machines.
import { join, resolve } from 'node:path';

export class HostPaths {
  readonly root: string;
  constructor(root = '/') {
    this.root = resolve(root);
  }
  /** `rel` is written as on the live machine without the leading slash: 'sys/class/powercap'. */
  at(...rel: string[]): string {
    return join(this.root, ...rel);
  }
  /** True when the root is the live machine, where syscalls and paths describe the same kernel. */
  get isLive(): boolean {
    return this.root === '/';
  }
  get cpuDir(): string {
    return this.at('sys/devices/system/cpu');
  }
  get powercapDir(): string {
    return this.at('sys/class/powercap');
  }
  get procStat(): string {
    return this.at('proc/stat');
  }
}
