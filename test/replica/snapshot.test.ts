// A follower that fell behind the leader's compaction point catches up through a snapshot, and
// crashes (SIGKILL) while installing it: while the image file is being written, right after it
// is published, and at a random moment of the transfer. Afterwards it catches up for good, and
// the usual checks hold (no acknowledged write lost, linearizable, replicas agree).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { TestCluster, Workload, finalChecks, sleep, withCluster } from './helpers.js';

/** Restarts `id` and SIGKILLs it as soon as a file matching `pattern` appears in its snapshot dir. */
async function killWhenSnapFile(c: TestCluster, id: number, pattern: RegExp, timeoutMs: number): Promise<string | null> {
  const r = c.manifest.replicas.find((x) => x.id === id)!;
  const snapDir = path.join(r.dir, 'data', 'snap');
  const logStart = fs.statSync(r.log).size;
  let seen: string | null = null;
  const hit = new Promise<void>((resolve) => {
    const w = fs.watch(snapDir, (_ev, name) => {
      // Only the image of a snapshot received from the leader (logged before it is written, with
      // synchronous logging), not one of the follower's own.
      const installing = () => fs.readFileSync(r.log, 'utf8').slice(logStart).includes('installing a snapshot received from the leader');
      if (seen === null && name && pattern.test(name) && installing()) {
        seen = name;
        c.procs.get(id)?.kill('SIGKILL');
        w.close();
        resolve();
      }
    });
    setTimeout(() => {
      w.close();
      resolve();
    }, timeoutMs).unref();
  });
  c.startReplica(id);
  await hit;
  await c.kill(id);
  // It was the image of a snapshot received from the leader (not one of its own).
  const log = fs.readFileSync(r.log, 'utf8').slice(logStart);
  assert.match(log, /installing a snapshot received from the leader/, `replica ${id} wrote ${seen} but was not installing a received snapshot`);
  return seen;
}

test('crash a follower while it installs a snapshot, three ways; it catches up and nothing is lost', { timeout: 180_000 }, async () => {
  await withCluster({
    overrides: {
      // Local snapshots every 200 entries: the leader compacts several times while the follower is
      // down, and the follower's own replay after a restart stays below that (so the image files
      // it writes right after starting are the leader's).
      service: { snapshotEveryEntries: 200, snapshotEveryBytes: 64 << 20 },
      raft: { compactionRetainEntries: 5, snapshotChunkBytes: 16 << 10, snapshotChunksInFlight: 2 },
    },
  }, async (c) => {
    const leader = await c.leader();
    const follower = c.ids.find((i) => i !== leader)!;
    // A state of several MB, so that writing and sending the image takes a while.
    const pre = await c.client({ timeoutMs: 20_000 });
    const value = Buffer.alloc(2048, 'v');
    for (let i = 0; i < 4000; i += 200) await Promise.all(Array.from({ length: 200 }, (_, k) => pre.put(`pre-${i + k}`, value)));
    const w = new Workload(c);
    await w.start();
    await sleep(500);
    await c.kill(follower);
    const behind = (await c.status()).find((s) => s.id === leader);
    await sleep(2500);
    const st = (await c.status()).find((s) => s.id === leader)!;
    assert.ok(st.ok && behind?.ok);
    assert.ok(st.status.snapshotIndex > (behind.status.applied as number), `the leader compacted past the crashed follower (snapshot ${st.status.snapshotIndex}, follower at most ${behind.status.applied})`);

    const midWrite = await killWhenSnapFile(c, follower, /\.snap\.tmp$/, 20_000);
    assert.ok(midWrite !== null, 'the restarted follower never started writing a snapshot image');
    const published = await killWhenSnapFile(c, follower, /^[0-9a-f]+\.snap$/, 20_000);
    assert.ok(published !== null, 'the restarted follower never published a snapshot image');
    c.startReplica(follower);
    await sleep(150 + Math.floor(Math.random() * 250));
    await c.kill(follower);
    console.log(`follower ${follower} killed while writing ${midWrite}, right after publishing ${published}, and once more at random`);

    c.startReplica(follower);
    await sleep(2000);
    await w.stop();
    const r = await finalChecks(c, w);
    const fs2 = (await c.status()).find((s) => s.id === follower)!;
    assert.ok(fs2.ok);
    const kv = fs2.status.kv as { stats: { counters: Record<string, number> }; snapshotIndex: number };
    const restores = kv.stats.counters.restores ?? 0;
    assert.ok(restores >= 1 || kv.snapshotIndex > 0, 'the follower caught up through a snapshot');
    // The pre-loaded state is complete on the follower too.
    const one = await (await import('../../runtime/client/index.js')).KvClient.connect({ endpoints: [c.manifest.replicas.find((x) => x.id === follower)!.client], token: c.token });
    const scan = await one.scan('pre-', 'pre.', 100_000, { consistency: 'stale', keysOnly: true });
    await one.close();
    assert.equal(scan.entries.length, 4000, 'every pre-loaded key is on the recovered follower');
    await pre.close();
    console.log(`snapshot scenario: ${r.operations} operations (${r.unknown} unknown), ${r.acked} unique puts; follower restores: ${restores}`);
  });
});
