// Pins executor threads with sched_setaffinity and checks what the kernel reports in /proc.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmdirSync, writeFileSync, existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ActorRuntime } from '../../runtime/actors/runtime.js';
import { onlineCpus } from '../../runtime/actors/pinning.js';

function allowed(tid: number): string {
  const m = /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync(`/proc/${process.pid}/task/${tid}/status`, 'utf8'));
  assert.ok(m, 'Cpus_allowed_list present');
  return m[1]!;
}


/** Runs a child process to completion; it must exit 0, and its last stdout line is JSON. */
async function childJson(cmd: string, args: string[]): Promise<unknown> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  assert.equal(code, 0, err);
  return JSON.parse(out.trim().split('\n').pop()!);
}

test('an executor pinned to CPU 1 runs only on CPU 1, and unpinning restores all CPUs', { skip: process.platform !== 'linux' ? 'pinning needs Linux' : false, timeout: 60_000 }, async () => {
  const online = onlineCpus();
  assert.ok(online.includes(1), `this test needs CPU 1 online (online: ${online.join(',')})`);
  const rt = await ActorRuntime.start({ workers: 2 });
  try {
    assert.deepEqual(rt.capability(), { supported: true }, 'pinning is supported here (Linux, root)');
    const before = await rt.topology();
    const w1 = before.executors.find((e) => e.index === 1)!;
    const w2 = before.executors.find((e) => e.index === 2)!;
    assert.ok(w1.tid !== null && w1.tid !== process.pid, 'worker has its own kernel thread id');
    const all = allowed(w1.tid!);

    const r = await rt.apply({ workers: 2, cpus: { '1': [1] } });
    assert.deepEqual(r.pinned.map((p) => [p.executor, p.ok, p.cpusAllowed]), [[1, true, '1']]);
    assert.equal(allowed(w1.tid!), '1', 'kernel confirms worker 1 is pinned to CPU 1');
    assert.equal(allowed(w2.tid!), all, 'worker 2 is untouched: affinity is per thread');
    assert.equal(allowed(process.pid), all, 'the main thread is untouched');
    const mid = await rt.topology();
    const m1 = mid.executors.find((e) => e.index === 1)!;
    assert.deepEqual([m1.cpus, m1.pinned, m1.cpusAllowed], [[1], true, '1']);

    await rt.apply({ workers: 2, cpus: { '1': null } });
    assert.equal(allowed(w1.tid!), all, 'unpinned: back to every online CPU');
    const after = await rt.topology();
    assert.equal(after.executors.find((e) => e.index === 1)!.pinned, false);

    // A new executor pins itself before it takes any actor.
    const r3 = await rt.apply({ workers: 3, cpus: { '3': [0] } });
    assert.deepEqual(r3.started, [3]);
    const w3 = (await rt.topology()).executors.find((e) => e.index === 3)!;
    assert.equal(allowed(w3.tid!), '0');
  } finally {
    await rt.stop();
  }
});

const CPUSET = '/sys/fs/cgroup/cpuset';

test('where the kernel refuses a CPU set, the executor keeps running unpinned and says why', {
  skip: !existsSync(`${CPUSET}/cpuset.cpus`) ? 'needs the cgroup-v1 cpuset controller (Linux, root)' : false,
  timeout: 60_000,
}, async () => {
  // A child cgroup that only allows CPU 0; the child process then asks to pin a worker to CPU 1.
  const dir = `${CPUSET}/verdant-actors-test-${process.pid}-${Date.now()}`;
  mkdirSync(dir);
  try {
    writeFileSync(`${dir}/cpuset.cpus`, '0');
    writeFileSync(`${dir}/cpuset.mems`, readFileSync(`${CPUSET}/cpuset.mems`, 'utf8').trim());
    const script = fileURLToPath(new URL('./fixtures/pin-restricted-main.js', import.meta.url));
    const r = (await childJson('sh', ['-c', `echo $$ > ${dir}/cgroup.procs && exec "${process.execPath}" "${script}"`])) as {
      capability: { supported: boolean };
      pinned: { executor: number; ok: boolean; error?: string; cpusAllowed: string }[];
      executor: { pinned: boolean; cpusAllowed: string };
      n: number;
    };
    assert.equal(r.pinned.length, 1);
    assert.equal(r.pinned[0]!.ok, false);
    assert.match(r.pinned[0]!.error ?? '', /sched_setaffinity failed: EINVAL/);
    assert.equal(r.pinned[0]!.cpusAllowed, '0', 'the thread stays on what the cpuset allows');
    assert.equal(r.executor.pinned, false, 'topology reports the executor as not pinned');
    assert.equal(r.n, 3, 'the executor keeps serving its actors');
  } finally {
    rmdirSync(dir);
  }
});

test('pinning the main thread (executor 0) is undone when the runtime stops', { skip: process.platform !== 'linux' ? 'pinning needs Linux' : false, timeout: 60_000 }, async () => {
  const before = allowed(process.pid);
  const rt = await ActorRuntime.start();
  try {
    const r = await rt.apply({ workers: 0, cpus: { '0': [1] } });
    assert.deepEqual(r.pinned.map((p) => [p.executor, p.ok]), [[0, true]]);
    assert.equal(allowed(process.pid), '1');
  } finally {
    await rt.stop();
  }
  assert.equal(allowed(process.pid), before, 'the main thread got its CPU set back');
});

test('unpinning restores the CPU set the process started with, not every online CPU', { skip: process.platform !== 'linux' ? 'pinning needs Linux' : false, timeout: 60_000 }, async () => {
  const script = fileURLToPath(new URL('./fixtures/unpin-main.js', import.meta.url));
  // taskset limits the process's mask (it is not a cpuset, so pinning to CPU 1 is still allowed).
  const r = (await childJson('taskset', ['-c', '0', process.execPath, script])) as { atStart: string; pinned: string; unpinned: string; reportedPinned: boolean };
  assert.equal(r.atStart, '0', 'a worker starts with the process mask');
  assert.equal(r.pinned, '1');
  assert.equal(r.unpinned, '0', 'unpinned: back to the mask the process was started with');
  assert.equal(r.reportedPinned, false);
});
