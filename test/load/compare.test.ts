// `verdant bench compare --peer etcd` as a user runs it: a real 3-member etcd and a real 3-replica
// verdant cluster, one after the other, with tiny step durations and two short profiles.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProfileComparison, ProfileSide } from '../../bench/compare/profiles.js';
import { lastJson, verdant } from './cli-helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'verdant-compare-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

// etcd refuses requests over 1.5 MiB (--max-request-bytes); verdant takes values up to 16 MiB.
// So etcd cannot do this profile's writes, and compare must say so rather than average them away.
const BIG = `name: big-values
phases: [{ type: constant, duration: 2, rate: 8 }]
operations: { read: 1, write: 1 }
keys: { count: 20, prefix: 'big/' }
values: { size: 1700000 }
`;

function checkSide(name: string, s: ProfileSide, planned: number): void {
  const at = (k: string) => `${name}.${k} = ${JSON.stringify((s as unknown as Record<string, unknown>)[k])}`;
  // Arrivals come from the profile alone: Poisson around the planned count (5 sigma, plus slack).
  assert.ok(Math.abs(s.offered - planned) < 5 * Math.sqrt(planned) + 10, `${name}: offered ${s.offered}, planned ${planned}`);
  assert.equal(s.errors, 0, `${name}: ${JSON.stringify(s.errors_by_code)}`);
  assert.deepEqual(s.unsupported_ops, []);
  assert.equal(s.ok + s.abandoned, s.offered, `${name}: every arrival answered or abandoned`);
  assert.ok(s.ok > 0.9 * s.offered, at('ok'));
  assert.ok(s.achieved_rate > 0 && s.offered_rate > 0, at('achieved_rate'));
  assert.ok(s.p50_ms > 0 && s.p99_ms >= s.p50_ms && s.max_ms >= s.p99_ms, `${name}: p50 ${s.p50_ms} p99 ${s.p99_ms} max ${s.max_ms}`);
  assert.ok(s.server_cpu_s_per_op! > 0 && s.server_cpu_s_per_op! < 0.1, at('server_cpu_s_per_op'));
  assert.ok(s.client_cpu_s_per_op! > 0 && s.client_cpu_s_per_op! < 0.1, at('client_cpu_s_per_op'));
  // ycsb-b is 95% reads, 5% updates.
  const reads = s.by_op.read?.count ?? 0;
  const writes = s.by_op.write?.count ?? 0;
  assert.equal(reads + writes, s.ok);
  assert.ok(reads > 10 * writes && writes > 0, `${name}: reads ${reads} writes ${writes}`);
}

test('bench compare runs the probe and every profile on both systems, side by side', { timeout: 180_000 }, () => {
  const big = join(tmp, 'big.yaml');
  writeFileSync(big, BIG);
  const args = ['bench', 'compare', '--peer', 'etcd', '--duration', '1', '--windows', '8,32', '--max-window', '32'];
  const r = verdant([...args, '--profile', 'ycsb-b', '--profile', big, '--profile-duration', '2', '--json'], 170_000);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1, '--json prints only the JSON line');
  const j = lastJson(r.stdout) as {
    etcd: Record<string, number>;
    verdant: Record<string, number>;
    ratio_max_ops: number;
    method: string;
    note: string;
    profiles: Record<string, ProfileComparison>;
  };
  // The write probe and latency step, as before.
  for (const k of ['max_ops_per_s', 'p50_ms', 'p99_ms', 'server_cpu_s_per_op']) {
    assert.ok(j.etcd[k]! > 0, `etcd.${k} = ${j.etcd[k]}`);
    assert.ok(j.verdant[k]! > 0, `verdant.${k} = ${j.verdant[k]}`);
  }
  assert.ok(j.ratio_max_ops > 0, `ratio_max_ops = ${j.ratio_max_ops}`);
  assert.ok(Math.abs(j.etcd.offered_rate! - j.etcd.max_ops_per_s! / 2) < 1);
  assert.match(j.method, /target_rate = etcd max_ops_per_s for both systems/);

  assert.deepEqual(Object.keys(j.profiles), ['ycsb-b', 'big-values']);
  const b = j.profiles['ycsb-b']!;
  // ycsb-b runs at 100% of target_rate, and target_rate is etcd's measured maximum.
  assert.equal(b.target_rate, j.etcd.max_ops_per_s);
  assert.equal(b.duration_s, 2);
  assert.ok(Math.abs(b.planned_rate - b.target_rate) < 0.01 * b.target_rate, `planned ${b.planned_rate}`);
  assert.ok(Math.abs(b.planned_ops - 2 * b.target_rate) <= 1);
  const e = b.etcd as ProfileSide;
  const v = b.verdant as ProfileSide;
  checkSide('etcd', e, b.planned_ops);
  checkSide('verdant', v, b.planned_ops);
  // Same seed, same resolved profile: both systems were offered the identical arrivals and mix.
  assert.equal(e.offered, v.offered);
  assert.equal(e.by_op.read?.count, v.by_op.read?.count);
  assert.ok(b.ratio_ops! > 0 && b.ratio_p99! > 0, `ratios ${b.ratio_ops} ${b.ratio_p99}`);
  assert.equal(b.ratio_ops, Math.round((v.achieved_rate / e.achieved_rate) * 1000) / 1000);

  const g = j.profiles['big-values']!;
  assert.equal(g.file, big);
  const ge = g.etcd as ProfileSide;
  const gv = g.verdant as ProfileSide;
  assert.deepEqual(ge.unsupported_ops, ['write'], JSON.stringify(ge.by_op));
  assert.ok(ge.by_op.write!.count > 0 && ge.by_op.write!.errors === ge.by_op.write!.count);
  assert.ok(ge.by_op.read!.count > 0 && ge.by_op.read!.errors === 0, 'reads of absent keys still work on etcd');
  assert.deepEqual(gv.unsupported_ops, []);
  assert.equal(gv.errors, 0, JSON.stringify(gv.errors_by_code));
  assert.ok(gv.by_op.write!.count > 0);
  assert.equal(g.ratio_ops, null);
  assert.equal(g.ratio_p99, null);
  assert.match(g.note, /etcd cannot do write: all \d+ failed \([A-Z_]+ x\d+\)/);
  assert.match(g.note, /ratios are null/);
});

test('bad --profile and --profile-duration exit 2 naming the option, before any cluster starts', () => {
  const bad = join(tmp, 'bad.yaml');
  writeFileSync(bad, 'phases:\n  - { type: constant, duration: 5, rate: 10 }\noperations: { read: 1, scna: 1 }\nkeys: { count: 10 }\nvalues: { size: 1 }\n');
  const cases: Array<[string[], RegExp]> = [
    [['--profile', 'no-such-profile'], /--profile: "no-such-profile" is neither a readable file nor a shipped profile \(shipped: .*ycsb-a/],
    [['--profile', 'ycsb-a', '--profile', 'ycsb-a'], /--profile\[1\]: a profile named "ycsb-a" is already given/],
    [['--profile', bad], /bad\.yaml: operations\.scna: unknown key/],
    [['--profile', 'ycsb-a', '--profile-duration', '0'], /--profile-duration: must be a positive number/],
    [['--profile-duration', '5'], /--profile-duration: needs at least one --profile/],
  ];
  for (const [extra, re] of cases) {
    const started = Date.now();
    const r = verdant(['bench', 'compare', '--peer', 'etcd', ...extra]);
    assert.equal(r.status, 2, `${extra.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.doesNotMatch(r.stderr, /starting 3 members/);
    assert.ok(Date.now() - started < 30_000);
  }
  assert.equal(verdant(['bench', 'compare', '--peer', 'zookeeper']).status, 2);
});
