import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { CorruptionError, LogStore, StorageError } from '../../runtime/storage/index.js';
import { writeSnapshotFile } from '../../runtime/storage/snapshot-file.js';
import type { GroupWrite, Membership } from '../../runtime/protocols/api.js';
import { entries, find, quiet, rmDir, segmentFiles, tempDir, write } from './helpers.js';

const membership: Membership = { voters: [1, 2, 3], learners: [4] };

function image(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 131 + seed * 7 + (i >> 9)) & 0xff;
  return b;
}

async function* chunks(buf: Buffer, sizes: number[]): AsyncIterable<Uint8Array> {
  let off = 0;
  let k = 0;
  while (off < buf.length) {
    const n = sizes[k++ % sizes.length]!;
    yield buf.subarray(off, off + n);
    off += n;
    await Promise.resolve();
  }
}

function snapFiles(dir: string): string[] {
  return fs.readdirSync(path.join(dir, 'snap')).sort();
}

test('saveSnapshot streams an image, compacts covered segments, and recovery restores both', async () => {
  const dir = tempDir('snap');
  try {
    const { store } = await LogStore.open(dir, { ...quiet, segmentBytes: 4096 });
    for (let i = 1; i <= 60; i += 5) await store.append([write(0, entries(0, i, i + 4, 1, 300), { term: 1, vote: 1, commit: i + 4 })]);
    const laneDir = path.join(dir, 'wal', 'main');
    const before = segmentFiles(laneDir);
    assert.ok(before.length >= 5, `several segments (${before.length})`);
    const img = image(700_000, 1);
    const saved = await store.saveSnapshot([{ group: 0, meta: { index: 40, term: 1, membership } }], chunks(img, [1, 4095, 70_000, 333]));
    assert.equal(saved.size, img.length);
    const after = segmentFiles(laneDir);
    assert.ok(after.length < before.length, `compaction deleted segments (${before.length} -> ${after.length})`);
    assert.equal(after[0]! > before[0]!, true, 'the oldest segments went first');
    await store.append([write(0, entries(0, 61, 62, 2), { term: 2, vote: 0, commit: 61 })]);
    await store.close();
    const r = await LogStore.open(dir, quiet);
    const g = find(r.recovered, 0);
    assert.deepEqual(g.snapshot?.meta, { index: 40, term: 1, membership });
    assert.ok(Buffer.from(g.snapshot!.data).equals(img));
    assert.deepEqual(g.entries.map((e) => e.index), Array.from({ length: 22 }, (_, i) => 41 + i));
    assert.deepEqual(g.hardState, { term: 2, vote: 0, commit: 61 });
    const rs = r.store.readSnapshot(0)!;
    const parts: Buffer[] = [];
    for await (const p of rs.stream) parts.push(Buffer.from(p));
    assert.ok(Buffer.concat(parts).equals(img));
    await r.store.close();
  } finally {
    rmDir(dir);
  }
});

test('one image shared by several groups (multi-Raft) is stored once and recovered for each', async () => {
  const dir = tempDir('shared');
  try {
    const { store } = await LogStore.open(dir, quiet);
    await store.append([write(0, entries(0, 1, 10, 1), { term: 1, vote: 0, commit: 10 }), write(1, entries(1, 1, 4, 3), { term: 3, vote: 0, commit: 4 })]);
    const img = image(5000, 2);
    await store.saveSnapshot([{ group: 0, meta: { index: 8, term: 1, membership } }, { group: 1, meta: { index: 4, term: 3, membership } }], img);
    assert.equal(snapFiles(dir).length, 1);
    // A later image where group 1 did not advance: both groups move to the new file.
    const img2 = image(6000, 3);
    await store.saveSnapshot([{ group: 0, meta: { index: 10, term: 1, membership } }, { group: 1, meta: { index: 4, term: 3, membership } }], img2);
    assert.equal(snapFiles(dir).length, 1, 'the older image was deleted once unreferenced');
    await store.close();
    const r = await LogStore.open(dir, quiet);
    assert.ok(Buffer.from(find(r.recovered, 0).snapshot!.data).equals(img2));
    assert.ok(Buffer.from(find(r.recovered, 1).snapshot!.data).equals(img2));
    assert.equal(find(r.recovered, 1).entries.length, 0);
    await r.store.close();
  } finally {
    rmDir(dir);
  }
});

test('the previous snapshot stays until the new one is durable; leftovers of a crash are removed', async () => {
  const dir = tempDir('keepprev');
  try {
    const { store } = await LogStore.open(dir, quiet);
    await store.append([write(0, entries(0, 1, 20, 1), { term: 1, vote: 0, commit: 20 })]);
    const img1 = image(10_000, 4);
    await store.saveSnapshot([{ group: 0, meta: { index: 5, term: 1, membership } }], img1);
    const [first] = snapFiles(dir);
    // A stream that stalls until released: while it is being written the old image must exist.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    async function* slow(): AsyncIterable<Uint8Array> {
      yield image(1000, 5);
      await gate;
      yield image(1000, 6);
    }
    const pending = store.saveSnapshot([{ group: 0, meta: { index: 10, term: 1, membership } }], slow());
    await new Promise((r) => setTimeout(r, 20));
    assert.ok(snapFiles(dir).includes(first!), 'old image present while the new one is written');
    assert.ok(snapFiles(dir).some((n) => n.endsWith('.tmp')), 'new image is still a temporary file');
    release();
    await pending;
    assert.deepEqual(snapFiles(dir).length, 1);
    assert.notEqual(snapFiles(dir)[0], first);
    // A failing stream: nothing published, the current snapshot is untouched, the store works on.
    async function* broken(): AsyncIterable<Uint8Array> {
      yield image(100, 7);
      throw new Error('state machine failed');
    }
    const current = snapFiles(dir);
    await assert.rejects(store.saveSnapshot([{ group: 0, meta: { index: 15, term: 1, membership } }], broken()), /state machine failed/);
    assert.deepEqual(snapFiles(dir), current);
    await store.append([write(0, entries(0, 21, 21, 1))]);
    await store.close();
    // Simulate crashes: a published image whose WAL record never became durable, and a temp file.
    const snapDir = path.join(dir, 'snap');
    const orphan = await writeSnapshotFile(snapDir, 999, image(100, 8));
    fs.writeFileSync(path.join(snapDir, '00000000000003e8.snap.tmp'), 'partial');
    const r = await LogStore.open(dir, quiet);
    assert.equal(find(r.recovered, 0).snapshot!.meta.index, 10);
    assert.ok(r.report.removedFiles.includes(orphan.file));
    assert.deepEqual(snapFiles(dir), current);
    await r.store.close();
  } finally {
    rmDir(dir);
  }
});

test('snapshot damage is detected with file and offset, on open and when streaming', async () => {
  const dir = tempDir('snapcrc');
  try {
    const { store } = await LogStore.open(dir, quiet);
    await store.append([write(0, entries(0, 1, 3, 1), { term: 1, vote: 0, commit: 3 })]);
    const img = image(600_000, 9);
    const saved = await store.saveSnapshot([{ group: 0, meta: { index: 3, term: 1, membership } }], img);
    await store.close();
    const original = fs.readFileSync(saved.file);
    const BLOCK = 256 * 1024 + 8;
    // Byte 300,000 of the image sits in the second block (blocks start at 32 and 32 + BLOCK).
    const at = 32 + 8 + 300_000 + 8;
    const damaged = Buffer.from(original);
    damaged[at] = damaged[at]! ^ 1;
    fs.writeFileSync(saved.file, damaged);
    await assert.rejects(LogStore.open(dir, quiet), (e: unknown) => e instanceof CorruptionError && e.file === saved.file && e.offset === 32 + BLOCK && /block 1 checksum/.test(e.message));
    // Damage in the trailer, and a truncated file.
    const t = Buffer.from(original);
    t[t.length - 10] = t[t.length - 10]! ^ 1;
    fs.writeFileSync(saved.file, t);
    await assert.rejects(LogStore.open(dir, quiet), (e: unknown) => e instanceof CorruptionError && e.offset === original.length - 24);
    fs.writeFileSync(saved.file, original.subarray(0, 100_000));
    await assert.rejects(LogStore.open(dir, quiet), (e: unknown) => e instanceof CorruptionError && e.file === saved.file && typeof e.offset === 'number');
    fs.rmSync(saved.file);
    await assert.rejects(LogStore.open(dir, quiet), (e: unknown) => e instanceof CorruptionError && /missing/.test(e.message));
    // Intact again: opens; then damage it under a running store and stream it.
    fs.writeFileSync(saved.file, original);
    const r = await LogStore.open(dir, quiet);
    fs.writeFileSync(saved.file, damaged);
    const rs = r.store.readSnapshot(0)!;
    await assert.rejects(
      (async () => {
        for await (const _ of rs.stream) void _;
      })(),
      (e: unknown) => e instanceof CorruptionError && e.offset === 32 + BLOCK,
    );
    fs.writeFileSync(saved.file, original);
    await r.store.close();
  } finally {
    rmDir(dir);
  }
});

test('a snapshot received from a leader replaces a conflicting log and keeps a matching suffix', async () => {
  const dir = tempDir('received');
  try {
    const { store } = await LogStore.open(dir, quiet);
    await store.append([write(0, entries(0, 1, 10, 1), { term: 1, vote: 0, commit: 3 }), write(1, entries(1, 1, 10, 1), { term: 1, vote: 0, commit: 3 })]);
    const imgA = image(3000, 10);
    const imgB = image(4000, 11);
    // Group 0: the snapshot's last entry is in the log with the same term: suffix 8..10 stays.
    // Group 1: the log disagrees at index 8: everything goes. The append right after it (not
    // awaited in between) must land after the snapshot.
    const p1 = store.append([
      { group: 0, hardState: { term: 2, vote: 0, commit: 7 }, entries: [], snapshot: { meta: { index: 7, term: 1, membership }, data: imgA } },
      { group: 1, hardState: { term: 2, vote: 0, commit: 8 }, entries: [], snapshot: { meta: { index: 8, term: 2, membership }, data: imgB } },
    ]);
    const p2 = store.append([write(1, entries(1, 9, 9, 2), { term: 2, vote: 0, commit: 9 })]);
    // A stale one (older than the current snapshot) is ignored.
    const p3 = store.append([{ group: 0, hardState: null, entries: [], snapshot: { meta: { index: 5, term: 1, membership }, data: image(10, 12) } }]);
    await Promise.all([p1, p2, p3]);
    // Commit through 10; a snapshot that contradicts committed entry 9 is then refused.
    await store.append([write(0, [], { term: 2, vote: 0, commit: 10 })]);
    await assert.rejects(
      store.append([{ group: 0, hardState: null, entries: [], snapshot: { meta: { index: 9, term: 5, membership }, data: imgA } }]),
      (e: unknown) => e instanceof StorageError && e.code === 'invalid-write' && /contradicts committed entry 9/.test(e.message),
    );
    await store.close();
    assert.equal(snapFiles(dir).length, 2, 'refused and stale snapshots left no files');
    const r = await LogStore.open(dir, quiet);
    const g0 = find(r.recovered, 0);
    assert.deepEqual(g0.snapshot!.meta, { index: 7, term: 1, membership });
    assert.ok(Buffer.from(g0.snapshot!.data).equals(imgA));
    assert.deepEqual(g0.entries.map((e) => [e.index, e.term]), [[8, 1], [9, 1], [10, 1]]);
    assert.deepEqual(g0.hardState, { term: 2, vote: 0, commit: 10 });
    const g1 = find(r.recovered, 1);
    assert.deepEqual(g1.snapshot!.meta, { index: 8, term: 2, membership });
    assert.ok(Buffer.from(g1.snapshot!.data).equals(imgB));
    assert.deepEqual(g1.entries.map((e) => [e.index, e.term]), [[9, 2]]);
    assert.deepEqual(g1.hardState, { term: 2, vote: 0, commit: 9 });
    await r.store.close();
  } finally {
    rmDir(dir);
  }
});

test('an image being read stays until its reader is done, even when a newer snapshot replaces it', async () => {
  const dir = tempDir('pin');
  try {
    const { store } = await LogStore.open(dir, quiet);
    await store.append([write(0, entries(0, 1, 10, 1), { term: 1, vote: 0, commit: 10 })]);
    const img1 = image(700_000, 21);
    await store.saveSnapshot([{ group: 0, meta: { index: 4, term: 1, membership } }], img1);
    const reading = store.readSnapshot(0)!;
    const unused = store.readSnapshot(0)!;
    await store.saveSnapshot([{ group: 0, meta: { index: 8, term: 1, membership } }], image(1000, 22));
    assert.equal(snapFiles(dir).length, 2, 'the old image is pinned by its readers');
    const parts: Buffer[] = [];
    for await (const p of reading.stream) parts.push(Buffer.from(p));
    assert.ok(Buffer.concat(parts).equals(img1));
    await (unused.stream as AsyncGenerator<Uint8Array>).return(undefined);
    await store.compact();
    assert.equal(snapFiles(dir).length, 1, 'released once both readers are done');
    await store.close();
  } finally {
    rmDir(dir);
  }
});

test("GroupWrite.compacted (the core's compaction snapshot) is persisted after the write's entries", async () => {
  const dir = tempDir('compacted');
  try {
    const { store } = await LogStore.open(dir, quiet);
    const img = image(5000, 31);
    const cw = (group: number, index: number, data: Uint8Array, extra: Partial<GroupWrite> = {}): GroupWrite =>
      ({ group, hardState: null, entries: [], snapshot: null, compacted: { meta: { index, term: 1, membership }, data }, ...extra }) as GroupWrite;
    // Entries, commit and a compaction at 6 in one write: the compaction applies after them.
    await store.append([cw(0, 6, img, { entries: entries(0, 1, 10, 1), hardState: { term: 1, vote: 0, commit: 8 } })]);
    // Two groups compacted with the same image object share one file.
    await store.append([write(1, entries(1, 1, 5, 1), { term: 1, vote: 0, commit: 5 })]);
    const img2 = image(6000, 32);
    await store.append([cw(0, 8, img2), cw(1, 4, img2)]);
    assert.equal(snapFiles(dir).length, 1, 'old image gone, new one shared');
    // A compaction not newer than the current snapshot is ignored; one beyond the log is refused.
    await store.append([cw(0, 7, image(10, 33))]);
    await assert.rejects(store.append([cw(0, 12, image(10, 34))]), (e: unknown) => e instanceof StorageError && /compacted: local snapshot at index 12/.test(e.message));
    assert.equal(snapFiles(dir).length, 1);
    await store.close();
    const r = await LogStore.open(dir, quiet);
    const g0 = find(r.recovered, 0);
    assert.equal(g0.snapshot!.meta.index, 8);
    assert.ok(Buffer.from(g0.snapshot!.data).equals(img2));
    assert.deepEqual(g0.entries.map((e) => e.index), [9, 10]);
    const g1 = find(r.recovered, 1);
    assert.equal(g1.snapshot!.meta.index, 4);
    assert.ok(Buffer.from(g1.snapshot!.data).equals(img2));
    assert.deepEqual(g1.entries.map((e) => e.index), [5]);
    await r.store.close();
  } finally {
    rmDir(dir);
  }
});
