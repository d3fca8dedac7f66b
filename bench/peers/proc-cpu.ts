// CPU time of other processes from /proc/<pid>/stat (utime + stime), in seconds. Used to charge a
// server's CPU to the operations it completed; the load generator's own CPU comes from
// process.cpuUsage() instead.
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let clockTicks: number | undefined;

/** Kernel clock ticks per second (USER_HZ), the unit of utime/stime. */
export function clockTicksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100; // USER_HZ is 100 on every Linux architecture Node supports
    }
  }
  return clockTicks;
}

/** utime + stime of one process in seconds, or undefined if it has exited. */
export function processCpuSeconds(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may contain spaces and parentheses: parse after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) {
    throw new Error(`cannot parse /proc/${pid}/stat`);
  }
  return (utime + stime) / clockTicksPerSecond();
}

/** Sum of CPU seconds over processes; throws if one of them has exited (its time would be lost). */
export function totalCpuSeconds(pids: readonly number[]): number {
  let sum = 0;
  for (const pid of pids) {
    const s = processCpuSeconds(pid);
    if (s === undefined) throw new Error(`server process ${pid} has exited; its CPU time cannot be read`);
    sum += s;
  }
  return sum;
}
