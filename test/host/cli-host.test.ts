// `verdant host ...` as real child processes, on fixture trees and on this machine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, startCli } from './helpers/cli.js';
import { NOBODY_UID, copyFixture, isRoot, readIn, removeFixture, repoRoot, writeIn } from './helpers/fixture.js';
import { detectCgroup, cgroupOfPid } from '../../controller/actuators/cgroup-detect.js';
import { HostPaths } from '../../controller/sensors/host-paths.js';

const LIMIT0 = 'sys/devices/virtual/powercap/intel-rapl/intel-rapl:0/constraint_0_power_limit_uw';
const LIMIT1 = 'sys/devices/virtual/powercap/intel-rapl/intel-rapl:1/constraint_0_power_limit_uw';

async function withFixture(name: Parameters<typeof copyFixture>[0], fn: (root: string) => Promise<void>): Promise<void> {
  const root = copyFixture(name);
  try {
    await fn(root);
  } finally {
    removeFixture(root);
  }
}

test('probe --json on the two-socket fixture: zones, limits and a measured reading', () =>
  withFixture('intel-2s-dram', async (root) => {
    const r = await runCli(['host', 'probe', '--json', '--sysfs-root', root, '--interval', '50']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.capabilities.power.source, 'rapl');
    assert.equal(j.reading.power.source, 'rapl');
    assert.deepEqual(j.capabilities.rapl.counted, ['intel-rapl:0', 'intel-rapl:1', 'intel-rapl:0:0', 'intel-rapl:1:0']);
    assert.equal(j.capabilities.rapl.zones[0].limits[0].powerLimitW, 270);
    assert.equal(Object.keys(j.reading.load.perCpu).length, 160);
  }));

test('probe (text) names the source, the ignored MMIO zone and the profile on the client fixture', () =>
  withFixture('intel-1s-wrap', async (root) => {
    const r = await runCli(['host', 'probe', '--sysfs-root', root, '--interval', '50']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /source=rapl/);
    assert.match(r.stdout, /intel-rapl-mmio:0\s+ignored: MMIO/);
    assert.match(r.stdout, /intel-rapl:0:0\s+core\s+not summed/);
    assert.match(r.stdout, /cgroup\s+.*does not exist/);
  }));

test('probe on this machine: modelled or measured, always labelled', async () => {
  const r = await runCli(['host', 'probe', '--json', '--interval', '100']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.ok(['rapl', 'model'].includes(j.reading.power.source));
  assert.equal(j.reading.power.source, j.capabilities.power.source);
  if (j.reading.power.source === 'model') assert.equal(j.reading.power.model.profile, j.capabilities.power.profile.name);
  assert.equal(j.capabilities.inventory.via, 'cpuinfo+systeminformation');
  assert.equal(j.capabilities.pinning.available, true);
});

test('power prints one labelled line per interval and stops on --count', () =>
  withFixture('intel-hotplug-cpufreq', async (root) => {
    const r = await runCli(['host', 'power', '--interval', '50', '--count', '3', '--sysfs-root', root]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0]!, /^# no RAPL/);
    assert.equal(lines.length, 4);
    for (const l of lines.slice(1)) assert.match(l, /^\S+Z watts=\d+\.\d\d joules=\d+\.\d\d source=model\(profile=intel-xeon-platinum-8380, not matched to this CPU\)$/);
  }));

test('power runs until Ctrl-C (SIGINT) and exits cleanly; --json lines carry the source', async () => {
  const live = startCli(['host', 'power', '--interval', '100', '--json']);
  await live.waitFor(/\n.*\n/);
  live.child.kill('SIGINT');
  const r = await live.exited;
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(lines.length >= 2);
  for (const l of lines) {
    assert.ok(['rapl', 'model'].includes(l.source));
    assert.equal(typeof l.watts, 'number');
    assert.equal(typeof l.joules, 'number');
  }
});

test('an unprivileged user on a root-only energy_uj tree: EACCES is reported and power falls back to the model', { skip: !isRoot && 'needs root to run a child as another user' }, () =>
  withFixture('intel-2s-dram', async (root) => {
    const asNobody = { uid: NOBODY_UID, gid: NOBODY_UID };
    const probe = await runCli(['host', 'probe', '--sysfs-root', root, '--interval', '50'], asNobody);
    assert.equal(probe.code, 0, probe.stderr);
    assert.match(probe.stdout, /rapl\s+present, NOT readable: cannot open .*energy_uj: EACCES.*root since Linux 5\.10/);
    assert.match(probe.stdout, /source=model/);
    const power = await runCli(['host', 'power', '--interval', '50', '--count', '1', '--json', '--sysfs-root', root], asNobody);
    assert.equal(power.code, 0, power.stderr);
    const line = JSON.parse(power.stdout.trim());
    assert.equal(line.source, 'model');
    // The RAPL limits are readable although energy is not: the model is capped by their sum.
    assert.deepEqual(line.model, { profile: 'intel-xeon-platinum-8380', matched: true, capWatts: 540 });
    assert.match(line.fallbackReason, /EACCES/);
    writeIn(root, LIMIT0, '10000000');
    writeIn(root, LIMIT1, '15000000');
    const capped = await runCli(['host', 'power', '--interval', '50', '--count', '1', '--json', '--sysfs-root', root], asNobody);
    assert.equal(capped.code, 0, capped.stderr);
    assert.equal(JSON.parse(capped.stdout.trim()).model.capWatts, 25, 'the limits in force are read at sampling time');
  }));

test('bad input exits 2 and names the field: profile, watts, interval', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'verdant-host-badprof-'));
  try {
    const good = readFileSync(join(repoRoot, 'profiles/hosts/intel-xeon-platinum-8380.yaml'), 'utf8');
    writeFileSync(join(dir, 'bad.yaml'), good.replace('freqExponent: 2', 'freqExponent: nine'));
    const r = await runCli(['host', 'power', '--count', '1', '--host-profile', join(dir, 'bad.yaml')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /bad\.yaml: power\.freqExponent: /);
    const u = await runCli(['host', 'probe', '--host-profile', 'no-such-profile']);
    assert.equal(u.code, 2);
    assert.match(u.stderr, /hostProfile: unknown host profile "no-such-profile"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const w = await runCli(['host', 'cap', '--watts', 'lots', '--dry-run']);
  assert.equal(w.code, 2);
  assert.match(w.stderr, /watts: must be a positive number/);
  const i = await runCli(['host', 'power', '--interval', '0']);
  assert.equal(i.code, 2);
  assert.match(i.stderr, /interval: /);
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`cap on the two-socket fixture holds the RAPL limit until ${signal}, then restores it`, () =>
    withFixture('intel-2s-dram', async (root) => {
      const live = startCli(['host', 'cap', '--watts', '300', '--sysfs-root', root]);
      await live.waitFor('cap applied');
      assert.match(live.stdout(), /actuator=rapl set RAPL long-term limit to 150\.00 W on each of 2 package\(s\)/);
      assert.equal(readIn(root, LIMIT0), '150000000');
      assert.equal(readIn(root, LIMIT1), '150000000');
      live.child.kill(signal);
      const r = await live.exited;
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`restored rapl-power-limit \\(received ${signal}\\)`));
      assert.equal(readIn(root, LIMIT0), '270000000');
      assert.equal(readIn(root, LIMIT1), '270000000');
    }));
}

test('cap: a value RAPL rejects exits 2 and leaves the limits alone', () =>
  withFixture('intel-2s-dram', async (root) => {
    const r = await runCli(['host', 'cap', '--watts', '1000', '--sysfs-root', root]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /watts: 1000 W is 500\.0 W per package, above intel-rapl:0's maximum of 270 W/);
    assert.equal(readIn(root, LIMIT0), '270000000');
  }));

test('cap --dry-run on AMD picks the cgroup quota (no RAPL limit files) and writes nothing', () =>
  withFixture('amd-epyc-nolimit', async (root) => {
    const r = await runCli(['host', 'cap', '--watts', '40', '--dry-run', '--sysfs-root', root]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /# rapl: unavailable \(RAPL zones have no power-limit/);
    assert.match(r.stdout, /actuator=cgroup-quota would limit cgroup .*verdant to [\d.]+ CPUs/);
    assert.equal(readIn(root, 'sys/fs/cgroup/cpu,cpuacct/verdant/cpu.cfs_quota_us'), '-1');
  }));

test('cap --dry-run maps watts to CPUs with the current frequency, as probe models it (cpufreq fixture)', () =>
  withFixture('intel-hotplug-cpufreq', async (root) => {
    const p = await runCli(['host', 'probe', '--json', '--sysfs-root', root, '--interval', '50']);
    assert.equal(p.code, 0, p.stderr);
    const model = JSON.parse(p.stdout).capabilities.model as { idleWatts: number; maxWatts: number };
    const cores = 4;
    const watts = 20;
    // The model is linear in busy cores: what one core costs at the current frequency.
    const expected = (watts - model.idleWatts) / ((model.maxWatts - model.idleWatts) / cores);
    const r = await runCli(['host', 'cap', '--watts', String(watts), '--dry-run', '--actuator', 'cgroup-quota', '--sysfs-root', root]);
    assert.equal(r.code, 0, r.stderr);
    const cpus = Number(/would limit cgroup .* to ([\d.]+) CPUs/.exec(r.stdout)?.[1]);
    assert.ok(Math.abs(cpus - expected) < 0.01, `${cpus} CPUs, expected ${expected.toFixed(3)} (${r.stdout})`);
    assert.match(r.stdout, /frequency factor/);
  }));

test('cap on this machine\'s real cgroups: a busy process is capped until SIGTERM, then released', { skip: !isRoot && 'needs root' }, async () => {
  const paths = new HostPaths('/');
  const info = detectCgroup(paths);
  assert.notEqual(info.version, null, info.reason);
  const busy = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
  const group = `verdant-test-cli-${process.pid}`;
  try {
    const probe = JSON.parse((await runCli(['host', 'probe', '--json', '--interval', '50'])).stdout);
    const { idleWatts, coreWatts } = probe.capabilities.model;
    const watts = (idleWatts + 0.3 * coreWatts).toFixed(4);
    const before = cgroupOfPid(paths, info, busy.pid!);
    const dry = await runCli(['host', 'cap', '--watts', watts, '--dry-run', '--pid', String(busy.pid), '--cgroup', group]);
    assert.equal(dry.code, 0, dry.stderr);
    const dir = join(info.cpuRoot!, group);
    assert.equal(existsSync(dir), false, 'dry run creates nothing');
    const live = startCli(['host', 'cap', '--watts', watts, '--pid', String(busy.pid), '--cgroup', group]);
    await live.waitFor('cap applied');
    assert.match(live.stdout(), /actuator=cgroup-quota limited cgroup .* to 0\.300 CPUs/);
    const quota = readFileSync(join(dir, info.version === 2 ? 'cpu.max' : 'cpu.cfs_quota_us'), 'utf8').trim().split(' ')[0];
    assert.equal(quota, '30000');
    assert.equal(cgroupOfPid(paths, info, busy.pid!), `/${group}`);
    live.child.kill('SIGTERM');
    const r = await live.exited;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /restored emulated-power-cap/);
    assert.equal(existsSync(dir), false, 'group removed');
    assert.equal(cgroupOfPid(paths, info, busy.pid!), before, 'process moved back');
  } finally {
    busy.kill('SIGKILL');
  }
});
