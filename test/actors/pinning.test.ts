// Pins executor threads with sched_setaffinity and checks what the kernel reports in /proc.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ActorRuntime } from '../../runtime/actors/runtime.js';
import { onlineCpus } from '../../runtime/actors/pinning.js';

function allowed(tid: number): string {
  const m = /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync(`/proc/${process.pid}/task/${tid}/status`, 'utf8'));
  assert.ok(m, 'Cpus_allowed_list present');
  return m[1]!;
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
