import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { HostSensors } from '../../controller/sensors/host-sensors.js';
import { parseCpuList } from '../../controller/sensors/sysfs.js';
import { copyFixture, readIn, removeFixture, writeIn } from './helpers/fixture.js';

function bumpStat(root: string, perCpu: (id: number) => [number, number]): void {
  const lines = readIn(root, 'proc/stat').split('\n');
  const out = lines.map((l) => {
    const m = /^cpu(\d+) (.*)$/.exec(l);
    if (!m) return l;
    const v = m[2]!.split(' ').map(Number);
    const [busy, idle] = perCpu(Number(m[1]));
    v[0]! += busy;
    v[3]! += idle;
    return `cpu${m[1]} ${v.join(' ')}`;
  });
  writeIn(root, 'proc/stat', out.join('\n') + '\n');
}

test('two-socket Intel fixture: measured power, matched profile, capabilities', async () => {
  const root = copyFixture('intel-2s-dram');
  let now = 0;
  const s = await HostSensors.open({ root, clock: () => now });
  try {
    assert.equal(s.powerSource, 'rapl');
    const caps = s.capabilities();
    assert.equal(caps.inventory.cpuModel, 'Intel(R) Xeon(R) Platinum 8380 CPU @ 2.30GHz');
    assert.equal(caps.inventory.via, 'cpuinfo');
    assert.deepEqual(caps.power.profile && [caps.power.profile.name, caps.power.profile.how], ['intel-xeon-platinum-8380', 'matched']);
    assert.deepEqual([caps.cpus.online.length, caps.cpus.cores, caps.cpus.packages], [160, 80, 2]);
    assert.equal(caps.cgroup.version, 1);
    assert.equal(caps.pinning.available, false, 'affinity is live-only');
    assert.equal(caps.cpufreq.available, false);
    assert.equal(caps.hotplug.cpus.length, 159);
    const pkg = 'sys/devices/virtual/powercap/intel-rapl/intel-rapl:0/energy_uj';
    writeIn(root, pkg, String(Number(readIn(root, pkg)) + 100e6));
    bumpStat(root, (id) => (id < 40 ? [100, 0] : [0, 100]));
    now = 1000;
    const x = s.sample();
    assert.equal(x.power.source, 'rapl');
    assert.equal(x.power.watts, 100);
    assert.equal(x.load.busyCpus, 40);
    assert.equal(x.freqMHz, null);
    // The model stays available for predictions even when RAPL measures.
    assert.ok(Math.abs(s.model.watts(x.load.perCpu) - (54 + 40 * s.model.coreWatts)) < 1e-9);
  } finally {
    s.close();
    removeFixture(root);
  }
});

test('hotplug + cpufreq fixture: modelled power uses current frequencies and follows hotplug', async () => {
  const root = copyFixture('intel-hotplug-cpufreq');
  let now = 0;
  const s = await HostSensors.open({ root, clock: () => now });
  try {
    assert.equal(s.powerSource, 'model');
    assert.match(s.powerReason, /no RAPL/);
    const caps = s.capabilities();
    assert.equal(caps.power.profile!.how, 'fallback');
    assert.equal(caps.cpufreq.driver, 'intel_pstate');
    assert.deepEqual(caps.hotplug.cpus, [1, 2, 3]);
    assert.equal(caps.cgroup.version, 2);
    bumpStat(root, () => [50, 50]);
    now = 1000;
    const x = s.sample();
    assert.equal(x.power.source, 'model');
    assert.deepEqual(x.power.model, { profile: 'intel-xeon-platinum-8380', matched: false });
    assert.deepEqual([...x.freqMHz!], [3400, 3100, 2800, 2500]);
    const m = s.model;
    const expect = m.idleWatts + 0.5 * m.coreWatts * [3400, 3100, 2800, 2500].reduce((a, f) => a + (f / 2300) ** 2, 0);
    assert.ok(Math.abs(x.power.watts - expect) < 1e-9, `${x.power.watts} vs ${expect}`);
    assert.ok(Math.abs(x.power.joules - expect) < 1e-9);
    // cpu3 goes offline: its line leaves /proc/stat and the online list.
    const lines = readIn(root, 'proc/stat').split('\n').filter((l) => !l.startsWith('cpu3 '));
    writeIn(root, 'proc/stat', lines.join('\n') + '\n');
    writeIn(root, 'sys/devices/system/cpu/online', '0-2\n');
    now = 2000;
    const y = s.sample();
    assert.deepEqual([...y.load.online], [0, 1, 2]);
    assert.equal(s.topology.online.length, 3);
    assert.ok(Math.abs(s.model.idleWatts - (27 * 3) / 80) < 1e-12);
  } finally {
    s.close();
    removeFixture(root);
  }
});

test('AMD fixture: measured power from the package counter only', async () => {
  const root = copyFixture('amd-epyc-nolimit');
  let now = 0;
  const s = await HostSensors.open({ root, clock: () => now });
  try {
    assert.equal(s.powerSource, 'rapl');
    const core = 'sys/devices/virtual/powercap/intel-rapl/intel-rapl:0/intel-rapl:0:0/energy_uj';
    const pkg = 'sys/devices/virtual/powercap/intel-rapl/intel-rapl:0/energy_uj';
    writeIn(root, pkg, String(Number(readIn(root, pkg)) + 80e6));
    writeIn(root, core, String(Number(readIn(root, core)) + 60e6));
    now = 1000;
    assert.equal(s.sample().power.watts, 80, 'the core subzone is inside the package and must not be added');
  } finally {
    s.close();
    removeFixture(root);
  }
});

test('forcing the model on a RAPL machine, and asking for RAPL where there is none', async () => {
  const root = copyFixture('intel-2s-dram');
  try {
    const s = await HostSensors.open({ root, power: 'model' });
    assert.equal(s.sample().power.source, 'model');
    s.close();
  } finally {
    removeFixture(root);
  }
  const root2 = copyFixture('intel-hotplug-cpufreq');
  try {
    await assert.rejects(HostSensors.open({ root: root2, power: 'rapl' }), /RAPL requested but unavailable/);
  } finally {
    removeFixture(root2);
  }
});

test('this machine: real /proc/stat, sysfs topology and cgroups; the source is labelled', async () => {
  const s = await HostSensors.open({ systeminformation: false });
  try {
    const online = parseCpuList(readFileSync('/sys/devices/system/cpu/online', 'utf8'));
    const caps = s.capabilities();
    assert.deepEqual(caps.cpus.online, online);
    assert.equal(caps.pinning.available, true);
    assert.ok(caps.cgroup.version === 1 || caps.cgroup.version === 2);
    await new Promise((r) => setTimeout(r, 200));
    const x = s.sample();
    assert.ok(x.power.source === 'rapl' || x.power.source === 'model');
    assert.equal(x.power.source, s.powerSource);
    assert.ok(x.power.watts > 0 && Number.isFinite(x.power.watts));
    assert.ok(x.power.joules > 0);
    assert.ok(x.intervalMs >= 150);
  } finally {
    s.close();
  }
});
