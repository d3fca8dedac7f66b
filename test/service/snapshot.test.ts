import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeCommand } from '../../runtime/service/envelope.js';
import { encodeKvCommand, type KvCommand } from '../../runtime/service/kv/index.js';
import { ByteWriter } from '../../runtime/common/bytes.js';
import { endRecord, frameRecord, readRecords, RecordType, SnapshotError, snapshotPreamble } from '../../runtime/service/snapshot-format.js';
import { b, collect, kvCommandArb, Node, session, type PlainEntry } from './harness.js';

function seed(n: Node, keys: number, valueSize: number): void {
  for (let i = 0; i < keys; i += 50) {
    const cmds: Uint8Array[] = [];
    for (let j = i; j < Math.min(keys, i + 50); j++)
      cmds.push(encodeCommand({ client: 0, seq: 1, body: encodeKvCommand({ op: 'put', key: b(`key${String(j).padStart(6, '0')}`), value: Buffer.alloc(valueSize, j % 251) }) }));
    n.entry(cmds);
  }
}

test('a snapshot taken mid-stream reflects the state at snapshot() even while applies continue', async () => {
  // A small arena chunk and record size make the cleaner run and the stream span many records.
  const n = new Node({ arenaChunkSize: 16 * 1024, snapshotRecordBytes: 4096 });
  seed(n, 2_000, 100);
  const c = n.openSession();
  n.entry([session(c, 1, { op: 'put', key: b('s'), value: b('1') })]);
  const expected = n.dump();
  const expectedIndex = n.sm.appliedIndex;
  const expectedDigest = await n.sm.digest();

  const stream = n.sm.snapshot();
  assert.equal(stream.index, expectedIndex);
  const parts: Buffer[] = [];
  let step = 0;
  for await (const chunk of stream) {
    parts.push(Buffer.from(chunk));
    // Between chunks: overwrite, delete, re-create and insert keys, including ones not streamed yet.
    const cmds: KvCommand[] = [];
    for (let k = 0; k < 40; k++) {
      const key = b(`key${String((step * 97 + k * 53) % 2_000).padStart(6, '0')}`);
      cmds.push(k % 4 === 0 ? { op: 'delete', key } : { op: 'put', key, value: Buffer.alloc(50 + k, 255 - k) });
    }
    cmds.push({ op: 'put', key: b(`new${step}`), value: b('fresh') });
    n.entry(cmds.map((cmd) => encodeCommand({ client: 0, seq: 1, body: encodeKvCommand(cmd) })));
    n.entry([session(c, step + 2, { op: 'put', key: b('s'), value: b(String(step)) }, step + 1)]);
    step++;
  }
  assert.ok(step > 20, `expected a long stream, got ${step} chunks`);
  assert.ok(n.sm.service.kv.arena.cleanings > 0, 'the arena cleaner ran during the stream');
  assert.equal(n.sm.service.kv.openViews, 0, 'the view is released at the end of the stream');

  const restored = new Node({ arenaChunkSize: 16 * 1024 });
  const info = await restored.sm.restore(parts);
  assert.equal(info.index, expectedIndex);
  assert.equal(restored.sm.appliedIndex, expectedIndex);
  assert.deepEqual(restored.dump(), expected);
  assert.equal(await restored.sm.digest(), expectedDigest);
  assert.notDeepEqual(n.dump(), expected, 'the live state did move on');
});

test('two snapshots open at once each see their own moment', async () => {
  const n = new Node({ snapshotRecordBytes: 1024 });
  seed(n, 300, 20);
  const s1 = n.sm.snapshot();
  const state1 = n.dump();
  n.run({ op: 'put', key: b('key000001'), value: b('after-1') });
  n.run({ op: 'delete', key: b('key000002') });
  const s2 = n.sm.snapshot();
  const state2 = n.dump();
  n.run({ op: 'put', key: b('key000001'), value: b('after-2') });
  n.run({ op: 'put', key: b('key000003'), value: b('after-2') });
  // Interleave consumption of both streams with more writes.
  const it1 = s1[Symbol.asyncIterator]();
  const it2 = s2[Symbol.asyncIterator]();
  const p1: Buffer[] = [];
  const p2: Buffer[] = [];
  let d1 = false;
  let d2 = false;
  for (let i = 0; !(d1 && d2); i++) {
    if (!d1) {
      const r = await it1.next();
      if (r.done) d1 = true;
      else p1.push(Buffer.from(r.value));
    }
    n.run({ op: 'put', key: b(`key${String(i % 300).padStart(6, '0')}`), value: b(`loop${i}`) });
    if (!d2) {
      const r = await it2.next();
      if (r.done) d2 = true;
      else p2.push(Buffer.from(r.value));
    }
  }
  const r1 = new Node();
  const r2 = new Node();
  await r1.sm.restore(p1);
  await r2.sm.restore(p2);
  assert.deepEqual(r1.dump(), state1);
  assert.deepEqual(r2.dump(), state2);
  assert.equal(n.sm.service.kv.openViews, 0);
});

test('restore accepts any chunking of the stream, down to single bytes', async () => {
  const n = new Node({ snapshotRecordBytes: 2048 });
  seed(n, 200, 300); // records above 4 KiB are framed in three parts
  const bytes = await collect(n.sm.snapshot());
  const digest = await n.sm.digest();
  const singles = new Node();
  await singles.sm.restore((function* () {
    for (let i = 0; i < bytes.length; i++) yield bytes.subarray(i, i + 1);
  })());
  assert.equal(await singles.sm.digest(), digest);
  await fc.assert(
    fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 9000 }), { minLength: 1, maxLength: 50 }), async (sizes) => {
      const chunks: Uint8Array[] = [];
      let at = 0;
      for (let i = 0; at < bytes.length; i++) {
        const len = sizes[i % sizes.length]!;
        chunks.push(new Uint8Array(bytes.subarray(at, at + len)));
        at += len;
      }
      const r = new Node();
      await r.sm.restore(chunks);
      assert.equal(await r.sm.digest(), digest);
    }),
    { numRuns: 30 },
  );
});

function commandsArb() {
  return fc.array(
    fc.array(
      fc.oneof(
        { weight: 6, arbitrary: kvCommandArb.map((c) => ({ kind: 'kv' as const, c })) },
        { weight: 1, arbitrary: fc.constant({ kind: 'open' as const }) },
      ),
      { minLength: 1, maxLength: 6 },
    ),
    { maxLength: 40 },
  );
}

test('property: two replicas fed the same commands agree; a restore of one into a third agrees too', async () => {
  await fc.assert(
    fc.asyncProperty(commandsArb(), fc.integer({ min: 0, max: 40 }), async (entries, cut) => {
      // Alternate session-less commands and commands of session 1 (once some entry opened it).
      const batches = entries.map((cmds, i) => {
        let seq = i * 10;
        return cmds.map((x) =>
          x.kind === 'open'
            ? encodeCommand({ kind: 1, client: 0, seq: 1 })
            : ++seq % 2 === 0
              ? encodeCommand({ client: 0, seq, body: encodeKvCommand(x.c) })
              : encodeCommand({ client: 1, seq, ack: Math.max(0, seq - 3), body: encodeKvCommand(x.c) }),
        );
      });
      const a = new Node();
      const replicaB = new Node();
      let snapshot: Buffer | null = null;
      let snapshotIndex = 0;
      for (let i = 0; i < batches.length; i++) {
        const ts = 1_000 + i * 10;
        assert.deepEqual(a.entry(batches[i]!, ts), replicaB.entry(batches[i]!, ts));
        if (i === cut) {
          snapshot = await collect(a.sm.snapshot());
          snapshotIndex = a.index;
        }
      }
      assert.equal(await a.sm.digest(), await replicaB.sm.digest());
      if (snapshot === null) {
        snapshot = await collect(a.sm.snapshot());
        snapshotIndex = a.index;
      }
      // The third replica restores the snapshot and replays the entries after it.
      const third = new Node();
      await third.sm.restore([snapshot]);
      assert.equal(third.sm.appliedIndex, snapshotIndex);
      third.index = snapshotIndex;
      for (let i = snapshotIndex; i < batches.length; i++) third.entry(batches[i]!, 1_000 + i * 10);
      assert.deepEqual(third.dump(), a.dump());
      assert.equal(await third.sm.digest(), await a.sm.digest());
    }),
    { numRuns: 100 },
  );
});

test('corruption anywhere is detected, with the offset of the damaged record', async () => {
  const n = new Node({ snapshotRecordBytes: 512 });
  seed(n, 100, 40);
  const c = n.openSession();
  n.entry([session(c, 1, { op: 'put', key: b('x'), value: b('y') })]);
  const bytes = await collect(n.sm.snapshot());
  // Record boundaries, to check that reported offsets point at the record holding the damage.
  const starts: number[] = [];
  for (let at = 5; at < bytes.length; at += 9 + bytes.readUInt32LE(at + 1)) starts.push(at);
  const recordOf = (pos: number) => starts.filter((s) => s <= pos).pop() ?? 0;
  for (let pos = 0; pos < bytes.length; pos += 7) {
    const bad = Buffer.from(bytes);
    bad[pos] ^= 0x5a;
    const r = new Node();
    const before = await r.sm.digest();
    const err = await r.sm.restore([bad]).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(err instanceof SnapshotError, `flip at ${pos} not detected (${String(err)})`);
    assert.match(err.message, /^snapshot invalid at byte \d+: /);
    if (pos < 5) assert.ok(err.offset <= 4, `preamble damage reported at ${err.offset}`);
    else {
      // A damaged length field may make the stream look truncated later on; otherwise the offset is
      // the record holding the flipped byte.
      const rec = recordOf(pos);
      const inLength = pos >= rec + 1 && pos < rec + 5;
      if (!inLength) assert.equal(err.offset, rec, `flip at ${pos}: ${err.message}`);
      else assert.ok(err.offset >= rec, `flip at ${pos}: ${err.message}`);
    }
    assert.equal(await r.sm.digest(), before, 'a failed restore leaves the state untouched');
  }
});

test('truncation, trailing bytes, foreign services and bad input chunks are refused', async () => {
  const n = new Node();
  seed(n, 20, 10);
  const bytes = await collect(n.sm.snapshot());
  const fails = async (input: Iterable<Uint8Array>, pattern: RegExp) => {
    const r = new Node();
    r.run({ op: 'put', key: b('mine'), value: b('1') });
    await assert.rejects(r.sm.restore(input), pattern);
    assert.equal(r.get('mine')!.version, 1, 'state untouched');
    assert.equal(r.sm.appliedIndex, 1);
  };
  await fails([bytes.subarray(0, bytes.length - 13)], /truncated: stream ended before the End record/);
  await fails([bytes.subarray(0, bytes.length - 1)], /truncated/);
  await fails([bytes.subarray(0, 3)], /truncated/);
  await fails([], /truncated/);
  await fails([bytes, Buffer.from([0])], /bytes after the End record/);
  await fails([Buffer.from('NOPE\u0001')], /bad magic/);
  const future = Buffer.from(bytes);
  future[4] = 2;
  await fails([future], /unsupported format 2/);
  // A well-formed snapshot of a different service.
  const { ServiceStateMachine } = await import('../../runtime/service/service-state-machine.js');
  const { KvService } = await import('../../runtime/service/kv/service.js');
  class Other extends KvService {
    override readonly name = 'other';
  }
  const other = new ServiceStateMachine(new Other());
  await fails([await collect(other.snapshot())], /snapshot is of service "other"/);
  // A non-bytes chunk.
  await fails([bytes.subarray(0, 10), 'oops' as unknown as Uint8Array], /not bytes/);
});

test('apply during restore is refused; a stream can be consumed once', async () => {
  const n = new Node();
  seed(n, 10, 10);
  const s = n.sm.snapshot();
  const bytes = await collect(s);
  await assert.rejects(async () => {
    for await (const _ of s) void _;
  }, /only once/);
  const r = new Node();
  let release!: () => void;
  const gate = new Promise<void>((res) => (release = res));
  const pending = r.sm.restore((async function* () {
    yield bytes.subarray(0, 20);
    await gate;
    yield bytes.subarray(20);
  })());
  await new Promise((res) => setImmediate(res));
  assert.throws(() => r.run({ op: 'put', key: b('a'), value: b('1') }), /restore\(\) is in progress/);
  release();
  await pending;
  assert.deepEqual(r.dump(), n.dump() as PlainEntry[]);
});

test('records with valid checksums but inconsistent content are refused with their offset', async () => {
  const n = new Node();
  n.run({ op: 'put', key: b('a'), value: b('1') });
  n.run({ op: 'put', key: b('b'), value: b('2') });
  const records: { type: number; payload: Buffer }[] = [];
  for await (const r of readRecords([await collect(n.sm.snapshot())])) records.push({ type: r.type, payload: Buffer.from(r.payload) });
  const rebuild = (recs: { type: number; payload: Uint8Array }[]) =>
    Buffer.concat([snapshotPreamble(), ...recs.map((r) => frameRecord(r.type as RecordType, r.payload)), endRecord(recs.length)]);
  const entry = (key: string, create: number, mod: number, version: number) =>
    new ByteWriter().latin1(key).varint(create).varint(mod).varint(version).bytes(b('v')).finish();
  const kvMeta = (revision: number, keys: number) => new ByteWriter().u8(1).u8(1).varint(revision).varint(keys).finish();
  const header = records[0]!;
  const cases: [{ type: number; payload: Uint8Array }[], RegExp][] = [
    [[header, { type: RecordType.Service, payload: kvMeta(2, 2) }, { type: RecordType.Service, payload: Buffer.concat([entry('b', 2, 2, 1), entry('a', 1, 1, 1)]) }], /keys not in strictly increasing order/],
    [[header, { type: RecordType.Service, payload: kvMeta(2, 3) }, { type: RecordType.Service, payload: Buffer.concat([entry('a', 1, 1, 1), entry('b', 2, 2, 1)]) }], /holds 2 keys but announced 3/],
    [[header, { type: RecordType.Service, payload: kvMeta(1, 2) }, { type: RecordType.Service, payload: Buffer.concat([entry('a', 1, 1, 1), entry('b', 2, 2, 1)]) }], /inconsistent revisions/],
    [[header, { type: RecordType.Service, payload: kvMeta(2, 2) }, { type: 9, payload: Buffer.alloc(1) }], /unexpected record type 9/],
    [[{ type: RecordType.Service, payload: kvMeta(2, 0) }], /first record has type 3, expected a header/],
  ];
  for (const [recs, pattern] of cases) {
    const bytes = rebuild(recs);
    const r = new Node();
    const err = await r.sm.restore([bytes]).then(() => null, (e: unknown) => e);
    assert.ok(err instanceof SnapshotError, String(err));
    assert.match(err.message, pattern);
    assert.ok(err.offset >= 5 && err.offset < bytes.length, `offset ${err.offset} inside the stream`);
    assert.deepEqual(r.dump(), []);
  }
});

test('fuzz: random streams and well-framed records with random payloads only ever give SnapshotError', async () => {
  const n = new Node();
  n.run({ op: 'put', key: b('a'), value: b('1') });
  const good: { type: number; payload: Buffer }[] = [];
  for await (const r of readRecords([await collect(n.sm.snapshot())])) good.push({ type: r.type, payload: Buffer.from(r.payload) });
  const payload = fc.uint8Array({ maxLength: 48 }).map((u) => Buffer.from(u));
  const record = fc.oneof(
    fc.record({ type: fc.constantFrom(1, 2, 3, 4), payload }),
    fc.constantFrom(...good),
    // A good record with a few bytes changed (and a checksum that matches the change).
    fc.tuple(fc.constantFrom(...good), fc.nat(), fc.integer({ min: 0, max: 255 })).map(([g, at, v]) => {
      const p = Buffer.from(g.payload);
      if (p.length > 0) p[at % p.length] = v;
      return { type: g.type, payload: p };
    }),
  );
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.uint8Array({ maxLength: 80 }).map((u) => [Buffer.from(u)]),
        fc.array(record, { maxLength: 5 }).map((recs) => [
          Buffer.concat([snapshotPreamble(), ...recs.map((r) => frameRecord(r.type as RecordType, r.payload)), endRecord(recs.length)]),
        ]),
      ),
      async (input) => {
        const r = new Node();
        try {
          await r.sm.restore(input);
        } catch (err) {
          assert.ok(err instanceof SnapshotError, `not a SnapshotError: ${String(err)}`);
          assert.deepEqual(r.dump(), []);
        }
      },
    ),
    { numRuns: 2_000 },
  );
});
