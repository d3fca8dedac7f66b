import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Consistency } from '../../runtime/service/api.js';
import { ByteReader, ByteWriter, DecodeError } from '../../runtime/common/bytes.js';
import {
  CommandKind,
  decodeBatch,
  decodeCommand,
  decodeResult,
  encodeBatch,
  encodeCommand,
  encodeQuery,
  encodeStatusResult,
  readQueryConsistency,
  ResultStatus,
  validateCommand,
} from '../../runtime/service/envelope.js';
import {
  decodeKvCommand,
  decodeKvCommandResult,
  decodeKvQuery,
  decodeKvQueryResult,
  encodeKvCommand,
  encodeKvCommandResult,
  encodeKvQuery,
  encodeKvQueryResult,
  type KvCommand,
  type KvCommandResult,
  type KvEntry,
  type KvQuery,
  type KvQueryResult,
} from '../../runtime/service/kv/index.js';
import { Node } from './harness.js';

/** Records with a normal prototype, so they deep-equal decoded objects. */
const rec: typeof fc.record = ((model: never, c?: object) => fc.record(model, { ...c, noNullPrototype: true })) as typeof fc.record;
const bytes = (max = 40) => fc.uint8Array({ maxLength: max }).map((u) => Buffer.from(u));
const key = fc.uint8Array({ minLength: 1, maxLength: 20 }).map((u) => Buffer.from(u));
const safe = fc.oneof(fc.nat(200), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }));

/** Only DecodeError may come out of a decoder, whatever the input. */
function decodesOrRejects(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err;
    assert.match(err.message, / at byte \d+$/);
  }
}

test('varints round-trip over the whole safe range and reject bad encodings', () => {
  fc.assert(
    fc.property(fc.array(safe, { maxLength: 20 }), (values) => {
      const w = new ByteWriter(4);
      for (const v of values) w.varint(v);
      const r = new ByteReader(w.finish());
      for (const v of values) assert.equal(r.varint(), v);
      r.expectEnd();
    }),
  );
  const bad: [number[], RegExp][] = [
    [[0x80], /runs past the end/],
    [[0x80, 0x00], /overlong/],
    [[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], /longer than 8 bytes/],
    [[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], /exceeds 2\^53-1/],
    [[], /unexpected end/],
  ];
  for (const [input, pattern] of bad) assert.throws(() => new ByteReader(Buffer.from(input), 'test').varint(), pattern);
  assert.equal(new ByteReader(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f])).varint(), Number.MAX_SAFE_INTEGER);
  assert.throws(() => new ByteWriter().varint(-1), RangeError);
  assert.throws(() => new ByteWriter().varint(2 ** 53), RangeError);
  assert.throws(() => new ByteWriter().varint(1.5), RangeError);
});

const commandArb = fc.oneof(
  rec({ kind: fc.constant(CommandKind.Service), client: fc.constant(0), seq: safe.filter((s) => s >= 1), ack: fc.constant(0), body: bytes() }),
  safe
    .filter((s) => s >= 2)
    .chain((seq) =>
      rec({
        kind: fc.constant(CommandKind.Service),
        client: safe.filter((c) => c >= 1),
        seq: fc.constant(seq),
        ack: fc.integer({ min: 0, max: seq - 1 }),
        body: bytes(),
      }),
    ),
  rec({ kind: fc.constant(CommandKind.OpenSession), client: fc.constant(0), seq: safe.filter((s) => s >= 1), ack: fc.constant(0), body: fc.constant(Buffer.alloc(0)) }),
  rec({ kind: fc.constant(CommandKind.CloseSession), client: safe.filter((c) => c >= 1), seq: safe.filter((s) => s >= 1), ack: fc.constant(0), body: fc.constant(Buffer.alloc(0)) }),
);

test('commands and batches round-trip', () => {
  fc.assert(
    fc.property(fc.array(commandArb, { maxLength: 8 }), safe, (cmds, ts) => {
      const encoded = cmds.map((c) => encodeCommand(c));
      for (let i = 0; i < cmds.length; i++) {
        validateCommand(encoded[i]!);
        assert.deepEqual(decodeCommand(encoded[i]!), cmds[i]);
      }
      const batch = decodeBatch(encodeBatch(ts, encoded));
      assert.equal(batch.timestampMs, ts);
      assert.deepEqual(batch.commands, cmds);
    }),
  );
});

test('encoders refuse invalid commands with a RangeError', () => {
  assert.throws(() => encodeCommand({ client: 0, seq: 0 }), /seq must be ≥ 1/);
  assert.throws(() => encodeCommand({ client: 1, seq: 3, ack: 3 }), /ack \(3\) must be below seq/);
  assert.throws(() => encodeCommand({ client: 0, seq: 3, ack: 1 }), /session-less/);
  assert.throws(() => encodeCommand({ kind: CommandKind.OpenSession, client: 4, seq: 1 }), /OpenSession has client 0/);
  assert.throws(() => encodeCommand({ kind: CommandKind.CloseSession, client: 0, seq: 1 }), /CloseSession needs a client/);
  assert.throws(() => encodeCommand({ kind: CommandKind.OpenSession, client: 0, seq: 1, body: Buffer.from([1]) }), /no body/);
  assert.throws(() => encodeKvCommand({ op: 'put', key: Buffer.alloc(0), value: Buffer.alloc(1) }), /key must not be empty/);
  assert.throws(() => encodeKvQuery({ op: 'scan', start: Buffer.alloc(0), end: null, limit: 0 }), /scan limit/);
});

test('malformed commands are rejected with descriptive errors naming the offset', () => {
  const cases: [number[], RegExp][] = [
    [[9, 0, 1, 1, 0], /command: unknown command kind 9 at byte 0/],
    [[0, 0, 0, 1, 0], /seq must be ≥ 1 at byte 2/],
    [[0, 5, 3, 0, 0], /ack delta 0 outside \[1, seq=3\] at byte 3/],
    [[0, 5, 3, 4, 0], /ack delta 4 outside/],
    [[0, 0, 3, 1, 0], /session-less command must have ack 0/],
    [[1, 2, 1, 1, 0], /OpenSession must have client 0/],
    [[2, 0, 1, 1, 0], /CloseSession needs a client id/],
    [[1, 0, 1, 1, 1, 7], /session commands have no body at byte 4/],
    [[0, 0, 1, 1, 5, 1, 2], /command body of 5 bytes runs past the end of input \(2 left\) at byte 5/],
    [[0, 0, 1, 1, 0, 0], /1 unexpected trailing bytes at byte 5/],
  ];
  for (const [input, pattern] of cases) assert.throws(() => decodeCommand(Buffer.from(input)), pattern);
  assert.throws(() => decodeBatch(Buffer.from([2, 0, 0])), /unknown batch format 2/);
  assert.throws(() => readQueryConsistency(Buffer.alloc(0)), /empty query/);
  assert.throws(() => readQueryConsistency(Buffer.from([5])), /unknown consistency 5/);
  assert.equal(readQueryConsistency(encodeQuery(Consistency.Linearizable, Buffer.from([1]))), Consistency.Linearizable);
  assert.equal(readQueryConsistency(encodeQuery(Consistency.Stale, Buffer.alloc(0))), Consistency.Stale);
});

const compareArb = fc.oneof(
  fc.constant({ kind: 'absent' as const }),
  bytes().map((value) => ({ kind: 'value' as const, value })),
  safe.map((revision) => ({ kind: 'mod-revision' as const, revision })),
);
const kvCommandArb: fc.Arbitrary<KvCommand> = fc.oneof(
  rec({ op: fc.constant('put' as const), key, value: bytes(), prevKv: fc.boolean() }),
  rec({ op: fc.constant('delete' as const), key, prevKv: fc.boolean() }),
  rec({ op: fc.constant('cas' as const), key, compare: compareArb, value: fc.option(bytes(), { nil: null }) }),
);
const kvQueryArb: fc.Arbitrary<KvQuery> = fc.oneof(
  rec({ op: fc.constant('get' as const), key }),
  rec({
    op: fc.constant('scan' as const),
    start: bytes(),
    end: fc.option(bytes(), { nil: null }),
    limit: fc.integer({ min: 1, max: 100_000 }),
    keysOnly: fc.boolean(),
  }),
  fc.constant({ op: 'stat' as const }),
);
const entryArb = (withValue: boolean): fc.Arbitrary<KvEntry> =>
  rec({ key, value: withValue ? bytes() : fc.constant(null), createRevision: safe, modRevision: safe, version: safe });
const kvResultArb: fc.Arbitrary<KvCommandResult> = fc.oneof(
  rec({ op: fc.constant('put' as const), revision: safe, prev: fc.option(entryArb(true), { nil: null }) }),
  rec({ op: fc.constant('delete' as const), revision: safe, deleted: fc.boolean(), prev: fc.option(entryArb(true), { nil: null }) }),
  rec({ op: fc.constant('cas' as const), succeeded: fc.boolean(), revision: safe, current: fc.option(entryArb(true), { nil: null }) }),
);
const kvQueryResultArb: fc.Arbitrary<KvQueryResult> = fc.oneof(
  rec({ op: fc.constant('get' as const), revision: safe, entry: fc.option(entryArb(true), { nil: null }) }),
  fc.boolean().chain((withValue) =>
    rec({ op: fc.constant('scan' as const), revision: safe, entries: fc.array(entryArb(withValue), { minLength: 1, maxLength: 5 }), more: fc.boolean() }),
  ),
  rec({ op: fc.constant('stat' as const), revision: safe, keys: safe, valueBytes: safe }),
);

test('KV commands, queries and results round-trip', () => {
  const normalize = (c: KvCommand): KvCommand => (c.op === 'cas' ? c : { ...c, prevKv: c.prevKv ?? false });
  fc.assert(fc.property(kvCommandArb, (c) => assert.deepEqual(decodeKvCommand(encodeKvCommand(c)), normalize(c))));
  fc.assert(
    fc.property(kvQueryArb, (q) =>
      assert.deepEqual(decodeKvQuery(encodeKvQuery(q)), q.op === 'scan' ? { ...q, keysOnly: q.keysOnly ?? false } : q),
    ),
  );
  fc.assert(fc.property(kvResultArb, (r) => assert.deepEqual(decodeKvCommandResult(encodeKvCommandResult(r)), r)));
  fc.assert(fc.property(kvQueryResultArb, (r) => assert.deepEqual(decodeKvQueryResult(encodeKvQueryResult(r)), r)));
  fc.assert(
    fc.property(fc.constantFrom(...Object.values(ResultStatus)), fc.string(), (s, msg) => {
      const enc = encodeStatusResult(s, s === ResultStatus.Malformed ? msg : undefined);
      const d = decodeResult(enc);
      assert.equal(d.status, s);
      if (d.status === ResultStatus.Malformed) assert.equal(d.message, msg);
    }),
  );
});

test('fuzz: random bytes never crash any decoder (only DecodeError)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (u) => {
      const buf = Buffer.from(u);
      decodesOrRejects(() => decodeCommand(buf));
      decodesOrRejects(() => decodeBatch(buf));
      decodesOrRejects(() => decodeResult(buf));
      decodesOrRejects(() => readQueryConsistency(buf));
      decodesOrRejects(() => decodeKvCommand(buf));
      decodesOrRejects(() => decodeKvQuery(buf));
      decodesOrRejects(() => decodeKvCommandResult(buf));
      decodesOrRejects(() => decodeKvQueryResult(buf));
    }),
    { numRuns: 5_000 },
  );
});

test('fuzz: random and mutated entries and queries never crash the state machine', () => {
  const n = new Node();
  n.run({ op: 'put', key: Buffer.from('a'), value: Buffer.from('1') });
  const valid = encodeBatch(1, [encodeCommand({ client: 0, seq: 1, body: encodeKvCommand({ op: 'put', key: Buffer.from('k'), value: Buffer.from('v') }) })]);
  const validQuery = encodeQuery(Consistency.Stale, encodeKvQuery({ op: 'scan', start: Buffer.from('a'), end: Buffer.from('z'), limit: 5 }));
  const mutate = (base: Buffer) =>
    fc.array(rec({ at: fc.nat(base.length - 1), v: fc.integer({ min: 0, max: 255 }) }), { maxLength: 4 }).map((edits) => {
      const out = Buffer.from(base);
      for (const e of edits) out[e.at] = e.v;
      return out;
    });
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 64 }).map((u) => Buffer.from(u)), mutate(valid)), fc.oneof(fc.uint8Array({ maxLength: 32 }).map((u) => Buffer.from(u)), mutate(validQuery)), (entry, query) => {
      const before = n.sm.appliedIndex;
      n.raw(entry);
      assert.equal(n.sm.appliedIndex, before + 1);
      const q = decodeResult(n.sm.query(query));
      assert.ok(q.status === ResultStatus.Ok || q.status === ResultStatus.Malformed);
    }),
    { numRuns: 3_000 },
  );
});
