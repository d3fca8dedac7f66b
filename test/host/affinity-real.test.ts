// Real thread affinity on this machine: a child process with several threads is restricted to
// one CPU through sched_setaffinity per thread (koffi, and the taskset fallback), then restored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { HostPaths } from '../../controller/sensors/host-paths.js';
import { parseCpuList } from '../../controller/sensors/sysfs.js';
import { AffinityCoresActuator, affinityOf, detectPinning, threadsOf, type PinningMethod } from '../../controller/actuators/affinity.js';
import { ActuatorRangeError, ActuatorUnavailableError } from '../../controller/actuators/types.js';
import { copyFixture, removeFixture } from './helpers/fixture.js';

const online = parseCpuList(readFileSync('/sys/devices/system/cpu/online', 'utf8'));

function statusList(tid: number): string {
  const m = /^Cpus_allowed_list:\s*(.*)$/m.exec(readFileSync(`/proc/${tid}/status`, 'utf8'));
  return m![1]!.trim();
}

async function withChild(fn: (child: ChildProcess) => Promise<void>): Promise<void> {
  // A node process has several threads (libuv pool, V8 platform workers): all must be pinned.
  // It says "ready" once its thread pool is up (a read completed), so the test sees all threads.
  const child = spawn(process.execPath, ['-e', 'require("fs").readFile(process.execPath, () => console.log("ready")); setInterval(() => {}, 1000)'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('child did not start')), 30000);
      child.stdout!.on('data', (d: Buffer) => {
        if (d.toString().includes('ready')) {
          clearTimeout(t);
          resolve();
        }
      });
    });
    await fn(child);
  } finally {
    child.kill('SIGKILL');
  }
}

test('pinning is available on this machine, and only on the live root', () => {
  assert.equal(detectPinning(new HostPaths('/')).available, true);
  const root = copyFixture('intel-hotplug-cpufreq');
  try {
    const p = detectPinning(new HostPaths(root));
    assert.equal(p.available, false);
    assert.match(p.reason, /live/);
  } finally {
    removeFixture(root);
  }
});

for (const method of ['koffi', 'taskset'] as PinningMethod[]) {
  test(`affinity (${method}): every thread of a process is pinned, then restored`, { skip: online.length < 2 ? 'needs 2 online CPUs' : false }, () =>
    withChild(async (child) => {
      const pid = child.pid!;
      const tids = threadsOf(pid);
      assert.ok(tids.length > 1, `expected several threads, got ${tids.length}`);
      const before = new Map(tids.map((t) => [t, statusList(t)]));
      const target = online[online.length - 1]!;
      const a = new AffinityCoresActuator({ paths: new HostPaths('/'), pid, method });
      assert.equal(a.capability().available, true);
      const out = await a.apply([target]);
      assert.ok(out.changes.length >= tids.length);
      for (const t of threadsOf(pid)) assert.equal(statusList(t), String(target), `tid ${t}`);
      assert.deepEqual(affinityOf(pid), [target]);
      await a.restore();
      for (const t of tids) assert.equal(statusList(t), before.get(t), `tid ${t} restored`);
    }),
  );
}

test('affinity: dry-run changes nothing; offline or unknown CPUs and dead processes are refused', () =>
  withChild(async (child) => {
    const pid = child.pid!;
    const before = statusList(pid);
    const dry = new AffinityCoresActuator({ paths: new HostPaths('/'), pid, dryRun: true });
    const plan = await dry.apply([online[0]!]);
    assert.ok(plan.changes.length > 1);
    assert.equal(statusList(pid), before);
    const a = new AffinityCoresActuator({ paths: new HostPaths('/'), pid });
    await assert.rejects(a.apply([online[online.length - 1]! + 100]), ActuatorRangeError);
    await assert.rejects(a.apply([]), ActuatorRangeError);
    const gone = new AffinityCoresActuator({ paths: new HostPaths('/'), pid: 2 ** 22 + 12345 });
    await assert.rejects(gone.apply([0]), ActuatorUnavailableError);
  }));
