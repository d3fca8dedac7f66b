import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { LogStore, StorageError } from '../../runtime/storage/index.js';
import type { HardState } from '../../runtime/protocols/api.js';
import { entries, find, payload, quiet, rmDir, segmentFiles, tempDir, view, write } from './helpers.js';

test('round trip: entries and hard state of several groups survive close and reopen', async () => {
  const dir = tempDir('roundtrip');
  try {
    const { store, recovered } = await LogStore.open(dir, quiet);
    assert.deepEqual(recovered, []);
    await store.append([write(0, entries(0, 1, 5, 1), { term: 1, vote: 2, commit: 0 })]);
    await store.append([write(1, entries(1, 1, 3, 4, 1500)), write(0, entries(0, 6, 7, 1), { term: 1, vote: 2, commit: 6 })]);
    await store.append([{ group: 7, hardState: { term: 9, vote: 0, commit: 0 }, entries: [], snapshot: null }]);
    await store.close();
    const r = await LogStore.open(dir, quiet);
    const g0 = find(r.recovered, 0);
    assert.deepEqual(g0.hardState, { term: 1, vote: 2, commit: 6 });
    assert.deepEqual(g0.entries.map((e) => e.index), [1, 2, 3, 4, 5, 6, 7]);
    assert.deepEqual(Buffer.from(g0.entries[6]!.data), Buffer.from(payload(0, 7, 1)));
    const g1 = find(r.recovered, 1);
    assert.deepEqual(g1.hardState, { term: 0, vote: 0, commit: 0 });
    assert.equal(g1.entries.length, 3);
    assert.deepEqual(Buffer.from(g1.entries[2]!.data), Buffer.from(payload(1, 3, 4, 1500)));
    assert.deepEqual(find(r.recovered, 7).hardState, { term: 9, vote: 0, commit: 0 });
    assert.deepEqual(find(r.recovered, 7).entries, []);
    assert.equal(r.report.warnings.length, 0);
    // Reopen once more after appending through the second incarnation: state keeps accumulating.
    await r.store.append([write(0, entries(0, 8, 8, 2), { term: 2, vote: 3, commit: 7 })]);
    await r.store.close();
    const r2 = await LogStore.open(dir, quiet);
    assert.deepEqual(find(r2.recovered, 0).entries.map((e) => [e.index, e.term]).slice(-2), [[7, 1], [8, 2]]);
    assert.deepEqual(find(r2.recovered, 0).hardState, { term: 2, vote: 3, commit: 7 });
    await r2.store.close();
  } finally {
    rmDir(dir);
  }
});

test('truncate on conflict: a write starting at or below the last index replaces the suffix', async () => {
  const dir = tempDir('truncate');
  try {
    const { store } = await LogStore.open(dir, quiet);
    await store.append([write(0, entries(0, 1, 10, 1), { term: 1, vote: 1, commit: 3 })]);
    await store.append([write(0, entries(0, 6, 7, 2), { term: 2, vote: 0, commit: 3 })]);
    await store.close();
    const r = await LogStore.open(dir, quiet);
    const g = find(r.recovered, 0);
    assert.deepEqual(g.entries.map((e) => [e.index, e.term]), [[1, 1], [2, 1], [3, 1], [4, 1], [5, 1], [6, 2], [7, 2]]);
    assert.deepEqual(Buffer.from(g.entries[5]!.data), Buffer.from(payload(0, 6, 2)));
    // Keep appending after the truncation and again truncate across the reopen boundary.
    await r.store.append([write(0, entries(0, 8, 9, 2))]);
    await r.store.append([write(0, entries(0, 5, 5, 3), { term: 3, vote: 0, commit: 4 })]);
    await r.store.close();
    const r2 = await LogStore.open(dir, quiet);
    assert.deepEqual(find(r2.recovered, 0).entries.map((e) => [e.index, e.term]), [[1, 1], [2, 1], [3, 1], [4, 1], [5, 3]]);
    await r2.store.close();
  } finally {
    rmDir(dir);
  }
});

test('invalid writes are refused with a clear error and change nothing', async () => {
  const dir = tempDir('invalid');
  try {
    const { store } = await LogStore.open(dir, quiet);
    await store.append([write(0, entries(0, 1, 5, 2), { term: 2, vote: 1, commit: 4 })]);
    const cases: Array<[string, Parameters<LogStore['append']>[0], RegExp]> = [
      ['gap', [write(0, entries(0, 7, 8, 2))], /gap after the last index 5/],
      ['overwrite committed', [write(0, entries(0, 3, 3, 3))], /would overwrite committed entry 3/],
      ['term backwards', [write(0, [], { term: 1, vote: 0, commit: 4 })], /term went backwards/],
      ['commit beyond log', [write(0, [], { term: 2, vote: 1, commit: 9 })], /commit index 9 is beyond/],
      ['entry term below predecessor', [write(0, entries(0, 6, 6, 1))], /lower than the term 2/],
      ['not contiguous', [write(0, [...entries(0, 6, 6, 2), ...entries(0, 8, 8, 2)])], /not contiguous/],
      ['bad data', [write(0, [{ index: 6, term: 2, type: 0, data: 'x' as unknown as Uint8Array }])], /not an Entry/],
      ['bad group', [write(-1, [])], /not a GroupWrite/],
    ];
    for (const [name, w, re] of cases) {
      await assert.rejects(store.append(w), (e: unknown) => e instanceof StorageError && e.code === 'invalid-write' && re.test(e.message), name);
    }
    // A refused multi-group append leaves the valid group's part unwritten too.
    await assert.rejects(store.append([write(1, entries(1, 1, 1, 1)), write(0, entries(0, 9, 9, 2))]), /gap/);
    // The store still works and overlapping-but-identical committed entries are accepted.
    await store.append([write(0, entries(0, 4, 6, 2), { term: 2, vote: 1, commit: 5 })]);
    await store.close();
    const r = await LogStore.open(dir, quiet);
    assert.deepEqual(view(r.recovered), view([{ group: 0, hardState: { term: 2, vote: 1, commit: 5 }, snapshot: null, entries: entries(0, 1, 6, 2) }]));
    await r.store.close();
  } finally {
    rmDir(dir);
  }
});

test('group commit: concurrent appends share writes and fdatasyncs', async () => {
  const dir = tempDir('groupcommit');
  try {
    const { store } = await LogStore.open(dir, quiet);
    const N = 64;
    const ROUNDS = 20;
    const hs: HardState[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const ps: Promise<void>[] = [];
      for (let g = 0; g < N; g++) {
        const h = { term: round + 1, vote: 0, commit: 0 };
        if (g === 0) hs.push(h);
        ps.push(store.append([write(g, entries(g, round + 1, round + 1, round + 1, 1024), h)]));
      }
      await Promise.all(ps);
    }
    const s = store.stats();
    assert.equal(s.appends, N * ROUNDS);
    assert.equal(s.records, N * ROUNDS * 2);
    // Each round of 64 concurrent appends needs at most 2 batches (one may already be in flight
    // when the rest arrive); plus the segment creation's syncs.
    assert.ok(s.fsyncs <= 2 * ROUNDS + 4, `expected few fdatasyncs for ${N * ROUNDS} appends, got ${s.fsyncs}`);
    assert.ok(s.batches < s.appends / 10, `batches ${s.batches} for ${s.appends} appends`);
    await store.close();
    const r = await LogStore.open(dir, quiet);
    assert.equal(r.recovered.length, N);
    for (const st of r.recovered) assert.equal(st.entries.length, ROUNDS);
    await r.store.close();
  } finally {
    rmDir(dir);
  }
});

test('sync policies: batch resolves only when durable and batches more; none is labelled unsafe', async () => {
  const dir = tempDir('policies');
  try {
    const { store } = await LogStore.open(dir, { ...quiet, sync: { mode: 'batch', maxDelayMs: 20 } });
    const ps: Promise<void>[] = [];
    for (let i = 1; i <= 30; i++) {
      ps.push(store.append([write(0, entries(0, i, i, 1))]));
      await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.all(ps);
    const s = store.stats();
    assert.ok(s.batches < 30, `batch mode wrote ${s.batches} batches for 30 spaced appends`);
    assert.ok(s.fsyncs >= s.batches, 'batch mode fdatasyncs every batch');
    await store.close();
    const warnings: string[] = [];
    const r = await LogStore.open(dir, { sync: { mode: 'none' }, onWarning: (m) => warnings.push(m) });
    assert.ok(warnings.some((w) => /UNSAFE/.test(w)), 'none mode warns');
    assert.equal(find(r.recovered, 0).entries.length, 30);
    await r.store.append([write(0, entries(0, 31, 31, 1))]);
    assert.equal(r.store.stats().lanes[0]!.fsyncs, 2, 'none mode only syncs when creating a segment');
    await r.store.close();
    const r2 = await LogStore.open(dir, quiet);
    assert.equal(find(r2.recovered, 0).entries.length, 31);
    await r2.store.close();
  } finally {
    rmDir(dir);
  }
});

test('batch policy: a full batch (maxBatchBytes) is written without waiting for maxDelayMs', async () => {
  const dir = tempDir('batchbytes');
  try {
    const { store } = await LogStore.open(dir, { ...quiet, sync: { mode: 'batch', maxDelayMs: 1000, maxBatchBytes: 8192 } });
    // Creating the first segment happens on the first batch; get it out of the way.
    await store.append([write(0, entries(0, 1, 1, 1))]);
    const before = store.stats().batches;
    let timedOut = false;
    const timer = new Promise<void>((r) => setTimeout(() => ((timedOut = true), r()), 1000));
    const big = store.append([write(0, entries(0, 2, 4, 1, 4096))]);
    await Promise.race([big, timer]);
    assert.equal(timedOut, false, 'the size trigger flushed before the 1000 ms delay');
    assert.equal(store.stats().batches, before + 1);
    await store.close();
  } finally {
    rmDir(dir);
  }
});

test('the sync policy can be changed at run time', async () => {
  const dir = tempDir('setsync');
  try {
    const { store } = await LogStore.open(dir, quiet);
    assert.deepEqual(store.syncPolicy, { mode: 'always' });
    assert.throws(() => store.setSyncPolicy({ mode: 'batch' } as never), /maxDelayMs/);
    store.setSyncPolicy({ mode: 'batch', maxDelayMs: 30 });
    const ps: Promise<void>[] = [];
    for (let i = 1; i <= 20; i++) {
      ps.push(store.append([write(0, entries(0, i, i, 1))]));
      await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.all(ps);
    const batched = store.stats().batches;
    assert.ok(batched < 20, `batch policy in force: ${batched} batches for 20 spaced appends`);
    store.setSyncPolicy({ mode: 'always' });
    await store.close();
    const r = await LogStore.open(dir, quiet);
    assert.equal(find(r.recovered, 0).entries.length, 20);
    await r.store.close();
  } finally {
    rmDir(dir);
  }
});

test('options are validated with field paths', async () => {
  const dir = tempDir('options');
  try {
    await assert.rejects(LogStore.open(dir, { sync: { mode: 'batch' } as never }), (e: unknown) => (e as Error).name === 'ConfigError' && /sync\.maxDelayMs/.test((e as Error).message));
    await assert.rejects(LogStore.open(dir, { segmentBytes: 10 }), /segmentBytes/);
    await assert.rejects(LogStore.open(dir, { laneDirs: { a: 'relative' } }), /laneDirs\.a/);
    fs.writeFileSync(path.join(dir, 'stranger'), 'x');
    await assert.rejects(LogStore.open(dir, quiet), (e: unknown) => e instanceof StorageError && e.code === 'layout' && /not empty/.test(e.message));
  } finally {
    rmDir(dir);
  }
});

test('per-group WAL layout: each group has its own directory; changing the layout is refused', async () => {
  const dir = tempDir('pergroup');
  try {
    const { store } = await LogStore.open(dir, { ...quiet, walLayout: 'per-group', segmentBytes: 1 << 16 });
    await Promise.all([0, 1, 2].map((g) => store.append([write(g, entries(g, 1, 4, 1), { term: 1, vote: 0, commit: 2 })])));
    const st = store.stats();
    assert.deepEqual(st.lanes.map((l) => l.lane).sort(), ['g0', 'g1', 'g2']);
    await store.close();
    for (const g of [0, 1, 2]) assert.equal(segmentFiles(path.join(dir, 'wal', `g${g}`)).length, 1);
    const r = await LogStore.open(dir, { ...quiet, walLayout: 'per-group' });
    assert.deepEqual(r.recovered.map((s) => [s.group, s.entries.length, s.hardState.commit]), [[0, 4, 2], [1, 4, 2], [2, 4, 2]]);
    await r.store.close();
    await assert.rejects(LogStore.open(dir, quiet), (e: unknown) => e instanceof StorageError && e.code === 'layout' && /lane "g0"/.test(e.message));
    // A custom layout: two lanes, one of them moved to another directory.
    const other = tempDir('pergroup-other');
    try {
      const dir2 = tempDir('custom');
      const layout = { walLayout: (g: number) => (g % 2 === 0 ? 'even' : 'odd'), laneDirs: { odd: path.join(other, 'odd') } };
      const o = await LogStore.open(dir2, { ...quiet, ...layout });
      await o.store.append([write(0, entries(0, 1, 2, 1)), write(1, entries(1, 1, 2, 1)), write(3, entries(3, 1, 1, 1))]);
      await o.store.close();
      assert.equal(segmentFiles(path.join(other, 'odd')).length, 1);
      const o2 = await LogStore.open(dir2, { ...quiet, ...layout });
      assert.deepEqual(o2.recovered.map((s) => s.group), [0, 1, 3]);
      await o2.store.close();
      rmDir(dir2);
    } finally {
      rmDir(other);
    }
  } finally {
    rmDir(dir);
  }
});

test('an append with nothing to write resolves after earlier appends are durable', async () => {
  const dir = tempDir('empty');
  try {
    const { store } = await LogStore.open(dir, quiet);
    let firstDone = false;
    const p1 = store.append([write(0, entries(0, 1, 100, 1, 4096))]).then(() => (firstDone = true));
    await store.append([]);
    await store.append([write(0, [])]);
    assert.equal(firstDone, true);
    await p1;
    await store.close();
    await assert.rejects(store.append([write(0, entries(0, 101, 101, 1))]), (e: unknown) => e instanceof StorageError && e.code === 'closed');
  } finally {
    rmDir(dir);
  }
});

test('a store cannot be opened twice for writing (advisory lock); read-only inspection can', async () => {
  const dir = tempDir('lock');
  try {
    const a = await LogStore.open(dir, quiet);
    await a.store.append([write(0, entries(0, 1, 2, 1))]);
    await assert.rejects(LogStore.open(dir, quiet), (e: unknown) => e instanceof StorageError && e.code === 'layout' && /in use by another open log store/.test(e.message));
    const ro = await LogStore.open(dir, { ...quiet, readOnly: true });
    assert.equal(find(ro.recovered, 0).entries.length, 2);
    await ro.store.close();
    await a.store.close();
    const b = await LogStore.open(dir, quiet);
    await b.store.close();
  } finally {
    rmDir(dir);
  }
});
