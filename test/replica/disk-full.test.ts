// A full disk under a real replica: the leader's data directory is a small tmpfs, a recorded
// client load plus large puts fill it. The replica must stop with a clear error naming the disk
// and the file (no crash without a message, no corruption), the other two go on serving, no
// acknowledged write is lost, and once space is freed the restarted replica recovers cleanly
// (`verdant storage verify` passes) and rejoins.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { TestCluster, Workload, finalChecks, sleep, usingCluster } from './helpers.js';
import { Filler, dataDir, exitOf, logOf, makeLeader, moveOntoTmpfs, resize, unmount, usedBytes, verify } from './fault-helpers.js';

const SEGMENT = 512 * 1024;
const SMALL = 3 * 1024 * 1024;
const FREED = 64 * 1024 * 1024;

test("the leader's disk fills: it stops with a clear error, the others serve on, no acknowledged write is lost; freed, it recovers and rejoins", { timeout: 120_000 }, async () => {
  const c = await TestCluster.start({ overrides: { storage: { segmentBytes: SEGMENT } } });
  const target = 1;
  const mounts: string[] = [];
  await usingCluster(c, async () => {
    try {
      await c.leader();
      await c.kill(target, 'SIGTERM');
      mounts.push(moveOntoTmpfs(c, target, SMALL));
      c.startReplica(target);
      await makeLeader(c, target);
      const dir = dataDir(c, target);
      console.log(`replica ${target} leads with its store on a ${SMALL >> 20} MiB tmpfs (${(usedBytes(dir) / 1024).toFixed(0)} KiB used)`);

      const w = new Workload(c, { valueBytes: 100 });
      await w.start();
      const bulk = await c.client({ timeoutMs: 4000 });
      const filler = new Filler(bulk, 48 * 1024);
      const logStart = fs.statSync(logOf(c, target)).size;
      const exit = await exitOf(c, target, 60_000);
      const t = performance.now();
      assert.ok(exit !== null, `replica ${target} kept running with ${usedBytes(dir)} of ${SMALL} bytes used`);
      // It stopped itself (a fatal error, exit code 1), it was not killed by a signal or a crash.
      assert.deepEqual(exit, { code: 1, signal: null });
      const log = fs.readFileSync(logOf(c, target), 'utf8').slice(logStart);
      const fatal = log.split('\n').find((l) => l.includes('fatal:'));
      assert.ok(fatal, `the log says why the replica stopped:\n${log.slice(-3000)}`);
      assert.match(fatal, /disk full while/);
      assert.ok(fatal.includes(dir), `the error names a file in ${dir}: ${fatal}`);
      assert.doesNotMatch(log, /uncaught|unhandled/i);
      console.log(`replica ${target} stopped: ${JSON.parse(fatal).msg as string}`);

      // The other two elect a leader and go on acknowledging writes.
      const others = c.ids.filter((i) => i !== target);
      await c.leader(20_000, others);
      await sleep(1500);
      assert.ok(w.firstWriteAckAfter(t) !== null, 'no write was acknowledged after the full replica stopped');
      await filler.stop();
      await bulk.close();
      for (const [k, v] of filler.acked) w.acked.set(k, v);

      // On the still-full disk the store reads back clean; then space is freed and it restarts.
      const v1 = verify(dir);
      assert.equal(v1.code, 0, `storage verify on the full disk:\n${v1.out}`);
      assert.match(v1.out, /: OK/);
      resize(dir, FREED);
      const restartAt = fs.statSync(logOf(c, target)).size;
      c.startReplica(target);
      await c.leader(30_000);
      await sleep(1000);
      await w.stop();
      const r = await finalChecks(c, w);
      const after = fs.readFileSync(logOf(c, target), 'utf8').slice(restartAt);
      assert.doesNotMatch(after, /corrupt|fatal/i, `the restarted replica reported:\n${after.slice(-3000)}`);
      console.log(`after restart: ${r.operations} operations (${r.unknown} unknown), ${r.acked} acknowledged puts checked (${filler.acked.size} large), errors ${JSON.stringify(Object.fromEntries(w.errors))}`);
      assert.ok(filler.acked.size > 0 && w.acked.size > 20, 'too few acknowledged writes to mean anything');

      // Caught up and stopped cleanly, its store verifies again.
      await c.kill(target, 'SIGTERM');
      const v2 = verify(dir);
      assert.equal(v2.code, 0, `storage verify after the restart:\n${v2.out}`);
    } finally {
      await Promise.all(c.ids.map((id) => c.kill(id)));
      for (const m of mounts) unmount(m);
    }
  });
});
