// snapshotSync() (for moving the state machine between threads) yields exactly snapshot()'s bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createKvStateMachine, encodeBatch, encodeCommand, encodeKvCommand } from '../../runtime/service/index.js';

test('snapshotSync yields the same image as snapshot(), and it restores', async () => {
  const sm = createKvStateMachine();
  const cmds = [encodeCommand({ client: 0, seq: 1, kind: 1 })];
  for (let i = 0; i < 500; i++) cmds.push(encodeCommand({ client: 0, seq: i + 2, body: encodeKvCommand({ op: 'put', key: Buffer.from(`k${i}`), value: Buffer.alloc(i * 20, i % 256) }) }));
  sm.apply([{ index: 1, type: 0, data: encodeBatch(1000, cmds) }]);
  const s = sm.snapshotSync();
  assert.ok(s);
  assert.equal(s.index, 1);
  const streamed: Uint8Array[] = [];
  for await (const c of sm.snapshot()) streamed.push(c);
  assert.deepEqual(Buffer.concat(s.chunks), Buffer.concat(streamed));
  const copy = createKvStateMachine();
  await copy.restore(s.chunks);
  assert.equal(await copy.digest(), await sm.digest());
  assert.equal(copy.appliedIndex, 1);
});
