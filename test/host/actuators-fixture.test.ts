import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HostPaths } from '../../controller/sensors/host-paths.js';
import { loadHostProfile } from '../../controller/sensors/host-profile.js';
import { PowerModel } from '../../controller/sensors/power-model.js';
import { discoverRapl } from '../../controller/sensors/rapl.js';
import { RaplLimitActuator } from '../../controller/actuators/rapl-limit.js';
import { CgroupCpuQuotaActuator, EmulatedPowerCapActuator } from '../../controller/actuators/cgroup-quota.js';
import { HotplugCoresActuator } from '../../controller/actuators/hotplug.js';
import { CpufreqActuator } from '../../controller/actuators/cpufreq.js';
import { choosePowerCap } from '../../controller/actuators/power-cap.js';
import { detectCgroup } from '../../controller/actuators/cgroup-detect.js';
import { ActuatorRangeError, ActuatorUnavailableError } from '../../controller/actuators/types.js';
import { copyFixture, readIn, removeFixture, writeIn } from './helpers/fixture.js';

const PKG = (s: number) => `sys/devices/virtual/powercap/intel-rapl/intel-rapl:${s}`;

async function withFixture<T>(name: Parameters<typeof copyFixture>[0], fn: (root: string, paths: HostPaths) => Promise<T>): Promise<T> {
  const root = copyFixture(name);
  try {
    return await fn(root, new HostPaths(root));
  } finally {
    removeFixture(root);
  }
}

async function vmModel(logicalCpus: number): Promise<PowerModel> {
  const p = (await loadHostProfile('intel-xeon-platinum-8380')).profile;
  return new PowerModel(p, { logicalCpus, coreOf: Int32Array.from({ length: logicalCpus }, (_, i) => i), coreCount: logicalCpus });
}

test('RAPL limit: splits the cap over packages, dry-run writes nothing, restore puts values back', () =>
  withFixture('intel-2s-dram', async (root, paths) => {
    const dry = new RaplLimitActuator({ paths, dryRun: true, timeWindowUs: 500000 });
    assert.equal(dry.capability().available, true);
    const plan = await dry.apply(300);
    assert.equal(plan.dryRun, true);
    assert.deepEqual(
      plan.changes.map((c) => [c.target.slice(root.length + 1), c.from, c.to]),
      [
        [`${PKG(0)}/constraint_0_time_window_us`, '999424', '500000'],
        [`${PKG(0)}/constraint_0_power_limit_uw`, '270000000', '150000000'],
        [`${PKG(1)}/constraint_0_time_window_us`, '999424', '500000'],
        [`${PKG(1)}/constraint_0_power_limit_uw`, '270000000', '150000000'],
      ],
    );
    assert.equal(readIn(root, `${PKG(0)}/constraint_0_power_limit_uw`), '270000000');

    const a = new RaplLimitActuator({ paths, timeWindowUs: 500000 });
    await a.apply(300);
    await a.apply(200); // a second apply must still restore to the values before the first
    assert.equal(readIn(root, `${PKG(0)}/constraint_0_power_limit_uw`), '100000000');
    assert.equal(readIn(root, `${PKG(1)}/constraint_0_time_window_us`), '500000');
    assert.equal(readIn(root, `${PKG(0)}/intel-rapl:0:0/constraint_0_power_limit_uw`), '0', 'DRAM limits untouched');
    await a.restore();
    for (const s of [0, 1]) {
      assert.equal(readIn(root, `${PKG(s)}/constraint_0_power_limit_uw`), '270000000');
      assert.equal(readIn(root, `${PKG(s)}/constraint_0_time_window_us`), '999424');
    }
    await assert.rejects(a.apply(600), (e: unknown) => e instanceof ActuatorRangeError && /maximum of 270 W/.test(e.message));
    await assert.rejects(a.apply(-1), ActuatorRangeError);
  }));

test('RAPL limit: a disabled zone is enabled for the cap and disabled again on restore', () =>
  withFixture('intel-1s-wrap', async (root, paths) => {
    writeIn(root, `${PKG(0)}/enabled`, '0\n');
    const a = new RaplLimitActuator({ paths });
    await a.apply(40);
    assert.equal(readIn(root, `${PKG(0)}/enabled`), '1');
    assert.equal(readIn(root, `${PKG(0)}/constraint_0_power_limit_uw`), '40000000');
    a.restoreSync();
    assert.equal(readIn(root, `${PKG(0)}/enabled`), '0');
    assert.equal(readIn(root, `${PKG(0)}/constraint_0_power_limit_uw`), '65000000');
  }));

test('AMD: no limit files, so the cap goes through the cgroup quota', () =>
  withFixture('amd-epyc-nolimit', async (root, paths) => {
    const rapl = new RaplLimitActuator({ paths });
    assert.equal(rapl.capability().available, false);
    assert.match(rapl.capability().reason, /no power-limit/);
    await assert.rejects(rapl.apply(100), ActuatorUnavailableError);
    const model = await vmModel(32);
    const choice = choosePowerCap({ paths, rapl: discoverRapl(paths), cgroup: detectCgroup(paths), model, freqFactor: () => 1 });
    assert.equal(choice.actuator.kind, 'cgroup-quota');
    assert.deepEqual(
      choice.considered.map((c) => [c.kind, c.available]),
      [
        ['rapl', false],
        ['cgroup-quota', true],
      ],
    );
    const W = model.idleWatts + 2.5 * model.coreWatts;
    await choice.actuator.apply(W);
    assert.equal(readIn(root, 'sys/fs/cgroup/cpu,cpuacct/verdant/cpu.cfs_quota_us'), '250000');
    choice.actuator.restoreSync();
    assert.equal(readIn(root, 'sys/fs/cgroup/cpu,cpuacct/verdant/cpu.cfs_quota_us'), '-1');
  }));

test('cgroup v2: cpu.max carries quota and period; limits and edges of the emulated cap', () =>
  withFixture('intel-hotplug-cpufreq', async (root, paths) => {
    const q = new CgroupCpuQuotaActuator({ paths });
    await q.apply(1.5);
    assert.equal(readIn(root, 'sys/fs/cgroup/verdant/cpu.max'), '150000 100000');
    await q.apply(null);
    assert.equal(readIn(root, 'sys/fs/cgroup/verdant/cpu.max'), 'max 100000');
    q.restoreSync();
    assert.equal(readIn(root, 'sys/fs/cgroup/verdant/cpu.max'), 'max 100000');

    const model = await vmModel(4);
    const cap = new EmulatedPowerCapActuator({ paths, model, freqFactor: () => 1 });
    const caps = cap.capability();
    assert.equal(caps.available, true);
    await assert.rejects(cap.apply(model.idleWatts), (e: unknown) => e instanceof ActuatorRangeError && /idle power/.test(e.message));
    const out = await cap.apply(model.maxWatts() + 1);
    assert.match(out.summary, /no CPU limit/);
    assert.equal(readIn(root, 'sys/fs/cgroup/verdant/cpu.max'), 'max 100000');
    await cap.apply(model.idleWatts + model.coreWatts * 0.25);
    assert.equal(readIn(root, 'sys/fs/cgroup/verdant/cpu.max'), '25000 100000');
    // Higher frequency -> each CPU of quota costs more power -> less quota for the same cap.
    const fast = new EmulatedPowerCapActuator({ paths, model, freqFactor: () => 2 });
    await fast.apply(model.idleWatts + model.coreWatts * 0.5);
    assert.equal(readIn(root, 'sys/fs/cgroup/verdant/cpu.max'), '25000 100000');
    fast.restoreSync();
    cap.restoreSync();
    assert.equal(readIn(root, 'sys/fs/cgroup/verdant/cpu.max'), 'max 100000');
  }));

test('cgroup v2 dry-run plans enabling the cpu controller and creating the group', () =>
  withFixture('intel-hotplug-cpufreq', async (root, paths) => {
    writeIn(root, 'sys/fs/cgroup/cgroup.subtree_control', 'memory pids\n');
    const q = new CgroupCpuQuotaActuator({ paths, group: 'verdant-new', dryRun: true });
    const out = await q.apply(0.5);
    assert.deepEqual(
      out.changes.map((c) => [c.target.slice(root.length + 1), c.from, c.to]),
      [
        ['sys/fs/cgroup/cgroup.subtree_control', 'memory pids', 'memory pids cpu'],
        ['sys/fs/cgroup/verdant-new', 'absent', 'created'],
        ['sys/fs/cgroup/verdant-new/cpu.max', 'absent', '50000 100000'],
      ],
    );
    assert.equal(readIn(root, 'sys/fs/cgroup/cgroup.subtree_control'), 'memory pids');
    assert.throws(() => new CgroupCpuQuotaActuator({ paths, group: '../escape' }), ActuatorRangeError);
  }));

test('hotplug: opt-in only, never cpu0, online before offline, restore', () =>
  withFixture('intel-hotplug-cpufreq', async (root, paths) => {
    const off = new HotplugCoresActuator({ paths, optIn: false });
    assert.equal(off.capability().available, false);
    assert.match(off.capability().reason, /opt-in/);
    await assert.rejects(off.apply([0]), ActuatorUnavailableError);

    const dry = await new HotplugCoresActuator({ paths, optIn: true, dryRun: true }).apply([0, 1]);
    assert.equal(dry.changes.length, 2, 'dry-run plans taking cpu2 and cpu3 offline');
    for (const c of [1, 2, 3]) assert.equal(readIn(root, `sys/devices/system/cpu/cpu${c}/online`), '1', 'dry-run writes nothing');

    const h = new HotplugCoresActuator({ paths, optIn: true });
    await assert.rejects(h.apply([1, 2, 3]), (e: unknown) => e instanceof ActuatorRangeError && /cpu0 is never taken offline/.test(e.message));
    await assert.rejects(h.apply([]), ActuatorRangeError);
    await assert.rejects(h.apply([0, 9]), (e: unknown) => e instanceof ActuatorRangeError && /do not exist/.test(e.message));
    const out = await h.apply([0, 1]);
    assert.deepEqual(
      out.changes.map((c) => [c.target.slice(root.length + 1), c.to]),
      [
        ['sys/devices/system/cpu/cpu3/online', '0'],
        ['sys/devices/system/cpu/cpu2/online', '0'],
      ],
    );
    assert.equal(out.changes.some((c) => c.target.includes('cpu0/')), false);
    h.restoreSync();
    for (const c of [1, 2, 3]) assert.equal(readIn(root, `sys/devices/system/cpu/cpu${c}/online`), '1');
  }));

test('hotplug: refuses to take the last online CPU offline', () =>
  withFixture('intel-hotplug-cpufreq', async (root, paths) => {
    // A machine where cpu0 is already offline (possible where cpu0 is hotpluggable) and only
    // cpu3 is online; asking for cpu2 instead must not offline cpu3 while the kernel still reports
    // it as the only online CPU.
    writeIn(root, 'sys/devices/system/cpu/online', '3\n');
    writeIn(root, 'sys/devices/system/cpu/cpu2/online', '0\n');
    const h = new HotplugCoresActuator({ paths, optIn: true });
    await assert.rejects(h.apply([2]), (e: unknown) => e instanceof ActuatorRangeError && /last online CPU/.test(e.message));
    h.restoreSync(); // undo the partial apply (cpu2 was brought online first)
    assert.equal(readIn(root, 'sys/devices/system/cpu/cpu2/online'), '0');
    assert.equal(readIn(root, 'sys/devices/system/cpu/cpu3/online'), '1');
  }));

test('cpufreq: governor and max frequency on every policy, validated, restored', () =>
  withFixture('intel-hotplug-cpufreq', async (root, paths) => {
    const f = new CpufreqActuator({ paths });
    assert.equal(f.capability().available, true);
    await assert.rejects(f.apply({ governor: 'schedutil' }), (e: unknown) => e instanceof ActuatorRangeError && /performance, powersave/.test(e.message));
    await assert.rejects(f.apply({ maxKHz: 5000000 }), (e: unknown) => e instanceof ActuatorRangeError && /hardware maximum/.test(e.message));
    await assert.rejects(f.apply({ maxKHz: 700000 }), ActuatorRangeError);
    await assert.rejects(f.apply({}), ActuatorRangeError);
    const dry = await new CpufreqActuator({ paths, dryRun: true }).apply({ governor: 'performance' });
    assert.equal(dry.changes.length, 4);
    assert.equal(readIn(root, 'sys/devices/system/cpu/cpufreq/policy0/scaling_governor'), 'powersave');
    await f.apply({ governor: 'performance', maxKHz: 2000000 });
    for (let p = 0; p < 4; p++) {
      assert.equal(readIn(root, `sys/devices/system/cpu/cpufreq/policy${p}/scaling_governor`), 'performance');
      assert.equal(readIn(root, `sys/devices/system/cpu/cpufreq/policy${p}/scaling_max_freq`), '2000000');
    }
    await f.restore();
    for (let p = 0; p < 4; p++) {
      assert.equal(readIn(root, `sys/devices/system/cpu/cpufreq/policy${p}/scaling_governor`), 'powersave');
      assert.equal(readIn(root, `sys/devices/system/cpu/cpufreq/policy${p}/scaling_max_freq`), '4600000');
    }
    const none = copyFixture('intel-2s-dram');
    try {
      const g = new CpufreqActuator({ paths: new HostPaths(none) });
      assert.equal(g.capability().available, false);
      await assert.rejects(g.apply({ governor: 'performance' }), ActuatorUnavailableError);
    } finally {
      removeFixture(none);
    }
  }));

test('power cap choice: RAPL where limits exist, nothing where neither RAPL limits nor cgroups exist', () =>
  withFixture('intel-1s-wrap', async (_root, paths) => {
    const model = await vmModel(12);
    const c = choosePowerCap({ paths, rapl: discoverRapl(paths), cgroup: detectCgroup(paths), model });
    assert.equal(c.actuator.kind, 'rapl');
    assert.throws(
      () => choosePowerCap({ paths, rapl: discoverRapl(paths), cgroup: detectCgroup(paths), model, prefer: 'cgroup-quota' }),
      (e: unknown) => e instanceof ActuatorUnavailableError && /cgroup-quota: .*sys\/fs\/cgroup does not exist/.test(e.message),
    );
  }));
