// Every replica's disk fills (each store on its own small tmpfs) under a recorded client load:
// the replicas stop with a clear disk-full error, the cluster stops acknowledging writes (clients
// get the library's timeout / unavailable errors, never a wrong answer), the stores on the full
// disks verify clean, and once space is freed and the replicas restarted the cluster serves
// again with every acknowledged write there and a linearizable history.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { KvError } from '../../runtime/client/index.js';
import { TestCluster, Workload, finalChecks, sleep, usingCluster } from './helpers.js';
import { Filler, dataDir, exitOf, logOf, moveOntoTmpfs, resize, running, unmount, verify } from './fault-helpers.js';

const SEGMENT = 512 * 1024;
const SMALL = 3 * 1024 * 1024;
const FREED = 64 * 1024 * 1024;

test('every disk fills: replicas stop with a clear error, writes stop, nothing acknowledged is lost; freed, the cluster recovers', { timeout: 120_000 }, async () => {
  const c = await TestCluster.start({ overrides: { storage: { segmentBytes: SEGMENT } } });
  const mounts: string[] = [];
  await usingCluster(c, async () => {
    try {
      await c.leader();
      await Promise.all(c.ids.map((id) => c.kill(id, 'SIGTERM')));
      for (const id of c.ids) mounts.push(moveOntoTmpfs(c, id, SMALL));
      const logStart = new Map(c.ids.map((id) => [id, fs.statSync(logOf(c, id)).size] as const));
      for (const id of c.ids) c.startReplica(id);
      await c.leader(30_000);

      const w = new Workload(c, { valueBytes: 100 });
      await w.start();
      const bulk = await c.client({ timeoutMs: 4000 });
      const filler = new Filler(bulk, 48 * 1024);
      // A majority stopped: nothing can commit any more.
      const until = Date.now() + 60_000;
      while (c.ids.filter((id) => running(c, id)).length > 1 && Date.now() < until) await sleep(100);
      await sleep(2000);
      const stopped = c.ids.filter((id) => !running(c, id));
      assert.ok(stopped.length >= 2, `only replicas ${stopped.join(', ') || 'none'} stopped within 60 s`);
      for (const id of stopped) {
        assert.deepEqual(await exitOf(c, id, 1000), { code: 1, signal: null }, `replica ${id} stopped itself`);
        const log = fs.readFileSync(logOf(c, id), 'utf8').slice(logStart.get(id));
        const fatal = log.split('\n').find((l) => l.includes('fatal:'));
        assert.ok(fatal, `replica ${id}'s log says why it stopped:\n${log.slice(-3000)}`);
        assert.match(fatal, /disk full while/);
        assert.ok(fatal.includes(dataDir(c, id)), `the error names a file in ${dataDir(c, id)}: ${fatal}`);
        assert.doesNotMatch(log, /uncaught|unhandled/i);
      }
      console.log(`replicas ${stopped.join(', ')} stopped on full disks; ${filler.acked.size} large puts acknowledged before`);

      // Writes are refused with the library's error codes, not answered.
      const probe = await c.client({ timeoutMs: 3000 }).then(
        async (kv) => {
          try {
            return await kv.put('probe', 'x').then(() => null, (err: unknown) => err);
          } finally {
            await kv.close();
          }
        },
        (err: unknown) => err,
      );
      assert.ok(probe instanceof KvError && ['timeout', 'unavailable'].includes(probe.code), `a write with no quorum failed with ${String(probe)}`);
      await filler.stop();
      await bulk.close();
      for (const [k, v] of filler.acked) w.acked.set(k, v);

      // The stores on the full disks read back clean; space freed, the stopped replicas restart.
      for (const id of stopped) {
        const v = verify(dataDir(c, id));
        assert.equal(v.code, 0, `storage verify of replica ${id} on its full disk:\n${v.out}`);
      }
      for (const m of mounts) resize(m, FREED);
      const restartAt = new Map(c.ids.map((id) => [id, fs.statSync(logOf(c, id)).size] as const));
      for (const id of stopped) c.startReplica(id);
      await c.leader(30_000);
      await sleep(1500);
      await w.stop();
      const r = await finalChecks(c, w);
      for (const id of c.ids) {
        const after = fs.readFileSync(logOf(c, id), 'utf8').slice(restartAt.get(id));
        assert.doesNotMatch(after, /corrupt|fatal/i, `replica ${id} after the restart:\n${after.slice(-3000)}`);
      }
      console.log(`after restart: ${r.operations} operations (${r.unknown} unknown), ${r.acked} acknowledged puts checked (${filler.acked.size} large), errors ${JSON.stringify(Object.fromEntries(w.errors))}`);
      assert.ok(filler.acked.size > 0 && w.acked.size > 20, 'too few acknowledged writes to mean anything');

      await Promise.all(c.ids.map((id) => c.kill(id, 'SIGTERM')));
      for (const id of c.ids) {
        const v = verify(dataDir(c, id));
        assert.equal(v.code, 0, `storage verify of replica ${id} at the end:\n${v.out}`);
      }
    } finally {
      await Promise.all(c.ids.map((id) => c.kill(id)));
      for (const m of mounts) unmount(m);
    }
  });
});
