import { test } from 'node:test';
import assert from 'node:assert/strict';
import { probe, startPair, waitFor } from './helpers.js';

test('smoke', async () => {
  const [a, b] = await startPair();
  for (let i = 0; i < 1000; i++) assert.equal(a.send(probe(1, 2, i)), 'sent');
  await waitFor(() => b.received.length === 1000, 'all');
  console.log(a.stats().peers[2], b.stats());
  await a.close();
  await b.close();
});
