// The binary codec: exact round trips, compactness, and malformed input rejected with an Error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { EntryType } from '../../runtime/protocols/api.js';
import type { Entry } from '../../runtime/protocols/api.js';
import { DecodeError as RaftCodecError } from '../../runtime/common/bytes.js';
import { decodeRaftMessage, encodeRaftMessage, raftCodec } from '../../runtime/protocols/raft/codec.js';
import { decodeMembership, encodeMembership } from '../../runtime/protocols/raft/membership.js';
import { MsgType, makeMessage } from '../../runtime/protocols/raft/messages.js';
import type { RaftMessage } from '../../runtime/protocols/raft/messages.js';

const u = fc.oneof(fc.nat({ max: 300 }), fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER), fc.integer({ min: 2 ** 31, max: 2 ** 40 }));
const id = fc.integer({ min: 1, max: 2 ** 31 });
const membership = fc
  .record({ voters: fc.array(id, { maxLength: 5 }), learners: fc.array(id, { maxLength: 3 }) })
  .map((m) => ({ voters: m.voters, learners: m.learners }));
const entryType = fc.constantFrom(EntryType.Normal, EntryType.Noop, EntryType.Config, EntryType.Skip);
const data = fc.uint8Array({ maxLength: 64 });

const consecutiveEntries = fc.tuple(fc.nat({ max: 2 ** 40 }), fc.array(fc.tuple(u, entryType, data), { maxLength: 6 })).map(([first, xs]) =>
  xs.map(([term, type, d], i): Entry => ({ index: first + i, term, type, data: d })),
);
const scatteredEntries = fc.array(fc.tuple(u, u, entryType, data), { maxLength: 4 }).map((xs) =>
  xs.map(([index, term, type, d]): Entry => ({ index, term, type, data: d })),
);
const chunk = fc.option(
  fc.record({ index: u, term: u, membership, offset: fc.nat({ max: 1000 }), extra: fc.nat({ max: 1000 }), data }).map((c) => ({
    meta: { index: c.index, term: c.term, membership: c.membership },
    offset: c.offset,
    total: c.offset + c.data.length + c.extra,
    data: c.data,
  })),
  { nil: null },
);
const message = fc
  .record({
    type: fc.integer({ min: 1, max: 14 }),
    group: u,
    from: u,
    to: u,
    term: u,
    logTerm: u,
    index: u,
    commit: u,
    entries: fc.oneof(consecutiveEntries, scatteredEntries),
    reject: fc.boolean(),
    hint: u,
    ctx: u,
    snapshot: chunk,
  })
  .map((m) => makeMessage(m.type as MsgType, m.group, m.from, m.to, m.term, m.index, m.logTerm, m.commit, m.entries, m.reject, m.hint, m.ctx, m.snapshot));

test('codec: every message survives an encode/decode round trip exactly', () => {
  fc.assert(
    fc.property(message, (m) => {
      assert.deepEqual(decodeRaftMessage(encodeRaftMessage(m)), m);
    }),
    { numRuns: 2000, seed: 1 },
  );
});

test('codec: random bytes are rejected with an Error, never anything else', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
      try {
        raftCodec.decode(b);
      } catch (e) {
        assert.ok(e instanceof RaftCodecError, `threw ${String(e)}`);
      }
    }),
    { numRuns: 5000, seed: 2 },
  );
});

test('codec: corrupted and truncated encodings are rejected with an Error (or decode to something valid)', () => {
  fc.assert(
    fc.property(message, fc.nat(), fc.nat({ max: 255 }), fc.nat(), (m, pos, byte, cut) => {
      const enc = encodeRaftMessage(m);
      const flipped = enc.slice();
      flipped[pos % flipped.length] = byte;
      for (const b of [flipped, enc.subarray(0, cut % enc.length)]) {
        try {
          const d = raftCodec.decode(b);
          assert.deepEqual(decodeRaftMessage(encodeRaftMessage(d)), d);
        } catch (e) {
          assert.ok(e instanceof RaftCodecError, `threw ${String(e)}`);
        }
      }
    }),
    { numRuns: 3000, seed: 3 },
  );
});

test('codec: error messages say what is wrong and where', () => {
  assert.throws(() => raftCodec.decode(new Uint8Array([])), /truncated reading version at byte 0/);
  assert.throws(() => raftCodec.decode(new Uint8Array([2, 1, 0])), /unsupported version 2/);
  assert.throws(() => raftCodec.decode(new Uint8Array([1, 99, 0])), /unknown message type 99/);
  const ok = encodeRaftMessage(makeMessage(MsgType.Heartbeat, 0, 1, 2, 3, 0, 0, 4, [], false, 0, 5, null));
  assert.throws(() => raftCodec.decode(new Uint8Array([...ok, 0])), /1 trailing bytes/);
  assert.throws(() => raftCodec.decode(ok.subarray(0, 6)), /truncated varint reading term/);
});

test('codec: an AppendEntries of 100 entries of 100 bytes costs about 1% overhead', () => {
  const entries = Array.from({ length: 100 }, (_, i): Entry => ({ index: 1001 + i, term: 7, type: EntryType.Normal, data: new Uint8Array(100) }));
  const m = makeMessage(MsgType.App, 0, 1, 2, 7, 1000, 7, 990, entries, false, 0, 0, null);
  const enc = encodeRaftMessage(m);
  assert.ok(enc.length <= 100 * 100 + 100 * 3 + 20, `encoded size ${enc.length}`);
});

test('codec: decoded payloads do not alias the input buffer', () => {
  const m = makeMessage(MsgType.App, 0, 1, 2, 1, 0, 0, 0, [{ index: 1, term: 1, type: EntryType.Normal, data: new Uint8Array([1, 2, 3]) }], false, 0, 0, null);
  const buf = encodeRaftMessage(m);
  const d: RaftMessage = raftCodec.decode(buf);
  buf.fill(0);
  assert.deepEqual([...d.entries[0]!.data], [1, 2, 3]);
});

test('membership encoding round-trips', () => {
  fc.assert(
    fc.property(membership, (m) => {
      assert.deepEqual(decodeMembership(encodeMembership(m)), m);
    }),
  );
  assert.throws(() => decodeMembership(new Uint8Array([5])), /exceeds the remaining input/);
});
