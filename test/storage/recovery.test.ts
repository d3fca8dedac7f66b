// Recovery rules: a torn last write is cut off with a warning; damage anywhere else refuses to
// start, naming the file and the byte offset, and leaves the disk untouched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { CorruptionError, LogStore } from '../../runtime/storage/index.js';
import { entries, find, quiet, rmDir, segmentFiles, tempDir, view, write } from './helpers.js';

async function tailOf(store: LogStore): Promise<{ file: string; size: number }> {
  const t = store.tail()[0]!;
  assert.ok(t.file !== null);
  return { file: t.file, size: t.size };
}

test('torn tail at every byte offset of the last write recovers the previous state with a warning', async () => {
  const dir = tempDir('torn');
  try {
    const o1 = await LogStore.open(dir, { ...quiet, segmentBytes: 1 << 16 });
    await o1.store.append([write(0, entries(0, 1, 3, 1), { term: 1, vote: 1, commit: 2 })]);
    await o1.store.close();
    const o2 = await LogStore.open(dir, { ...quiet, segmentBytes: 1 << 16 });
    const expected = view(o2.recovered);
    await o2.store.append([write(0, entries(0, 4, 4, 1), { term: 1, vote: 1, commit: 3 })]);
    const { file, size: start0 } = await tailOf(o2.store);
    await o2.store.append([write(0, entries(0, 5, 5, 2), { term: 2, vote: 0, commit: 4 })]);
    const { size: end } = await tailOf(o2.store);
    await o2.store.close();
    const withFour = view([{ ...find(o2.recovered, 0), hardState: { term: 1, vote: 1, commit: 3 }, entries: entries(0, 1, 4, 1) }]);
    void expected;
    const withFive = view([{ group: 0, hardState: { term: 2, vote: 0, commit: 4 }, snapshot: null, entries: [...entries(0, 1, 4, 1), ...entries(0, 5, 5, 2)] }]);
    const original = fs.readFileSync(file);
    assert.ok(original.length >= end, 'segment holds the last batch');
    let cases = 0;
    for (let cut = start0; cut < end; cut++) {
      for (const variant of ['short', 'zeros'] as const) {
        // 'short': the file ends inside the write; 'zeros': the rest of a preallocated file is zero.
        const torn = variant === 'short' ? original.subarray(0, cut) : Buffer.concat([original.subarray(0, cut), Buffer.alloc(original.length - cut)]);
        fs.writeFileSync(file, torn);
        const warnings: string[] = [];
        const r = await LogStore.open(dir, { onWarning: (m) => warnings.push(m) });
        // The write's own trailing bytes may be zeros (vote 0, reserved): zero-filling from such a
        // cut leaves the write complete, and then it must be kept.
        const complete = variant === 'zeros' && original.subarray(cut, end).every((x) => x === 0);
        if (complete) {
          assert.deepEqual(view(r.recovered), withFive, `cut at ${cut} (${variant}) leaves the write complete`);
          assert.equal(r.report.lanes[0]!.tornTail, null);
          await r.store.close();
          fs.writeFileSync(file, original);
          cases++;
          continue;
        }
        assert.deepEqual(view(r.recovered), withFour, `cut at ${cut} (${variant})`);
        const lane = r.report.lanes[0]!;
        if (cut === start0) {
          assert.equal(lane.tornTail, null, 'nothing of the write reached the disk: no warning');
          assert.equal(warnings.length, 0);
        } else {
          assert.equal(lane.tornTail?.offset, start0, `cut at ${cut} (${variant}) reports the start of the torn write`);
          assert.equal(lane.tornTail?.file, file);
          assert.equal(warnings.length, 1);
          assert.match(warnings[0]!, new RegExp(`byte offset ${start0} of ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
        }
        await r.store.close();
        // Recovery cut the file at the last valid batch.
        assert.equal(fs.statSync(file).size, start0);
        cases++;
      }
    }
    assert.ok(cases > 100, `covered ${cases} cuts`);
    // After recovery the store appends again and the next reopen sees it.
    const r = await LogStore.open(dir, quiet);
    await r.store.append([write(0, entries(0, 5, 6, 3), { term: 3, vote: 0, commit: 4 })]);
    await r.store.close();
    const r2 = await LogStore.open(dir, quiet);
    assert.deepEqual(find(r2.recovered, 0).entries.map((e) => [e.index, e.term]).slice(-3), [[4, 1], [5, 3], [6, 3]]);
    assert.equal(r2.report.warnings.length, 0);
    await r2.store.close();
  } finally {
    rmDir(dir);
  }
});

test('a flipped byte anywhere in a middle batch refuses to start, naming file and offset', async () => {
  const dir = tempDir('flip');
  try {
    const { store } = await LogStore.open(dir, { ...quiet, segmentBytes: 1 << 16 });
    const bounds: number[] = [];
    for (let i = 1; i <= 5; i++) {
      await store.append([write(0, entries(0, i, i, 1, 40), { term: 1, vote: 1, commit: i - 1 })]);
      bounds.push((await tailOf(store)).size);
    }
    const { file } = await tailOf(store);
    await store.close();
    const original = fs.readFileSync(file);
    // The third batch: [bounds[1], bounds[2]).
    const from = bounds[1]!;
    const to = bounds[2]!;
    const recordStarts = [from + 32];
    recordStarts.push(recordStarts[0]! + 8 + original.readUInt32LE(recordStarts[0]!));
    for (let at = from; at < to; at++) {
      const damaged = Buffer.from(original);
      damaged[at] = damaged[at]! ^ 0x40;
      fs.writeFileSync(file, damaged);
      await assert.rejects(
        LogStore.open(dir, quiet),
        (e: unknown) => {
          assert.ok(e instanceof CorruptionError, `byte ${at}: ${String(e)}`);
          assert.equal(e.file, file);
          // Damage in the batch header is reported at the batch; in a record, at that record.
          const expectOffset = at < from + 32 ? from : at < recordStarts[1]! ? recordStarts[0] : recordStarts[1];
          assert.equal(e.offset, expectOffset, `byte ${at}: ${e.message}`);
          assert.match(e.message, new RegExp(`at byte offset ${expectOffset}`));
          return true;
        },
        `flipped byte at ${at}`,
      );
      // Refusing changed nothing.
      assert.deepEqual(fs.readFileSync(file), damaged);
    }
    fs.writeFileSync(file, original);
    const r = await LogStore.open(dir, quiet);
    assert.equal(find(r.recovered, 0).entries.length, 5);
    await r.store.close();
  } finally {
    rmDir(dir);
  }
});

test('zero-filled preallocated space after the last write is not data and needs no warning', async () => {
  const dir = tempDir('zerotail');
  try {
    const { store } = await LogStore.open(dir, { ...quiet, segmentBytes: 1 << 20, preallocate: 'fallocate' });
    await store.append([write(0, entries(0, 1, 10, 1), { term: 1, vote: 0, commit: 5 })]);
    const { file, size } = await tailOf(store);
    await store.close();
    assert.equal(fs.statSync(file).size, 1 << 20, 'the active segment was preallocated');
    const warnings: string[] = [];
    const r = await LogStore.open(dir, { onWarning: (m) => warnings.push(m) });
    assert.equal(find(r.recovered, 0).entries.length, 10);
    assert.deepEqual(warnings, []);
    assert.equal(r.report.lanes[0]!.zeroTailBytes, (1 << 20) - size);
    assert.equal(fs.statSync(file).size, size, 'the sealed segment gave its preallocated space back');
    await r.store.close();
  } finally {
    rmDir(dir);
  }
});

test('damage at the end of a segment that is not the last one refuses to start', async () => {
  const dir = tempDir('midseg');
  try {
    const { store } = await LogStore.open(dir, { ...quiet, segmentBytes: 4096 });
    for (let i = 1; i <= 40; i++) await store.append([write(0, entries(0, i, i, 1, 200))]);
    await store.close();
    const segs = segmentFiles(path.join(dir, 'wal', 'main'));
    assert.ok(segs.length >= 3, `expected several segments, got ${segs.length}`);
    const victim = segs[1]!;
    const buf = fs.readFileSync(victim);
    fs.writeFileSync(victim, buf.subarray(0, buf.length - 5)); // cut its last batch short
    await assert.rejects(LogStore.open(dir, quiet), (e: unknown) => e instanceof CorruptionError && e.file === victim && /later segment/.test(e.message));
    fs.writeFileSync(victim, buf);
    fs.rmSync(segs[1]!);
    await assert.rejects(LogStore.open(dir, quiet), (e: unknown) => e instanceof CorruptionError && /segment 2 is missing/.test(e.message));
    fs.writeFileSync(victim, buf);
    const r = await LogStore.open(dir, quiet);
    assert.equal(find(r.recovered, 0).entries.length, 40);
    await r.store.close();
  } finally {
    rmDir(dir);
  }
});

test('a CRC-valid record that contradicts committed data refuses to start', async () => {
  const dir = tempDir('semantic');
  try {
    // Build a log, then splice in a valid-looking record by writing through a second store whose
    // WAL we graft onto the first: group 0 commits 1..3 in A; B truncates at 2 with another term.
    const a = tempDir('semantic-a');
    const b = tempDir('semantic-b');
    const sa = await LogStore.open(a, { ...quiet, preallocate: 'off' });
    await sa.store.append([write(0, entries(0, 1, 3, 1), { term: 1, vote: 0, commit: 3 })]);
    await sa.store.close();
    const sb = await LogStore.open(b, { ...quiet, preallocate: 'off' });
    await sb.store.append([write(0, entries(0, 1, 3, 1))]);
    await sb.store.append([write(0, entries(0, 2, 2, 2))]);
    await sb.store.close();
    // Same shape of files; take A's segment and append B's last batch, re-sealed with A's salt.
    const segA = segmentFiles(path.join(a, 'wal', 'main'))[0]!;
    const segB = segmentFiles(path.join(b, 'wal', 'main'))[0]!;
    const bufA = fs.readFileSync(segA);
    const bufB = fs.readFileSync(segB);
    const { readBatchHeader, writeBatchHeader } = await import('../../runtime/storage/wal-format.js');
    const saltA = bufA.readUInt32LE(16);
    const saltB = bufB.readUInt32LE(16);
    // Walk B's batches to the last one.
    let off = 64;
    let last = 64;
    for (;;) {
      const h = readBatchHeader(bufB, off, saltB);
      if (!h) break;
      last = off;
      off += 32 + h.bodyLength;
    }
    const hb = readBatchHeader(bufB, last, saltB)!;
    const graft = Buffer.from(bufB.subarray(last, last + 32 + hb.bodyLength));
    let seqA = 0;
    for (let o = 64; ; ) {
      const h = readBatchHeader(bufA, o, saltA);
      if (!h) break;
      seqA = h.seq;
      o += 32 + h.bodyLength;
    }
    writeBatchHeader(graft, 0, saltA, hb.bodyLength, hb.count, seqA + 1, 0);
    fs.writeFileSync(segA, Buffer.concat([bufA, graft]));
    await assert.rejects(
      LogStore.open(a, quiet),
      (e: unknown) => e instanceof CorruptionError && e.file === segA && e.offset === bufA.length + 32 && /overwrite committed entry 2/.test(e.message),
    );
    rmDir(a);
    rmDir(b);
  } finally {
    rmDir(dir);
  }
});

test('read-only open (verdant storage verify) reports without changing anything', async () => {
  const { execFileSync, spawnSync } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const cli = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'cli', 'verdant.js');
  const dir = tempDir('verify');
  try {
    const { store } = await LogStore.open(dir, { ...quiet, segmentBytes: 1 << 16 });
    await store.append([write(0, entries(0, 1, 3, 1), { term: 1, vote: 1, commit: 2 })]);
    await store.append([write(0, entries(0, 4, 4, 1), { term: 1, vote: 1, commit: 3 })]);
    const { file, size } = await tailOf(store);
    await store.close();
    const full = fs.readFileSync(file);
    fs.writeFileSync(file, full.subarray(0, size - 3)); // torn last write
    const before = fs.readFileSync(file);
    const r = await LogStore.open(dir, { ...quiet, readOnly: true });
    assert.equal(r.report.lanes[0]!.tornTail?.file, file);
    await assert.rejects(r.store.append([write(0, entries(0, 4, 4, 1))]), /read-only/);
    await r.store.close();
    assert.deepEqual(fs.readFileSync(file), before, 'read-only recovery did not cut the tail');
    const out = execFileSync(process.execPath, [cli, 'storage', 'verify', dir], { encoding: 'utf8' });
    assert.match(out, /OK \(1 groups/);
    assert.match(out, /group 0: term 1 vote 1 commit 2, snapshot at 0, entries 1\.\.3 \(3\)/);
    assert.match(out, /torn tail at byte/);
    // A flipped byte in the first batch: exit 1 with file and offset.
    const bad = Buffer.from(before);
    bad[64 + 32 + 20] = bad[64 + 32 + 20]! ^ 0x10;
    fs.writeFileSync(file, bad);
    const res = spawnSync(process.execPath, [cli, 'storage', 'verify', dir], { encoding: 'utf8' });
    assert.equal(res.status, 1);
    assert.match(res.stderr, new RegExp(`storage corruption: .*${path.basename(file)} at byte offset \\d+`));
    assert.deepEqual(fs.readFileSync(file), bad);
  } finally {
    rmDir(dir);
  }
});

test('power-loss shapes of the last write (any sector missing, later ones present) are a torn tail, not corruption', async () => {
  const dir = tempDir('sectors');
  try {
    const o = await LogStore.open(dir, { ...quiet, segmentBytes: 1 << 16 });
    await o.store.append([write(0, entries(0, 1, 2, 1, 100), { term: 1, vote: 1, commit: 2 })]);
    const { file, size: start } = await tailOf(o.store);
    // The last write spans several 512-byte sectors; the disk may persist any subset of them.
    await o.store.append([write(0, entries(0, 3, 5, 1, 2000), { term: 1, vote: 1, commit: 5 })]);
    const { size: end } = await tailOf(o.store);
    await o.store.close();
    const original = fs.readFileSync(file);
    const expected = view([{ group: 0, hardState: { term: 1, vote: 1, commit: 2 }, snapshot: null, entries: entries(0, 1, 2, 1, 100) }]);
    let cases = 0;
    for (let sector = Math.floor(start / 512) * 512; sector < end; sector += 512) {
      const lost = Buffer.from(original);
      lost.fill(0, Math.max(sector, start), Math.min(sector + 512, end));
      fs.writeFileSync(file, lost);
      const r = await LogStore.open(dir, quiet);
      assert.deepEqual(view(r.recovered), expected, `sector at ${sector} lost`);
      assert.equal(r.report.lanes[0]!.tornTail?.offset, start);
      await r.store.close();
      fs.writeFileSync(file, original);
      cases++;
    }
    assert.ok(cases >= 12, `${cases} sectors`);
  } finally {
    rmDir(dir);
  }
});

test('a crash while starting a segment (renamed, checkpoint not durable) leaves nothing to lose', async () => {
  const { encodeSegmentHeader } = await import('../../runtime/storage/wal-format.js');
  const dir = tempDir('rotation');
  try {
    const o = await LogStore.open(dir, { ...quiet, segmentBytes: 1 << 16 });
    await o.store.append([write(0, entries(0, 1, 3, 1), { term: 1, vote: 1, commit: 3 })]);
    await o.store.close();
    const laneDir = path.join(dir, 'wal', 'main');
    const nextName = (n: number): string => path.join(laneDir, `${n.toString(16).padStart(16, '0')}.wal`);
    for (const variant of ['header only', 'torn checkpoint'] as const) {
      const n = segmentFiles(laneDir).length + 1;
      const body = variant === 'header only' ? Buffer.alloc(4096) : Buffer.concat([Buffer.from([0x56, 0x42, 0x41, 0x54, 1, 2, 3, 4, 5]), Buffer.alloc(4000)]);
      fs.writeFileSync(nextName(n), Buffer.concat([encodeSegmentHeader(n, 12345), body]));
      fs.writeFileSync(nextName(n + 1) + '.tmp', Buffer.alloc(100));
      const warnings: string[] = [];
      const r = await LogStore.open(dir, { onWarning: (m) => warnings.push(m) });
      assert.deepEqual(find(r.recovered, 0).entries.map((e) => e.index), [1, 2, 3], variant);
      assert.ok(r.report.removedFiles.includes(nextName(n)), `${variant}: the unfinished segment was removed`);
      assert.ok(r.report.removedFiles.includes(nextName(n + 1) + '.tmp'), `${variant}: the leftover temp segment was removed`);
      assert.equal(warnings.length, variant === 'header only' ? 0 : 1, variant);
      await r.store.append([write(0, entries(0, 4, 4, 1), { term: 1, vote: 1, commit: 4 })]);
      await r.store.close();
      const r2 = await LogStore.open(dir, quiet);
      assert.equal(find(r2.recovered, 0).entries.length, 4, variant);
      await r2.store.close();
      // Reset to three entries for the next variant.
      rmDir(dir);
      const o2 = await LogStore.open(dir, { ...quiet, segmentBytes: 1 << 16 });
      await o2.store.append([write(0, entries(0, 1, 3, 1), { term: 1, vote: 1, commit: 3 })]);
      await o2.store.close();
    }
  } finally {
    rmDir(dir);
  }
});
