import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../runtime/common/config-error.js';
import { loadProfile, parseProfile, shippedProfilesDir } from '../../bench/loadgen/profile/load.js';
import { rateAt } from '../../bench/loadgen/rate-curve.js';
import { parseTrace } from '../../bench/loadgen/profile/trace.js';

const BASE = `
phases:
  - { type: constant, duration: 10, rate: 100 }
operations: { read: 1 }
keys: { count: 100 }
values: { size: 10 }
`;

/** Parses BASE with `patch` applied as YAML text replacing or appending top-level keys. */
function withDoc(doc: string): ReturnType<typeof parseProfile> {
  return parseProfile(doc, { baseDir: tmp });
}

const tmp = mkdtempSync(join(tmpdir(), 'verdant-profile-test-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

function expectField(doc: string, fieldPath: string, messagePart?: RegExp): void {
  assert.throws(
    () => withDoc(doc),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
      assert.equal(err.fieldPath, fieldPath, `field path for: ${err.message}`);
      if (messagePart) assert.match(err.message, messagePart);
      return true;
    },
  );
}

function replaceLine(key: string, line: string): string {
  const lines = BASE.trim().split('\n');
  const i = lines.findIndex((l) => l.startsWith(`${key}:`));
  if (i >= 0) lines[i] = line;
  else lines.push(line);
  return lines.join('\n') + '\n';
}

function phases(...ph: string[]): string {
  const lines = BASE.trim().split('\n').filter((l) => !l.startsWith('phases:') && !l.startsWith('  - '));
  return ['phases:', ...ph.map((p) => `  - ${p}`), ...lines].join('\n') + '\n';
}

test('every shipped profile parses, and the required ones exist', () => {
  const dir = shippedProfilesDir();
  const names = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
  for (const required of ['diurnal', 'step', 'spike', 'ycsb-a', 'ycsb-b', 'ycsb-c', 'ycsb-d', 'ycsb-e', 'ycsb-f', 'replay']) {
    assert.ok(names.includes(`${required}.yaml`), `${required}.yaml is shipped`);
  }
  for (const n of names) {
    const p = loadProfile(join(dir, n));
    assert.ok(p.duration > 0, `${n} has a duration`);
    assert.ok(p.phases.length > 0);
  }
});

test('diurnal goes from 10% to 100% of target_rate and back over one period', () => {
  const p = loadProfile('diurnal');
  const target = 2000;
  assert.equal(Math.round(rateAt(p.phases, 0)), 0.1 * target);
  assert.equal(Math.round(rateAt(p.phases, p.duration / 2)), target);
  assert.ok(Math.abs(rateAt(p.phases, p.duration - 1e-6) - 0.1 * target) < 1);
  // --duration compresses the day; --rate-scale and --target-rate move the levels.
  const q = loadProfile('diurnal', { duration: 60, rateScale: 2, targetRate: 1000 });
  assert.equal(q.duration, 60);
  assert.equal(Math.round(rateAt(q.phases, 30)), 2000);
  assert.equal(Math.round(rateAt(q.phases, 0)), 200);
});

test('phase shapes: step, ramp, spike, replay', () => {
  const step = withDoc(phases('{ type: step, levels: [10, 20, 30], hold: 5 }'));
  assert.equal(step.duration, 15);
  assert.deepEqual([2, 7, 12].map((t) => rateAt(step.phases, t)), [10, 20, 30]);
  const ramp = withDoc(phases('{ type: ramp, duration: 10, from: 0, to: 100 }', '{ type: constant, duration: 5, rate: 7 }'));
  assert.equal(rateAt(ramp.phases, 5), 50);
  assert.equal(rateAt(ramp.phases, 12), 7);
  assert.equal(rateAt(ramp.phases, 99), 0);
  const spike = withDoc(phases('{ type: spike, duration: 20, base: 10, peak: 500, at: 5s, length: 2s }'));
  assert.deepEqual([4.9, 5, 6.9, 7].map((t) => rateAt(spike.phases, t)), [10, 500, 500, 10]);
  writeFileSync(join(tmp, 't.csv'), 'timestamp,rate\n100,10\n110,30\n130,0\n');
  const rep = withDoc(phases('{ type: replay, file: t.csv, interpolate: linear }'));
  assert.equal(rep.duration, 30);
  assert.equal(rateAt(rep.phases, 5), 20);
  const stepRep = withDoc(phases('{ type: replay, file: t.csv, time_scale: 0.5, rate_scale: 2 }'));
  assert.equal(stepRep.duration, 15);
  assert.equal(rateAt(stepRep.phases, 4), 20);
  assert.equal(rateAt(stepRep.phases, 6), 60);
});

test('trace timestamps may be ISO 8601; extra columns are ignored', () => {
  const t = parseTrace('rate,host,timestamp\n5,a,2024-01-01T00:00:00Z\n6,b,2024-01-01T00:01:00Z\n', 'x.csv');
  assert.deepEqual(t.times, [0, 60]);
  assert.deepEqual(t.rates, [5, 6]);
});

test('durations accept seconds and unit strings', () => {
  const p = withDoc(phases('{ type: constant, duration: "1.5m", rate: 1 }', '{ type: constant, duration: 250ms, rate: 1 }'));
  assert.equal(p.duration, 90.25);
});

test('defaults are filled in', () => {
  const p = withDoc(BASE);
  assert.equal(p.seed, 1);
  assert.deepEqual(p.consistency, { linearizable: 1, stale: 0 });
  assert.equal(p.concurrency.workers, 1);
  assert.equal(p.timeoutMs, 10_000);
  assert.equal(p.keys.distribution, 'uniform');
  assert.equal(p.preload, 0);
});

// Every error path names the field.
const errorCases: Array<[string, string, string, RegExp?]> = [
  ['YAML syntax', 'phases: [\n', '', /YAML syntax error at line/],
  ['not a mapping', '- 1\n- 2\n', '', /mapping/],
  ['unknown top-level key', BASE + 'bogus: 1\n', 'bogus', /unknown key/],
  ['missing phases', BASE.replace(/phases:\n.*\n/, ''), 'phases'],
  ['empty phases', replaceLine('phases', 'phases: []').replace(/\n  - .*\n/, '\n'), 'phases', /at least one phase/],
  ['unknown phase type', phases('{ type: wobble, duration: 1 }'), 'phases[0].type'],
  ['missing duration', phases('{ type: constant, rate: 1 }'), 'phases[0].duration', /required/],
  ['bad duration string', phases('{ type: constant, duration: 5 minutes, rate: 1 }'), 'phases[0].duration', /duration/],
  ['zero duration', phases('{ type: constant, duration: 0, rate: 1 }'), 'phases[0].duration', /positive/],
  ['negative rate', phases('{ type: constant, duration: 1, rate: -5 }'), 'phases[0].rate', />= 0/],
  ['bad rate string', phases('{ type: constant, duration: 1, rate: fast }'), 'phases[0].rate'],
  ['percent without target_rate', phases('{ type: constant, duration: 1, rate: 50% }'), 'phases[0].rate', /target_rate/],
  ['percent in a step level', phases('{ type: step, levels: [1, 50%], hold: 1 }'), 'phases[0].levels[1]', /target_rate/],
  ['empty step levels', phases('{ type: step, levels: [], hold: 1 }'), 'phases[0].levels'],
  ['unknown key in a phase', phases('{ type: ramp, duration: 1, from: 1, to: 2, slope: 3 }'), 'phases[0].slope', /unknown key/],
  ['sine min above max', phases('{ type: sine, duration: 10, period: 10, min: 50, max: 10 }'), 'phases[0].max', /min/],
  ['sine shift out of range', phases('{ type: sine, duration: 10, period: 10, min: 1, max: 10, shift: 1.5 }'), 'phases[0].shift'],
  ['spike past the phase', phases('{ type: spike, duration: 10, base: 1, peak: 9, at: 8, length: 5 }'), 'phases[0].length', /within/],
  ['replay file missing', phases('{ type: replay, file: nope.csv }'), 'phases[0].file', /cannot read/],
  ['all phases at rate 0', phases('{ type: constant, duration: 1, rate: 0 }'), 'phases', /nothing would be sent/],
  ['second phase bad', phases('{ type: constant, duration: 1, rate: 1 }', '{ type: ramp, duration: 1, from: 1 }'), 'phases[1].to', /required/],
  ['target_rate not positive', BASE + 'target_rate: 0\n', 'target_rate'],
  ['negative op weight', replaceLine('operations', 'operations: { read: -1, write: 1 }'), 'operations.read'],
  ['unknown operation', replaceLine('operations', 'operations: { read: 1, upsert: 1 }'), 'operations.upsert', /unknown key/],
  ['all op weights zero', replaceLine('operations', 'operations: { read: 0 }'), 'operations', /at least one operation/],
  ['missing operations', replaceLine('operations', ''), 'operations'],
  ['key count zero', replaceLine('keys', 'keys: { count: 0 }'), 'keys.count'],
  ['key count fractional', replaceLine('keys', 'keys: { count: 1.5 }'), 'keys.count'],
  ['bad key distribution', replaceLine('keys', 'keys: { count: 10, distribution: pareto }'), 'keys.distribution'],
  ['theta out of range', replaceLine('keys', 'keys: { count: 10, distribution: zipfian, theta: 1.2 }'), 'keys.theta'],
  ['theta with uniform', replaceLine('keys', 'keys: { count: 10, theta: 0.5 }'), 'keys.theta', /not uniform/],
  ['constant value without size', replaceLine('values', 'values: { distribution: constant }'), 'values.size', /required/],
  ['uniform values without max', replaceLine('values', 'values: { distribution: uniform, min: 1 }'), 'values.max', /required/],
  ['uniform values min above max', replaceLine('values', 'values: { distribution: uniform, min: 10, max: 5 }'), 'values.max', /min/],
  ['size with uniform', replaceLine('values', 'values: { distribution: uniform, min: 1, max: 5, size: 3 }'), 'values.size', /not used/],
  ['weighted without sizes', replaceLine('values', 'values: { distribution: weighted }'), 'values.sizes', /required/],
  ['weighted all zero', replaceLine('values', 'values: { distribution: weighted, sizes: [{ bytes: 1, weight: 0 }] }'), 'values.sizes', /weight/],
  ['weighted entry bad', replaceLine('values', 'values: { distribution: weighted, sizes: [{ bytes: -1, weight: 1 }] }'), 'values.sizes[0].bytes'],
  ['value too big', replaceLine('values', 'values: { size: 999999999 }'), 'values.size'],
  ['consistency all zero', BASE + 'consistency: { linearizable: 0, stale: 0 }\n', 'consistency', /> 0/],
  ['consistency unknown', BASE + 'consistency: { sequential: 1 }\n', 'consistency.sequential', /unknown key/],
  ['max_in_flight zero', BASE + 'concurrency: { max_in_flight: 0 }\n', 'concurrency.max_in_flight'],
  ['workers zero', BASE + 'concurrency: { workers: 0 }\n', 'concurrency.workers'],
  ['connections not integer', BASE + 'concurrency: { connections: 1.5 }\n', 'concurrency.connections'],
  ['scan lengths reversed', BASE + 'scan: { min_length: 10, max_length: 5 }\n', 'scan.max_length', /min_length/],
  ['scan longer than key space', replaceLine('operations', 'operations: { scan: 1 }') + 'scan: { max_length: 1000 }\n', 'scan.max_length', /keys.count/],
  ['preload above key count', BASE + 'preload: 1000\n', 'preload', /keys.count/],
  ['preload bad word', BASE + 'preload: some\n', 'preload'],
  ['seed negative', BASE + 'seed: -1\n', 'seed'],
  ['timeout bad', BASE + 'timeout: soon\n', 'timeout', /duration/],
];

for (const [name, doc, field, msg] of errorCases) {
  test(`invalid profile: ${name} -> ${field || '(document)'}`, () => expectField(doc, field, msg));
}

test('bad traces name the file field and the line', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /empty trace/],
    ['time,value\n1,2\n', /header must name/],
    ['timestamp,rate\n0,5\n', /at least two rows/],
    ['timestamp,rate\n0,5\nlater,6\n', /:3: bad timestamp/],
    ['timestamp,rate\n0,5\n1,-6\n', /:3: bad rate/],
    ['timestamp,rate\n0,5\n1,\n', /:3: bad rate/],
    ['timestamp,rate\n5,5\n5,6\n', /:3: timestamp 5 does not increase/],
    ['timestamp,rate\n0\n', /:2: expected 2 columns/],
  ];
  cases.forEach(([csv, re], i) => {
    const f = `bad${i}.csv`;
    writeFileSync(join(tmp, f), csv);
    expectField(phases(`{ type: replay, file: ${f} }`), 'phases[0].file', re);
  });
});

test('command-line overrides are validated', () => {
  for (const [k, field] of [['rateScale', '--rate-scale'], ['duration', '--duration'], ['targetRate', '--target-rate']] as const) {
    assert.throws(
      () => parseProfile(BASE, { [k]: 0 }),
      (e: unknown) => e instanceof ConfigError && e.fieldPath === field,
    );
  }
});

test('a missing profile file is a ConfigError naming the file', () => {
  assert.throws(
    () => loadProfile(join(tmp, 'nope.yaml')),
    (e: unknown) => e instanceof ConfigError && e.file === join(tmp, 'nope.yaml') && /cannot read profile/.test(e.message),
  );
});
