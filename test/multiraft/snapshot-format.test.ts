// Snapshot bytes: merge state + untouched image; corrupt input is reported, never misread.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SnapshotFormatError, unwrapSnapshot, wrapSnapshot } from '../../runtime/protocols/multiraft/snapshot-format.js';
import { GroupMode, initialState } from '../../runtime/protocols/multiraft/state.js';
import type { MergeState } from '../../runtime/protocols/multiraft/state.js';
import { BOOT } from './entries.js';

function sample(): MergeState {
  const s = initialState(3, BOOT);
  s.q = 1234;
  s.p = 999;
  s.epoch = 4;
  s.turnPos = 2;
  s.cursors[0] = { next: 40, skipUsed: 3, slots: 412, lastSlotIndex: 40, mode: GroupMode.Active, joinEpoch: 0 };
  s.cursors.push(undefined, undefined); // instances 3 and 4 never created
  s.cursors[5] = { next: 7, skipUsed: 0, slots: 2, lastSlotIndex: 5, mode: GroupMode.Idle, joinEpoch: 2 };
  s.transition = { epoch: 5, instances: 2, pendingSeal: [2], added: [] };
  s.bootstrap.set(5, { voters: [1, 2, 3], learners: [4] });
  return s;
}

test('round trip: state and image', () => {
  const img = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
  const w = wrapSnapshot(sample(), img);
  const u = unwrapSnapshot(w, 16);
  assert.deepEqual(u.state, sample());
  assert.deepEqual(u.image, img);
  assert.deepEqual(unwrapSnapshot(wrapSnapshot(initialState(1, BOOT), new Uint8Array(0)), 1).image, new Uint8Array(0));
});

test('not a multiraft snapshot, truncated, or inconsistent: SnapshotFormatError', () => {
  assert.throws(() => unwrapSnapshot(new TextEncoder().encode('{"kv":1}'), 16), SnapshotFormatError);
  const w = wrapSnapshot(sample(), new Uint8Array(10));
  assert.throws(() => unwrapSnapshot(w.subarray(0, 20), 16), SnapshotFormatError);
  assert.throws(() => unwrapSnapshot(w, 3), /maxInstances|beyond/);
  fc.assert(
    fc.property(fc.nat(w.length - 11), fc.integer({ min: 1, max: 255 }), (pos, x) => {
      const bad = w.slice();
      bad[pos] = bad[pos]! ^ x;
      try {
        unwrapSnapshot(bad, 16);
      } catch (e) {
        assert.ok(e instanceof SnapshotFormatError, String(e));
      }
    }),
    { numRuns: 500 },
  );
});
