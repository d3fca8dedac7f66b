// A full disk, on a real small file system: a tmpfs mounted for the test (this needs root; the
// test fails loudly rather than skip when mounting is not permitted).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { LogStore, StorageError } from '../../runtime/storage/index.js';
import type { PreallocateMode } from '../../runtime/storage/fs-util.js';
import { entries, find, rmDir, tempDir, write } from './helpers.js';

function withTmpfs<T>(sizeBytes: number, fn: (mnt: string) => Promise<T>): Promise<T> {
  const mnt = tempDir('tmpfs');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes}`, 'tmpfs', mnt], { stdio: 'pipe' });
  } catch (err) {
    rmDir(mnt);
    const msg = (err as { stderr?: Buffer }).stderr?.toString().trim() ?? String(err);
    throw new Error(`the ENOSPC test needs to mount a small tmpfs (run as root): mount failed: ${msg}`);
  }
  return fn(mnt).finally(() => {
    try {
      execFileSync('umount', [mnt], { stdio: 'pipe' });
    } catch {
      execFileSync('umount', ['-l', mnt], { stdio: 'pipe' });
    }
    rmDir(mnt);
  });
}

for (const mode of ['fallocate', 'off'] as PreallocateMode[]) {
  test(`disk full (preallocate=${mode}): writes stop with a clear error, nothing acknowledged is lost, freeing space and reopening continues`, { timeout: 60_000 }, async () => {
    await withTmpfs(1536 * 1024, async (mnt) => {
      const dir = path.join(mnt, 'store');
      // Something the operator can delete later to free space.
      fs.writeFileSync(path.join(mnt, 'ballast'), Buffer.alloc(256 * 1024, 1));
      const opts = { segmentBytes: 128 * 1024, preallocate: mode, onWarning: (): void => undefined };
      const { store } = await LogStore.open(dir, opts);
      let acked = 0;
      let failure: unknown = null;
      for (let i = 1; i < 10_000; i++) {
        try {
          await store.append([write(0, entries(0, i, i, 1, 3000), { term: 1, vote: 1, commit: i })]);
          acked = i;
        } catch (err) {
          failure = err;
          break;
        }
      }
      assert.ok(failure instanceof StorageError, `expected a StorageError, got ${String(failure)}`);
      assert.equal(failure.code, 'disk-full');
      assert.match(failure.message, /disk full .* stopped accepting writes/);
      assert.ok(acked > 100, `wrote ${acked} entries before the disk filled`);
      assert.equal(store.failed, failure);
      // Stopped: later appends fail fast with the same error, and nothing more is written.
      await assert.rejects(store.append([write(0, entries(0, acked + 1, acked + 1, 1))]), (e: unknown) => e === failure);
      await store.close();

      // Recovery on the still-full disk works and has exactly the acknowledged entries.
      const r1 = await LogStore.open(dir, opts);
      if (mode === 'fallocate') {
        // Preallocation moves the failure to segment creation: no record was half written.
        assert.match(failure.message, /creating WAL segment/);
        assert.deepEqual(r1.report.warnings, []);
      } else {
        // Without it the disk fills in the middle of a batch (a short write): a torn tail.
        assert.match(failure.message, /appending a batch/);
      }
      const g = find(r1.recovered, 0);
      assert.equal(g.entries.length, acked);
      assert.deepEqual(g.hardState, { term: 1, vote: 1, commit: acked });
      await r1.store.close();

      // Free space; the reopened store writes again.
      fs.rmSync(path.join(mnt, 'ballast'));
      const r2 = await LogStore.open(dir, opts);
      await r2.store.append([write(0, entries(0, acked + 1, acked + 2, 2, 3000), { term: 2, vote: 0, commit: acked + 2 })]);
      await r2.store.close();
      const r3 = await LogStore.open(dir, opts);
      assert.equal(find(r3.recovered, 0).entries.length, acked + 2);
      await r3.store.close();
    });
  });
}

test('disk full while writing a snapshot: the snapshot fails, the previous one and the WAL are intact', { timeout: 60_000 }, async () => {
  await withTmpfs(1024 * 1024, async (mnt) => {
    const dir = path.join(mnt, 'store');
    const opts = { segmentBytes: 256 * 1024, preallocate: 'fallocate' as const, onWarning: (): void => undefined };
    const { store } = await LogStore.open(dir, opts);
    await store.append([write(0, entries(0, 1, 10, 1, 100), { term: 1, vote: 0, commit: 10 })]);
    const small = Buffer.alloc(1000, 3);
    await store.saveSnapshot([{ group: 0, meta: { index: 5, term: 1, membership: { voters: [1], learners: [] } } }], small);
    await assert.rejects(
      store.saveSnapshot([{ group: 0, meta: { index: 8, term: 1, membership: { voters: [1], learners: [] } } }], Buffer.alloc(2 << 20, 4)),
      (e: unknown) => e instanceof StorageError && e.code === 'disk-full' && /previous snapshot is intact/.test(e.message),
    );
    assert.equal(fs.readdirSync(path.join(dir, 'snap')).filter((n) => n.endsWith('.tmp')).length, 0, 'no temporary file left');
    // The WAL segment was preallocated, so appends still fit.
    assert.equal(store.failed, null);
    await store.append([write(0, entries(0, 11, 12, 1, 100), { term: 1, vote: 0, commit: 12 })]);
    await store.close();
    const r = await LogStore.open(dir, opts);
    const g = find(r.recovered, 0);
    assert.equal(g.snapshot!.meta.index, 5);
    assert.ok(Buffer.from(g.snapshot!.data).equals(small));
    assert.deepEqual(g.entries.map((e) => e.index), [6, 7, 8, 9, 10, 11, 12]);
    await r.store.close();
  });
});
