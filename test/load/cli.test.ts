// `verdant load` and `verdant bench etcd` as a user runs them: child processes, exit codes,
// output files, Ctrl-C. (`bench compare`: compare.test.ts.)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdCluster, freePorts } from '../../bench/peers/etcd.js';
import { CLI, lastJson, verdant } from './cli-helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'verdant-load-cli-'));
let cluster: EtcdCluster;

before(async () => {
  cluster = new EtcdCluster();
  await cluster.start();
}, { timeout: 60_000 });

after(async () => {
  await cluster?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

test('a bad profile exits 2 and names the field', () => {
  const f = join(tmp, 'bad.yaml');
  writeFileSync(f, 'phases:\n  - { type: sine, duration: 10, period: 10, min: 50, max: 10 }\noperations: { read: 1 }\nkeys: { count: 10 }\nvalues: { size: 1 }\n');
  const r = verdant(['load', '--profile', f, '--target', 'null://x:1']);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /bad\.yaml: phases\[0\]\.max: max \(10 ops\/s\) must be >= min/);
  const r2 = verdant(['load', '--profile', join(tmp, 'missing.yaml'), '--target', 'null://x:1']);
  assert.equal(r2.status, 2);
  assert.match(r2.stderr, /missing\.yaml: cannot read profile: ENOENT/);
});

test('bad command-line values exit 2 and name the option', () => {
  const cases: Array<[string[], RegExp]> = [
    [['--target', 'gopher://h:1'], /--target: unknown scheme "gopher"/],
    [['--target', 'etcd://nohost'], /--target: bad endpoint "nohost"/],
    [['--target', 'null://x:1', '--rate-scale', '-1'], /--rate-scale: must be a positive number/],
    [['--target', 'null://x:1', '--duration', 'soon'], /--duration: must be a positive number/],
    [['--target', 'null://x:1', '--workers', '0'], /--workers: must be an integer/],
    [['--target', 'null://x:1', '--out', join(tmp, 'x'), '--format', 'xml'], /--format: must be json or csv/],
  ];
  for (const [extra, re] of cases) {
    const r = verdant(['load', '--profile', 'ycsb-c', ...extra]);
    assert.equal(r.status, 2, `${extra.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
  }
  assert.equal(verdant(['load', '--profile', 'ycsb-c']).status, 2, 'missing --target is a usage error');
});

test('an unreachable target exits non-zero with a clear message', async () => {
  const [dead] = await freePorts(1);
  const r = verdant(['load', '--profile', 'ycsb-c', '--target', `etcd://127.0.0.1:${dead}`, '--duration', '1']);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`etcd unreachable: 127\\.0\\.0\\.1:${dead}`));
  assert.equal(r.stdout, '', 'no results for a run that never started');
  const v = verdant(['load', '--profile', 'ycsb-c', '--target', 'verdant://127.0.0.1:7000', '--duration', '1']);
  assert.equal(v.status, 1);
  // The verdant driver refuses without a client token, and names an unreachable endpoint with one.
  assert.match(v.stderr, /verdant needs a client token/);
  const tokenFile = join(tmp, 'token');
  writeFileSync(tokenFile, 'x'.repeat(32), { mode: 0o600 });
  const [dead2] = await freePorts(1);
  const v2 = verdant(['load', '--profile', 'ycsb-c', '--target', `verdant://127.0.0.1:${dead2}`, '--token-file', tokenFile, '--duration', '1']);
  assert.equal(v2.status, 1);
  assert.match(v2.stderr, new RegExp(`verdant unreachable: 127\\.0\\.0\\.1:${dead2}`));
});

test('a real run against etcd writes a CSV timeline and a JSON summary', { timeout: 90_000 }, () => {
  const out = join(tmp, 'run.csv');
  const r = verdant(['load', '--profile', 'ycsb-a', '--target', cluster.targetUrl(), '--duration', '2', '--rate-scale', '0.3', '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  const summary = lastJson(r.stdout);
  assert.equal(summary.profile, 'ycsb-a');
  assert.equal(summary.errors, 0);
  assert.ok((summary.ok as number) > 200, `ok ${summary.ok}`);
  assert.ok((summary.client as { cpu_s: number }).cpu_s > 0);
  const csv = readFileSync(out, 'utf8').trim().split('\n');
  assert.equal(csv[0], 't,span_s,planned_rate,offered,offered_rate,ok,achieved_rate,errors,not_found,cas_failed,p50_ms,p99_ms,p999_ms,max_ms,client_cpu_pct');
  assert.ok(csv.length >= 3, 'a row per second');
  const row1 = csv[1]!.split(',');
  assert.ok(Number(row1[3]) > 0 && Number(row1[11]) > 0, `first row: ${csv[1]}`);
  const sidecar = JSON.parse(readFileSync(join(tmp, 'run.summary.json'), 'utf8')) as { ok: number };
  assert.equal(sidecar.ok, summary.ok);
  assert.match(r.stderr, /preloaded 10000\/10000 keys/);
});

test('Ctrl-C writes partial results and exits 130', { timeout: 60_000 }, async () => {
  const out = join(tmp, 'partial.json');
  const child = spawn(process.execPath, [CLI, 'load', '--profile', 'diurnal', '--target', 'null://x:1', '--duration', '60', '--out', out], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  const progressed = new Promise<void>((resolve) => {
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
      // Any progress line from the second second on (a loaded machine may skip one).
      if (/\[\s+([2-9]|\d\d)\/60 s\] offered/.test(stderr)) resolve();
    });
  });
  await progressed;
  child.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  assert.equal(code, 130, stderr);
  assert.match(stderr, /interrupted: stopping arrivals, writing partial results/);
  assert.ok(existsSync(out), 'the partial result file exists');
  const result = JSON.parse(readFileSync(out, 'utf8')) as { summary: Record<string, unknown>; timeline: unknown[] };
  assert.equal(result.summary.partial, true);
  assert.equal(result.summary.interrupted, 'SIGINT');
  assert.ok((result.summary.elapsed_s as number) < 30);
  assert.ok((result.summary.ok as number) > 0);
  assert.ok(result.timeline.length >= 2);
  assert.equal(lastJson(stdout).partial, true);
});

test('bench etcd runs a cluster until Ctrl-C, then removes its data', { timeout: 60_000 }, async () => {
  const child = spawn(process.execPath, [CLI, 'bench', 'etcd'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  const url = await new Promise<string>((resolve) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d;
      if (out.includes('\n')) resolve(out.trim());
    });
  });
  assert.match(url, /^etcd:\/\/127\.0\.0\.1:\d+,127\.0\.0\.1:\d+,127\.0\.0\.1:\d+$/);
  const dataDir = /data in (\S+),/.exec(stderr)?.[1];
  assert.ok(dataDir && existsSync(dataDir), stderr);
  const r = verdant(['load', '--profile', 'ycsb-c', '--target', url, '--duration', '1', '--quiet', '--rate-scale', '0.2']);
  assert.equal(r.status, 0, r.stderr);
  child.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  assert.equal(code, 0, stderr);
  assert.ok(!existsSync(dataDir), 'data removed');
});
