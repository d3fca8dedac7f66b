// Against a real 3-member etcd on loopback (Debian's etcd-server; CI installs it). If etcd is
// missing these tests fail with the install hint rather than skip.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdCluster, EtcdMissingError, ensureEtcd, freePorts } from '../../bench/peers/etcd.js';
import { totalCpuSeconds } from '../../bench/peers/proc-cpu.js';
import { runClosedLoopPuts } from '../../bench/loadgen/closed-loop.js';
import { profileFromObject } from '../../bench/loadgen/profile/load.js';
import { runLoad } from '../../bench/loadgen/run.js';
import type { LoadTarget } from '../../bench/loadgen/target.js';
import { TargetUnreachableError } from '../../bench/loadgen/target.js';
import { openTarget } from '../../bench/loadgen/targets/index.js';

let cluster: EtcdCluster;

before(async () => {
  cluster = new EtcdCluster();
  await cluster.start();
}, { timeout: 60_000 });

after(async () => {
  await cluster?.stop();
});

const b = (s: string) => Buffer.from(s);

async function eventually(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    assert.ok(Date.now() < deadline, 'condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function exerciseDriver(t: LoadTarget, prefix: string): Promise<void> {
  const k = b(`${prefix}/a`);
  assert.equal(await t.get(k, 'linearizable'), undefined);
  await t.put(k, b('v1'));
  assert.equal(String(await t.get(k, 'linearizable')), 'v1');
  // A stale read may hit a member that has not applied the put yet, but it catches up.
  await eventually(async () => String(await t.get(k, 'stale')) === 'v1');
  assert.equal(await t.cas(k, b('nope'), b('v2')), false);
  assert.equal(String(await t.get(k, 'linearizable')), 'v1');
  assert.equal(await t.cas(k, b('v1'), b('v2')), true);
  assert.equal(String(await t.get(k, 'linearizable')), 'v2');
  assert.equal(await t.cas(k, undefined, b('v3')), false, 'absent-only cas fails on a present key');
  assert.equal(await t.cas(b(`${prefix}/b`), undefined, b('vb')), true);
  await t.put(b(`${prefix}/c`), b(''));
  assert.equal((await t.get(b(`${prefix}/c`), 'linearizable'))?.length, 0, 'empty value is not "absent"');
  assert.equal(await t.scan(b(`${prefix}/`), b(`${prefix}0`), 10, 'linearizable'), 3);
  await eventually(async () => (await t.scan(b(`${prefix}/`), b(`${prefix}0`), 2, 'stale')) === 2);
  assert.equal(await t.delete(k), true);
  assert.equal(await t.delete(k), false);
  assert.equal(await t.get(k, 'linearizable'), undefined);
}

test('etcd members keep data on disk and report their CPU time', async () => {
  const dir = cluster.dataDir()!;
  for (const m of ['m0', 'm1', 'm2']) assert.ok(existsSync(join(dir, m, 'member', 'wal')), `${m} has a WAL on disk`);
  const pids = cluster.serverPids();
  assert.equal(pids.length, 3);
  assert.equal(cluster.endpoints().length, 3);
  assert.match(cluster.targetUrl(), /^etcd:\/\/127\.0\.0\.1:\d+,127\.0\.0\.1:\d+,127\.0\.0\.1:\d+$/);
  const before = totalCpuSeconds(pids);
  const t = await openTarget(cluster.targetUrl());
  try {
    await Promise.all(Array.from({ length: 300 }, (_, i) => t.put(b(`cpu/${i}`), Buffer.alloc(1024))));
  } finally {
    await t.close();
  }
  assert.ok(totalCpuSeconds(pids) > before, 'server CPU time grows with work');
});

test('the default etcd driver (http2 gRPC) implements LoadTarget', async () => {
  const t = await openTarget(cluster.targetUrl(), { connectionsPerEndpoint: 2 });
  try {
    await exerciseDriver(t, 'h2');
  } finally {
    await t.close();
  }
});

test('the grpc-js reference driver behaves the same', async () => {
  const t = await openTarget(cluster.targetUrl().replace('etcd://', 'etcd+grpc-js://'));
  try {
    await exerciseDriver(t, 'gj');
  } finally {
    await t.close();
  }
});

test('a short open-loop run with every operation kind', { timeout: 60_000 }, async () => {
  const profile = profileFromObject({
    name: 'mixed',
    seed: 5,
    phases: [{ type: 'ramp', duration: 3, from: 100, to: 300 }],
    operations: { read: 4, write: 2, insert: 1, cas: 1, scan: 1, delete: 1 },
    keys: { count: 200, distribution: 'zipfian', prefix: 'mix/' },
    values: { distribution: 'uniform', min: 100, max: 2000 },
    consistency: { linearizable: 1, stale: 1 },
    scan: { min_length: 1, max_length: 20 },
    preload: 'all',
  });
  const lines: string[] = [];
  const r = await runLoad({ profile, target: cluster.targetUrl(), progress: (l) => lines.push(l) });
  const s = r.summary;
  assert.equal(s.partial, false);
  assert.equal(s.errors, 0, JSON.stringify(s.errors_by_code));
  assert.ok(s.ok > 300 && s.ok === s.offered, `ok ${s.ok} offered ${s.offered}`);
  assert.equal(s.sent, s.offered);
  for (const k of ['read', 'write', 'insert', 'cas', 'scan', 'delete'] as const) assert.ok((s.by_op[k]?.count ?? 0) > 0, `${k} ran`);
  assert.ok(s.latency.p50_ms > 0 && s.latency.p99_ms >= s.latency.p50_ms);
  assert.ok(s.client.cpu_s > 0);
  // Three seconds of arrivals, possibly followed by a short tail of late replies.
  assert.ok(r.timeline.length >= 3 && r.timeline.length <= 4, `timeline rows ${r.timeline.length}`);
  for (const row of r.timeline.slice(0, 3)) {
    assert.ok(row.offered > 0 && row.ok > 0 && row.p99_ms > 0, JSON.stringify(row));
    assert.ok(row.planned_rate >= 100 && row.planned_rate <= 300);
  }
  assert.ok(r.timeline[2]!.planned_rate > r.timeline[0]!.planned_rate, 'the ramp shows in the timeline');
  assert.ok(lines.length >= 1 && /offered .* achieved .* p99 .* errors/.test(lines[0]!), `progress: ${lines[0]}`);
  // The preload really wrote the key space.
  const t = await openTarget(cluster.targetUrl());
  try {
    assert.ok((await t.scan(b('mix/'), b('mix:'), 1000, 'linearizable')) >= 150);
  } finally {
    await t.close();
  }
});

test('two generator threads share the rate', { timeout: 60_000 }, async () => {
  const profile = profileFromObject({
    phases: [{ type: 'constant', duration: 2, rate: 300 }],
    operations: { write: 1, read: 1 },
    keys: { count: 100, prefix: 'w2/' },
    values: { size: 256 },
    concurrency: { workers: 2 },
  });
  const r = await runLoad({ profile, target: cluster.targetUrl() });
  assert.equal(r.summary.client.workers, 2);
  assert.equal(r.summary.errors, 0, JSON.stringify(r.summary.errors_by_code));
  assert.ok(r.summary.ok > 400 && r.summary.ok < 800, `ok ${r.summary.ok}`);
  assert.ok(r.timeline.length >= 2 && r.timeline.length <= 3);
  assert.ok(r.timeline[0]!.ok > 0 && r.timeline[1]!.ok > 0);
});

test('the closed-loop probe measures throughput', async () => {
  const t = await openTarget(cluster.targetUrl());
  try {
    const r = await runClosedLoopPuts(t, { window: 16, durationS: 1, valueSize: 1024, keyCount: 1000 });
    assert.equal(r.errors, 0);
    assert.ok(r.ok > 0 && r.ops_per_s > 0 && r.latency.p50_ms > 0);
  } finally {
    await t.close();
  }
});

test('an unreachable endpoint is a clear error naming it', { timeout: 30_000 }, async () => {
  const [dead] = await freePorts(1);
  const started = Date.now();
  await assert.rejects(openTarget(`etcd://127.0.0.1:${dead}`), (e: unknown) => {
    assert.ok(e instanceof TargetUnreachableError);
    assert.match(e.message, new RegExp(`etcd unreachable: 127\\.0\\.0\\.1:${dead}`));
    return true;
  });
  // One good member and one dead one: still an error, naming the dead one.
  const good = cluster.endpoints()[0]!;
  await assert.rejects(openTarget(`etcd://${good},127.0.0.1:${dead}`), (e: unknown) => e instanceof TargetUnreachableError && e.message.includes(`127.0.0.1:${dead}`) && !e.message.includes(`etcd unreachable: ${good}`));
  await assert.rejects(openTarget(`etcd+grpc-js://127.0.0.1:${dead}`), TargetUnreachableError);
  assert.ok(Date.now() - started < 15_000);
});

test('verdant:// says it is not available yet', async () => {
  await assert.rejects(openTarget('verdant://127.0.0.1:7000'), /not available yet/);
});

test('a missing etcd binary gives install instructions (never a silent skip)', () => {
  const empty = mkdtempSync(join(tmpdir(), 'verdant-nopath-'));
  const saved = process.env.PATH;
  process.env.PATH = empty;
  try {
    assert.throws(() => ensureEtcd({ allowInstall: false }), (e: unknown) => e instanceof EtcdMissingError && /apt-get install etcd-server/.test(e.message));
  } finally {
    process.env.PATH = saved;
    rmSync(empty, { recursive: true, force: true });
  }
  assert.ok(ensureEtcd().endsWith('/etcd'), 'etcd is installed on this machine');
});
