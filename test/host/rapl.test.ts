import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostPaths } from '../../controller/sensors/host-paths.js';
import { RaplPowerSource, discoverRapl, energyDeltaUj, parseZoneId } from '../../controller/sensors/rapl.js';
import { SysfsError } from '../../controller/sensors/sysfs.js';
import { NOBODY_UID, copyFixture, isRoot, removeFixture, repoRoot, writeIn } from './helpers/fixture.js';

const PKG_RANGE = 262143328850;

test('zone ids are hexadecimal', () => {
  assert.deepEqual(parseZoneId('intel-rapl:0'), [0]);
  assert.deepEqual(parseZoneId('intel-rapl:a'), [10]);
  assert.deepEqual(parseZoneId('intel-rapl:1f:2'), [31, 2]);
  assert.equal(parseZoneId('intel-rapl-mmio:0'), undefined);
  assert.equal(parseZoneId('intel-rapl'), undefined);
  assert.equal(parseZoneId('intel-rapl:0:'), undefined);
});

test('a 16-socket tree: zones sorted by hex index and all packages counted', () => {
  const root = mkdtempSync(join(tmpdir(), 'verdant-host-16s-'));
  try {
    const v = join(root, 'sys/devices/virtual/powercap/intel-rapl');
    const c = join(root, 'sys/class/powercap');
    mkdirSync(c, { recursive: true });
    for (let s = 0; s < 16; s++) {
      const id = `intel-rapl:${s.toString(16)}`;
      mkdirSync(join(v, id), { recursive: true });
      writeFileSync(join(v, id, 'name'), `package-${s}\n`);
      writeFileSync(join(v, id, 'energy_uj'), `${1000 * s}\n`);
      writeFileSync(join(v, id, 'max_energy_range_uj'), `${PKG_RANGE}\n`);
      symlinkSync(`../../devices/virtual/powercap/intel-rapl/${id}`, join(c, id));
    }
    const inv = discoverRapl(new HostPaths(root));
    assert.deepEqual(
      inv.zones.map((z) => z.index[0]),
      Array.from({ length: 16 }, (_, i) => i),
    );
    assert.equal(inv.zones.find((z) => z.id === 'intel-rapl:a')!.name, 'package-10');
    assert.equal(inv.counted.length, 16);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('two-socket Intel server: packages and DRAM are counted, limits are read', () => {
  const root = copyFixture('intel-2s-dram');
  try {
    const inv = discoverRapl(new HostPaths(root));
    assert.equal(inv.present, true);
    assert.equal(inv.readable, true, String(inv.error));
    assert.deepEqual(inv.counted, ['intel-rapl:0', 'intel-rapl:1', 'intel-rapl:0:0', 'intel-rapl:1:0']);
    const pkg0 = inv.zones.find((z) => z.id === 'intel-rapl:0')!;
    assert.equal(pkg0.kind, 'package');
    assert.equal(pkg0.maxEnergyRangeUj, PKG_RANGE);
    assert.equal(pkg0.constraints.length, 2);
    assert.equal(pkg0.constraints[0]!.name, 'long_term');
    assert.equal(pkg0.constraints[0]!.powerLimitUw, 270000000);
    assert.equal(pkg0.constraints[0]!.timeWindowUs, 999424);
    assert.equal(pkg0.constraints[0]!.maxPowerUw, 270000000);
    const dram1 = inv.zones.find((z) => z.id === 'intel-rapl:1:0')!;
    assert.equal(dram1.kind, 'dram');
    assert.equal(dram1.parent, 'intel-rapl:1');
    assert.equal(dram1.maxEnergyRangeUj, 65712999613);
  } finally {
    removeFixture(root);
  }
});

test('client platform: core/uncore/psys are not summed, intel-rapl-mmio is ignored', () => {
  const root = copyFixture('intel-1s-wrap');
  try {
    const inv = discoverRapl(new HostPaths(root));
    assert.deepEqual(inv.counted, ['intel-rapl:0']);
    const kinds = Object.fromEntries(inv.zones.map((z) => [z.id, `${z.kind}:${z.counted}`]));
    assert.deepEqual(kinds, { 'intel-rapl:0': 'package:true', 'intel-rapl:0:0': 'core:false', 'intel-rapl:0:1': 'uncore:false', 'intel-rapl:1': 'psys:false' });
    assert.deepEqual(
      inv.ignored.map((i) => i.id),
      ['intel-rapl-mmio:0'],
    );
    assert.match(inv.ignored[0]!.reason, /duplicat/);
  } finally {
    removeFixture(root);
  }
});

test('AMD: energy counters without any limit files', () => {
  const root = copyFixture('amd-epyc-nolimit');
  try {
    const inv = discoverRapl(new HostPaths(root));
    assert.equal(inv.readable, true);
    assert.deepEqual(inv.counted, ['intel-rapl:0']);
    for (const z of inv.zones) assert.deepEqual(z.constraints, []);
  } finally {
    removeFixture(root);
  }
});

test('energy deltas across a wraparound use max_energy_range_uj', () => {
  assert.equal(energyDeltaUj(100, 250, PKG_RANGE), 150);
  assert.equal(energyDeltaUj(PKG_RANGE - 1_500_000, 2_000_000, PKG_RANGE), 3_500_000);
  assert.equal(energyDeltaUj(5, 3, undefined), 3);
});

test('RAPL source: watts and joules through a wraparound in progress', () => {
  const root = copyFixture('intel-1s-wrap');
  try {
    const inv = discoverRapl(new HostPaths(root));
    let now = 0;
    const src = new RaplPowerSource(
      inv.zones.filter((z) => z.counted),
      { clock: () => now },
    );
    const pkg = 'sys/devices/virtual/powercap/intel-rapl/intel-rapl:0/energy_uj';
    // 1.0 J in the next second, still below the top of the range.
    writeIn(root, pkg, String(PKG_RANGE - 500_000));
    now = 1000;
    let r = src.read();
    assert.equal(r.source, 'rapl');
    assert.equal(r.watts, 1);
    assert.equal(r.joules, 1);
    // The counter wraps: 0.5 J up to the top, then 2.5 J from zero, in half a second = 6 W.
    writeIn(root, pkg, '2500000');
    now = 1500;
    r = src.read();
    assert.equal(r.watts, 6);
    assert.equal(r.joules, 4);
    assert.deepEqual(r.zones!.map((z) => [z.id, z.name]), [['intel-rapl:0', 'package-0']]);
    src.close();
  } finally {
    removeFixture(root);
  }
});

test('RAPL source: package + DRAM of two sockets are summed', () => {
  const root = copyFixture('intel-2s-dram');
  try {
    const inv = discoverRapl(new HostPaths(root));
    let now = 0;
    const zones = inv.zones.filter((z) => z.counted);
    const src = new RaplPowerSource(zones, { clock: () => now });
    const watts: Record<string, number> = { 'intel-rapl:0': 150, 'intel-rapl:1': 120, 'intel-rapl:0:0': 20, 'intel-rapl:1:0': 15 };
    for (const z of zones) {
      const rel = z.dir.slice(root.length + 1) + '/energy_uj';
      const before = Number(readFileSync(join(root, rel), 'utf8').trim());
      writeIn(root, rel, String(before + watts[z.id]! * 2 * 1e6));
    }
    now = 2000;
    const r = src.read();
    assert.equal(r.watts, 305);
    assert.equal(r.joules, 610);
    src.close();
  } finally {
    removeFixture(root);
  }
});

// energy_uj is 0400 root since Linux 5.10. We run as root, which bypasses file modes, so the
// unprivileged reader is a real child process running as uid 65534 ("nobody"): the kernel
// itself refuses the open with EACCES. Without root, the test makes the files 000 and reads them
// in-process, which fails the same way.
test('root-only energy_uj: an unprivileged reader gets EACCES and is told why', () => {
  const root = copyFixture('intel-2s-dram');
  try {
    const helper = join(repoRoot, 'dist/test/host/helpers/read-rapl.js');
    if (isRoot) {
      const run = () => {
        const r = spawnSync(process.execPath, [helper, root], { uid: NOBODY_UID, gid: NOBODY_UID, encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
        return JSON.parse(r.stdout) as { uid: number; readable: boolean; error: string; zones: { id: string; readable: boolean; error?: string }[] };
      };
      const denied = run();
      assert.equal(denied.uid, NOBODY_UID);
      assert.equal(denied.readable, false);
      assert.match(denied.error, /EACCES/);
      assert.match(denied.error, /energy_uj/);
      assert.match(denied.error, /Linux 5\.10/);
      for (const z of denied.zones) assert.equal(z.readable, false);
      // Control: the same tree with pre-5.10 modes (0444) is readable by the same user.
      const inv = discoverRapl(new HostPaths(root));
      for (const z of inv.zones) chmodSync(join(z.dir, 'energy_uj'), 0o444);
      const allowed = run();
      assert.equal(allowed.readable, true, allowed.error);
    } else {
      const inv = discoverRapl(new HostPaths(root));
      for (const z of inv.zones) chmodSync(join(z.dir, 'energy_uj'), 0o000);
      const denied = discoverRapl(new HostPaths(root));
      assert.equal(denied.readable, false);
      assert.match(String(denied.error), /EACCES/);
      assert.throws(() => new RaplPowerSource(inv.zones.filter((z) => z.counted)), (e: unknown) => e instanceof SysfsError && e.code === 'EACCES' && /5\.10/.test(e.message));
    }
  } finally {
    removeFixture(root);
  }
});
