// The emulated power cap on this machine's real cgroups (v1 here; v2 paths are the same code with
// cpu.max): a busy child is moved into a fresh group with a small quota, the kernel throttles it
// (cpu.stat nr_throttled grows), and restore moves it back and removes the group.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HostPaths } from '../../controller/sensors/host-paths.js';
import { HostSensors } from '../../controller/sensors/host-sensors.js';
import { detectCgroup, cgroupOfPid } from '../../controller/actuators/cgroup-detect.js';
import { CgroupCpuQuotaActuator, EmulatedPowerCapActuator } from '../../controller/actuators/cgroup-quota.js';
import { isRoot } from './helpers/fixture.js';

const paths = new HostPaths('/');
const info = detectCgroup(paths);
const usable = isRoot && info.version !== null;

function throttled(dir: string): number {
  const s = readFileSync(join(dir, 'cpu.stat'), 'utf8');
  const m = /^nr_throttled (\d+)$/m.exec(s);
  return Number(m![1]);
}

async function withBusyChild(fn: (pid: number) => Promise<void>): Promise<void> {
  const child = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 200));
    await fn(child.pid!);
  } finally {
    child.kill('SIGKILL');
  }
}

test('this machine has a cgroup cpu controller and we are root', () => {
  assert.ok(usable, `cgroup: ${info.reason}; root: ${isRoot}`);
});

test('cgroup quota: a busy child is throttled in a new group, then moved back and the group removed', { skip: !usable && 'no cgroup cpu controller or not root' }, () =>
  withBusyChild(async (pid) => {
    const group = `verdant-test-${process.pid}-q`;
    const before = cgroupOfPid(paths, info, pid);
    const q = new CgroupCpuQuotaActuator({ paths, info, group, pids: [pid] });
    const dir = q.groupDir;
    assert.equal(existsSync(dir), false);
    try {
      await q.apply(0.1);
      assert.equal(existsSync(dir), true);
      const quotaFile = info.version === 2 ? 'cpu.max' : 'cpu.cfs_quota_us';
      assert.equal(readFileSync(join(dir, quotaFile), 'utf8').trim(), info.version === 2 ? '10000 100000' : '10000');
      assert.equal(cgroupOfPid(paths, info, pid), `/${group}`);
      assert.ok(readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').includes(String(pid)));
      // The kernel enforces it: a CPU-bound process at 10% of a CPU gets throttled every period.
      const deadline = Date.now() + 10000;
      while (throttled(dir) < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      assert.ok(throttled(dir) >= 3, `nr_throttled ${throttled(dir)}`);
    } finally {
      await q.restore();
    }
    assert.equal(existsSync(dir), false, 'group removed');
    assert.equal(cgroupOfPid(paths, info, pid), before, 'child moved back');
  }));

test('emulated power cap: watts become a quota through this host\'s power model', { skip: !usable && 'no cgroup cpu controller or not root' }, () =>
  withBusyChild(async (pid) => {
    const sensors = await HostSensors.open({ systeminformation: false });
    const model = sensors.model;
    sensors.close();
    const group = `verdant-test-${process.pid}-w`;
    const cap = new EmulatedPowerCapActuator({ paths, info, group, pids: [pid], model });
    const watts = model.idleWatts + 0.2 * model.coreWatts;
    try {
      const out = await cap.apply(watts);
      assert.match(out.summary, /0\.200 CPUs/);
      const dir = cap.quota.groupDir;
      const quotaFile = info.version === 2 ? 'cpu.max' : 'cpu.cfs_quota_us';
      assert.equal(readFileSync(join(dir, quotaFile), 'utf8').trim().split(' ')[0], '20000');
    } finally {
      cap.restoreSync();
    }
    assert.equal(existsSync(cap.quota.groupDir), false);
  }));
