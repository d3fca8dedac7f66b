import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkKvHistory, describeFailure } from '../../runtime/sim/lincheck/kv-check.js';
import { corruptOneOutput, generateLinearizableHistory } from '../../runtime/sim/lincheck/generate.js';
import { parseHistoryJson, toPorcupineJson, HistoryRecorder, type Operation, type KvInput, type KvOutput } from '../../runtime/sim/lincheck/history.js';

function op(clientId: number, input: KvInput, call: number, output: KvOutput, ret: number | null): Operation {
  return { clientId, input, call, output, return: ret };
}
const put = (key: string, value: string): KvInput => ({ op: 'put', key, value });
const get = (key: string): KvInput => ({ op: 'get', key });
const cas = (key: string, expected: string | null, value: string): KvInput => ({ op: 'cas', key, expected, value });
const del = (key: string): KvInput => ({ op: 'delete', key });
const OK = { ok: true } as const;
const UNKNOWN = { unknown: true } as const;

test('stale read after a completed write is rejected', () => {
  const h = [op(0, put('x', 'a'), 0, OK, 10), op(1, put('x', 'b'), 20, OK, 30), op(2, get('x'), 40, { value: 'a' }, 50)];
  const r = checkKvHistory(h);
  assert.equal(r.result, 'illegal');
  assert.equal(r.failures[0]!.key, 'x');
  assert.equal(r.failures[0]!.stuckAt, 2, describeFailure(h, r));
});

test('concurrent read may see either value', () => {
  const h = [op(0, put('x', 'a'), 0, OK, 10), op(1, put('x', 'b'), 20, OK, 60), op(2, get('x'), 40, { value: 'a' }, 50), op(3, get('x'), 45, { value: 'b' }, 55)];
  assert.equal(checkKvHistory(h).result, 'ok');
});

test('reads that disagree about order are rejected (new then old, both after the writes overlap)', () => {
  const h = [
    op(0, put('x', 'a'), 0, OK, 100),
    op(1, put('x', 'b'), 0, OK, 100),
    op(2, get('x'), 110, { value: 'b' }, 120),
    op(3, get('x'), 130, { value: 'a' }, 140),
  ];
  assert.equal(checkKvHistory(h).result, 'illegal');
});

test('lost write is rejected: read of absent after a completed put', () => {
  const h = [op(0, put('x', 'a'), 0, OK, 10), op(1, get('x'), 20, { value: null }, 30)];
  assert.equal(checkKvHistory(h).result, 'illegal');
});

test('cas anomalies: two successful cas from the same expected value are rejected', () => {
  const h = [
    op(0, put('x', 'a'), 0, OK, 10),
    op(1, cas('x', 'a', 'b'), 20, { ok: true }, 40),
    op(2, cas('x', 'a', 'c'), 25, { ok: true }, 45),
  ];
  assert.equal(checkKvHistory(h).result, 'illegal');
});

test('cas that fails although the value matched is rejected; one that succeeds is accepted', () => {
  const bad = [op(0, put('x', 'a'), 0, OK, 10), op(1, cas('x', 'a', 'b'), 20, { ok: false }, 30)];
  assert.equal(checkKvHistory(bad).result, 'illegal');
  const good = [op(0, put('x', 'a'), 0, OK, 10), op(1, cas('x', 'a', 'b'), 20, { ok: true }, 30), op(2, get('x'), 31, { value: 'b' }, 32)];
  assert.equal(checkKvHistory(good).result, 'ok');
  const create = [op(0, cas('x', null, 'z'), 0, { ok: true }, 5), op(1, get('x'), 6, { value: 'z' }, 7)];
  assert.equal(checkKvHistory(create).result, 'ok');
});

test('delete makes the key absent', () => {
  const ok = [op(0, put('x', 'a'), 0, OK, 10), op(0, del('x'), 11, OK, 20), op(1, get('x'), 21, { value: null }, 30)];
  assert.equal(checkKvHistory(ok).result, 'ok');
  const bad = [op(0, put('x', 'a'), 0, OK, 10), op(0, del('x'), 11, OK, 20), op(1, get('x'), 21, { value: 'a' }, 30)];
  assert.equal(checkKvHistory(bad).result, 'illegal');
});

test('unknown outcomes: may have taken effect, or not, but only after their call', () => {
  // The timed-out put was seen: fine.
  const seen = [op(0, put('x', 'a'), 0, UNKNOWN, null), op(1, get('x'), 50, { value: 'a' }, 60)];
  assert.equal(checkKvHistory(seen).result, 'ok');
  // Not seen: fine too.
  const unseen = [op(0, put('x', 'a'), 0, UNKNOWN, null), op(1, get('x'), 50, { value: null }, 60)];
  assert.equal(checkKvHistory(unseen).result, 'ok');
  // Seen, then not seen: once observed it has happened.
  const flicker = [op(0, put('x', 'a'), 0, UNKNOWN, null), op(1, get('x'), 50, { value: 'a' }, 60), op(1, get('x'), 70, { value: null }, 80)];
  assert.equal(checkKvHistory(flicker).result, 'illegal');
  // Observed before it was invoked: impossible.
  const early = [op(1, get('x'), 0, { value: 'a' }, 10), op(0, put('x', 'a'), 20, UNKNOWN, null)];
  assert.equal(checkKvHistory(early).result, 'illegal');
  // An unknown cas may have succeeded later, after the value came to match.
  const lateCas = [
    op(0, cas('x', 'a', 'b'), 0, UNKNOWN, null),
    op(1, put('x', 'a'), 10, OK, 20),
    op(1, get('x'), 30, { value: 'b' }, 40),
  ];
  assert.equal(checkKvHistory(lateCas).result, 'ok');
  // A read with unknown output constrains nothing.
  const unknownRead = [op(0, put('x', 'a'), 0, OK, 10), op(1, get('x'), 20, UNKNOWN, null)];
  assert.equal(checkKvHistory(unknownRead).result, 'ok');
});

test('partitions are independent: one bad key fails the history and is named', () => {
  const h = [op(0, put('x', 'a'), 0, OK, 10), op(1, put('y', 'b'), 0, OK, 10), op(2, get('y'), 20, { value: 'zzz' }, 30), op(3, get('x'), 20, { value: 'a' }, 30)];
  const r = checkKvHistory(h);
  assert.equal(r.result, 'illegal');
  assert.equal(r.keys, 2);
  assert.deepEqual(r.failures.map((f) => f.key), ['y']);
  assert.match(describeFailure(h, r), /cannot place: client 2 get\(y\)/);
});

test('search budget gives unknown rather than running for ever', () => {
  const h = generateLinearizableHistory({ seed: 5, ops: 2000, clients: 8, keys: 1 });
  const r = checkKvHistory(h, { maxStepsPerKey: 100 });
  assert.equal(r.result, 'unknown');
});

test('randomized: histories from a real sequential execution are accepted; one corrupted output is mostly rejected', () => {
  let rejected = 0;
  const trials = 60;
  for (let seed = 1; seed <= trials; seed++) {
    const h = generateLinearizableHistory({ seed, ops: 150, clients: 4 + (seed % 5), keys: 1 + (seed % 3), unknownRate: seed % 2 ? 0.1 : 0 });
    const ok = checkKvHistory(h);
    assert.equal(ok.result, 'ok', `seed ${seed}: generated history rejected\n${describeFailure(h, ok)}`);
    const bad = corruptOneOutput(h, seed);
    if (checkKvHistory(bad.history).result === 'illegal') rejected++;
  }
  // A corrupted read can coincide with a value some other order explains; most cannot.
  assert.ok(rejected >= trials * 0.7, `only ${rejected}/${trials} corrupted histories were rejected`);
});

test('10,000 operations from 8 clients are checked, and one corrupted answer is found (times reported)', () => {
  // One key is the hardest case for the search (no partitioning helps); ten keys with a few
  // unknown outcomes is what simulator runs look like.
  for (const [keys, unknownRate] of [[1, 0], [10, 0.02]] as const) {
    const h = generateLinearizableHistory({ seed: 99, ops: 10_000, clients: 8, keys, unknownRate });
    const t0 = performance.now();
    const r = checkKvHistory(h);
    const ms = performance.now() - t0;
    assert.equal(r.result, 'ok');
    const bad = corruptOneOutput(h, 7);
    const t1 = performance.now();
    const rb = checkKvHistory(bad.history);
    const msBad = performance.now() - t1;
    assert.equal(rb.result, 'illegal');
    console.log(`# lincheck 10000 ops, 8 clients, ${keys} key(s), unknown ${unknownRate}: ok in ${ms.toFixed(0)} ms; corrupted: illegal in ${msBad.toFixed(0)} ms`);
  }
});

test('Porcupine JSON round trip keeps the history (unknown outcomes included)', () => {
  const rec = new HistoryRecorder();
  const a = rec.invoke(3, put('x', 'a'), 1);
  const b = rec.invoke(4, get('x'), 2);
  rec.complete(b, { value: 'a' }, 5);
  void a;
  const ops = rec.operations();
  const text = toPorcupineJson(ops);
  const raw = JSON.parse(text) as Record<string, unknown>[];
  assert.deepEqual(Object.keys(raw[0]!).sort(), ['call', 'clientId', 'input', 'output', 'return']);
  assert.equal(raw[0]!.return, 6);
  assert.deepEqual(parseHistoryJson(text), ops);
  assert.throws(() => parseHistoryJson('[{"clientId":1}]'), /history\[0\]\.call/);
  assert.throws(() => rec.complete(b, { value: 'a' }, 9), /completed twice/);
});
