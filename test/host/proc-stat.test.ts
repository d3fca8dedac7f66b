import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { CpuLoadSensor, ProcStatParser } from '../../controller/sensors/proc-stat.js';
import { parseCpuList } from '../../controller/sensors/sysfs.js';
import { copyFixture, removeFixture, readIn, writeIn } from './helpers/fixture.js';

/** A deliberately simple reference parser (split on whitespace) to check the byte parser against. */
function referenceParse(text: string): Map<number, { busy: number; idle: number; steal: number }> {
  const out = new Map<number, { busy: number; idle: number; steal: number }>();
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    const m = /^cpu(\d+)$/.exec(f[0] ?? '');
    if (!m) continue;
    const v = f.slice(1).map(Number);
    while (v.length < 10) v.push(0);
    out.set(Number(m[1]), { busy: v[0]! + v[1]! + v[2]! + v[5]! + v[6]!, idle: v[3]! + v[4]!, steal: v[7]! });
  }
  return out;
}

function checkAgainstReference(text: string): void {
  const buf = Buffer.from(text);
  const p = new ProcStatParser();
  const end = p.parse(buf, buf.length);
  assert.ok(end > 0, 'parser must find the end of the cpu block');
  const ref = referenceParse(text);
  for (const [id, r] of ref) {
    assert.equal(p.present[id], 1, `cpu${id} present`);
    assert.equal(p.counters[id * 3], r.busy, `cpu${id} busy`);
    assert.equal(p.counters[id * 3 + 1], r.idle, `cpu${id} idle`);
    assert.equal(p.counters[id * 3 + 2], r.steal, `cpu${id} steal`);
  }
  assert.equal(p.maxId, Math.max(...ref.keys()));
}

test('byte parser agrees with a reference parser on this machine\'s real /proc/stat', () => {
  checkAgainstReference(readFileSync('/proc/stat', 'utf8'));
});

test('byte parser agrees with a reference parser on random /proc/stat contents', () => {
  fc.assert(
    fc.property(
      fc.array(fc.array(fc.nat({ max: 2 ** 40 }), { minLength: 10, maxLength: 10 }), { minLength: 1, maxLength: 40 }),
      fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
      (rows, present) => {
        const ids = rows.map((_, i) => i).filter((i) => present[i] || i === 0);
        let text = 'cpu  1 2 3 4 5 6 7 8 9 10\n';
        for (const id of ids) text += `cpu${id} ${rows[id]!.join(' ')}\n`;
        text += 'intr 1 2 3\nctxt 5\n';
        checkAgainstReference(text);
      },
    ),
    { numRuns: 200 },
  );
});

test('utilisation comes from counter deltas: busy, idle+iowait and steal', () => {
  const root = copyFixture('intel-hotplug-cpufreq');
  try {
    let now = 1000;
    const s = new CpuLoadSensor(`${root}/proc/stat`, { clock: () => now });
    const base = readIn(root, 'proc/stat').split('\n');
    const rows = base.filter((l) => /^cpu\d/.test(l)).map((l) => l.split(/\s+/).slice(1).map(Number));
    // cpu0: +30 user, +70 idle -> 0.3; cpu1: +50 system, +25 iowait, +25 steal -> busy 0.5, steal 0.25;
    // cpu2: nothing moved -> keeps its last value (0 at first); cpu3: +100 softirq -> 1.0.
    const add = [
      [30, 0, 0, 70, 0, 0, 0, 0, 0, 0],
      [0, 0, 50, 0, 25, 0, 0, 25, 0, 0],
      [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      [0, 0, 0, 0, 0, 0, 100, 0, 0, 0],
    ];
    const next = rows.map((r, i) => r.map((v, j) => v + add[i]![j]!));
    const others = base.filter((l) => !/^cpu/.test(l));
    writeIn(root, 'proc/stat', [base[0], ...next.map((r, i) => `cpu${i} ${r.join(' ')}`), ...others].join('\n'));
    now = 2000;
    const x = s.sample();
    assert.equal(x.intervalMs, 1000);
    assert.deepEqual([...x.online], [0, 1, 2, 3]);
    assert.deepEqual([...x.perCpu], [0.3, 0.5, 0, 1]);
    assert.equal(x.busyCpus, 1.8);
    assert.equal(x.util, 1.8 / 4);
    assert.equal(x.steal, 0.25 / 4);

    // cpu2 goes offline (its line disappears): NaN and out of the online list.
    const next2 = next.map((r) => r.map((v, j) => v + (j === 0 ? 10 : j === 3 ? 10 : 0)));
    writeIn(root, 'proc/stat', [base[0], ...next2.map((r, i) => (i === 2 ? null : `cpu${i} ${r.join(' ')}`)).filter(Boolean), ...others].join('\n'));
    now = 3000;
    const y = s.sample();
    assert.deepEqual([...y.online], [0, 1, 3]);
    assert.ok(Number.isNaN(y.perCpu[2]!));
    assert.deepEqual([y.perCpu[0], y.perCpu[1], y.perCpu[3]], [0.5, 0.5, 0.5]);
    s.close();
  } finally {
    removeFixture(root);
  }
});

test('real /proc/stat: online CPUs match sysfs and our own CPU time shows up as busy time', () => {
  const s = new CpuLoadSensor('/proc/stat');
  const online = parseCpuList(readFileSync('/sys/devices/system/cpu/online', 'utf8'));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let x = 0;
  while (performance.now() - t0 < 400) x += Math.sqrt(x + 1);
  const used = process.cpuUsage(cpu0);
  const r = s.sample();
  s.close();
  assert.ok(x > 0);
  assert.deepEqual([...r.online], online);
  for (const id of r.online) assert.ok(r.perCpu[id]! >= 0 && r.perCpu[id]! <= 1, `cpu${id} util ${r.perCpu[id]} in [0,1]`);
  // The machine's busy time over the interval includes the ~400 ms this process just burned
  // (jiffies are 10 ms; allow for accounting granularity and steal).
  const ourCpuMs = (used.user + used.system) / 1000;
  const busyMs = r.busyCpus * r.intervalMs;
  assert.ok(busyMs >= ourCpuMs * 0.5, `busy ${busyMs.toFixed(0)} ms must cover our own ${ourCpuMs.toFixed(0)} ms of CPU`);
});
