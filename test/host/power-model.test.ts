import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { ConfigError } from '../../runtime/common/config-error.js';
import { defaultProfilesDir, loadAllHostProfiles, loadHostProfile, parseHostProfile, selectHostProfile, type HostProfile } from '../../controller/sensors/host-profile.js';
import { ModelPowerSource, PowerModel } from '../../controller/sensors/power-model.js';
import type { CpuLoadSample } from '../../controller/sensors/proc-stat.js';

const close = (a: number, b: number, eps = 1e-9) => assert.ok(Math.abs(a - b) < eps, `${a} != ${b}`);

async function p8380(): Promise<HostProfile> {
  return (await loadHostProfile('intel-xeon-platinum-8380')).profile;
}

/** Two sockets of 40 cores, SMT2, numbered like Linux does: cpu c and cpu c+80 share a core. */
function twoSocketShape() {
  const coreOf = new Int32Array(160);
  for (let i = 0; i < 160; i++) coreOf[i] = i % 80;
  return { logicalCpus: 160, coreOf, coreCount: 80 };
}

test('every shipped host profile validates and cites a source for every power coefficient', async () => {
  const all = await loadAllHostProfiles();
  assert.ok(all.length >= 1);
  for (const { profile, file } of all) {
    const cited = new Set(profile.sources.flatMap((s) => s.fields));
    for (const f of ['power.idleWattsPerSocket', 'power.loadWattsPerSocket', 'power.freqExponent']) assert.ok(cited.has(f), `${file}: ${f} has no source`);
  }
  assert.equal(all.filter((p) => p.profile.fallback).length, 1, 'exactly one fallback profile');
});

test('model: idle and full-load power of the profiled machine reproduce the profile figures', async () => {
  const p = await p8380();
  const m = new PowerModel(p, twoSocketShape());
  close(m.idleWatts, 2 * 27);
  close(m.coreWatts, (270 - 27) / 40);
  const util = new Float64Array(160);
  close(m.watts(util), 54);
  util.fill(1);
  close(m.watts(util), 2 * 270);
  close(m.maxWatts(), 540);
});

test('model: SMT siblings share one core; frequency scales the dynamic part; a cap bounds it', async () => {
  const p = await p8380();
  const m = new PowerModel(p, twoSocketShape());
  const util = new Float64Array(160);
  util[0] = 1;
  const one = m.watts(util);
  util[80] = 1; // the sibling thread of cpu0
  close(m.watts(util), one);
  util[1] = 0.5; // half of another core
  close(m.watts(util), 54 + 1.5 * m.coreWatts);
  const freq = new Float64Array(160).fill(2300 / 2);
  close(m.watts(util, freq), 54 + 1.5 * m.coreWatts * 0.25);
  close(m.watts(util, null, 55), 55);
  close(m.watts(util, null, 10), 54, 1e-9); // a cap below idle cannot push power under idle
  // Offline CPUs (NaN) draw nothing beyond the idle part.
  util.fill(NaN);
  close(m.watts(util), 54);
});

test('model: a VM gets its share of the socket idle power; cpusForWatts inverts the model', async () => {
  const p = await p8380();
  const m = new PowerModel(p, { logicalCpus: 2, coreOf: Int32Array.from([0, 1]), coreCount: 2 });
  close(m.idleWatts, (27 * 2) / 80);
  const util = Float64Array.from([0.7, 0.6]);
  const w = m.watts(util);
  close(m.cpusForWatts(w), 1.3);
  close(m.cpusForWatts(w, 2), 0.65);
  assert.ok(m.cpusForWatts(0.1) < 0, 'below idle there is no CPU budget');
});

test('model source integrates watts into joules and labels every reading', async () => {
  const p = await p8380();
  const m = new PowerModel(p, { logicalCpus: 2, coreOf: Int32Array.from([0, 1]), coreCount: 2 });
  const src = new ModelPowerSource(m, { profileName: p.name, matched: false, fallbackReason: 'test' });
  const sample = (u: number, intervalMs: number): CpuLoadSample => ({ atMs: 0, intervalMs, online: [0, 1], perCpu: Float64Array.from([u, u]), busyCpus: 2 * u, util: u, steal: 0 });
  const a = src.readFrom(sample(1, 1000), null);
  const b = src.readFrom(sample(0, 500), null);
  assert.equal(a.source, 'model');
  assert.deepEqual(a.model, { profile: 'intel-xeon-platinum-8380', matched: false });
  assert.equal(a.fallbackReason, 'test');
  close(b.joules, a.watts * 1 + b.watts * 0.5);
});

test('profile selection: matched by CPU model, fallback otherwise, explicit wins', async () => {
  const m = await selectHostProfile('Intel(R) Xeon(R) Platinum 8380 CPU @ 2.30GHz');
  assert.equal(m.how, 'matched');
  assert.equal(m.matched, true);
  const h = await selectHostProfile('Intel(R) Xeon(R) Platinum 8380H CPU @ 2.90GHz');
  assert.equal(h.how, 'fallback', 'the Cooper Lake 8380H is a different CPU');
  assert.equal(h.matched, false);
  const vm = await selectHostProfile('Intel(R) Xeon(R) Processor');
  assert.equal(vm.how, 'fallback');
  const e = await selectHostProfile('anything', { explicit: join(defaultProfilesDir(), 'intel-xeon-platinum-8380.yaml') });
  assert.equal(e.how, 'explicit');
  await assert.rejects(selectHostProfile('x', { explicit: 'no-such-profile' }), (err: unknown) => err instanceof ConfigError && err.fieldPath === 'hostProfile');
});

test('profile validation names the offending field', async () => {
  const good = YAML.parse(readFileSync(join(defaultProfilesDir(), 'intel-xeon-platinum-8380.yaml'), 'utf8')) as Record<string, any>;
  const cases: [string, (d: any) => void][] = [
    ['power.idleWattsPerSocket', (d) => delete d.power.idleWattsPerSocket],
    ['power.loadWattsPerSocket', (d) => (d.power.loadWattsPerSocket = 10)],
    ['cpu.match[0]', (d) => (d.cpu.match = ['(unclosed'])],
    ['cpu.coresPerSocket', (d) => (d.cpu.coresPerSocket = 0)],
    ['cpu.turbo', (d) => (d.cpu.turbo = 1)],
    ['sources[0].url', (d) => (d.sources[0].url = 'not a url')],
    ['name', (d) => (d.name = 'Bad Name')],
  ];
  for (const [path, mutate] of cases) {
    const d = structuredClone(good);
    mutate(d);
    await assert.rejects(parseHostProfile(YAML.stringify(d), 'x.yaml'), (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.equal(err.fieldPath, path);
      assert.match(err.message, /^x\.yaml: /);
      return true;
    });
  }
  await assert.rejects(parseHostProfile('a: [', 'y.yaml'), (err: unknown) => err instanceof ConfigError && /YAML/.test(err.message));
  const dir = mkdtempSync(join(tmpdir(), 'verdant-host-prof-'));
  try {
    writeFileSync(join(dir, 'p.yaml'), YAML.stringify(good));
    const ok = await loadHostProfile(join(dir, 'p.yaml'));
    assert.equal(ok.profile.name, 'intel-xeon-platinum-8380');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
