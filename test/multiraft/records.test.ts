// Control records and skip counts: round trips, and malformed bytes read as plain one-slot no-ops.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { EntryType } from '../../runtime/protocols/api.js';
import { MAX_SKIP, RECORD_MAGIC, decodeRecord, encodeRecord, encodeSkip, isRecord, slotWeight } from '../../runtime/protocols/multiraft/records.js';

const noop = (data: Uint8Array) => ({ index: 1, term: 1, type: EntryType.Noop, data });

test('control records round-trip', () => {
  const recs = [
    { kind: 'change', fromEpoch: 7, instances: 4 },
    { kind: 'members', change: { type: 'promote', node: 9 } },
    { kind: 'members', change: { type: 'remove', node: 2 } },
    { kind: 'seal', epoch: 3 },
    { kind: 'join', epoch: 12345678 },
  ] as const;
  for (const r of recs) assert.deepEqual(decodeRecord(noop(encodeRecord(r))), r);
  assert.ok(isRecord(noop(encodeRecord({ kind: 'seal', epoch: 3 })), 'seal', 3));
  assert.ok(!isRecord(noop(encodeRecord({ kind: 'seal', epoch: 3 })), 'seal', 4));
  assert.ok(!isRecord(noop(encodeRecord({ kind: 'seal', epoch: 3 })), 'join', 3));
});

test('a record only counts in a Noop entry; plain no-ops and commands carry none', () => {
  const bytes = encodeRecord({ kind: 'join', epoch: 1 });
  assert.equal(decodeRecord({ index: 1, term: 1, type: EntryType.Normal, data: bytes }), null);
  assert.equal(decodeRecord(noop(new Uint8Array(0))), null);
});

test('random bytes never throw and never decode to a record with trailing garbage', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), (b) => {
      const data = b.length > 0 ? Uint8Array.of(RECORD_MAGIC, ...b) : b;
      const r = decodeRecord(noop(data));
      if (r !== null) assert.deepEqual(encodeRecord(r), data);
      const w = slotWeight({ index: 1, term: 1, type: EntryType.Skip, data: b });
      assert.ok(Number.isSafeInteger(w) && w >= 1 && w <= MAX_SKIP);
    }),
  );
});

test('skip weights', () => {
  for (const k of [1, 2, 127, 128, 300, 1 << 20, MAX_SKIP]) assert.equal(slotWeight({ index: 1, term: 1, type: EntryType.Skip, data: encodeSkip(k) }), k);
  assert.equal(slotWeight({ index: 1, term: 1, type: EntryType.Skip, data: new Uint8Array(0) }), 1);
  assert.equal(slotWeight({ index: 1, term: 1, type: EntryType.Skip, data: Uint8Array.of(0) }), 1);
  assert.equal(slotWeight({ index: 1, term: 1, type: EntryType.Normal, data: encodeSkip(9) }), 1);
  assert.throws(() => encodeSkip(0), /skip count/);
  assert.throws(() => encodeSkip(MAX_SKIP + 1), /skip count/);
});
