import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { EntryType } from '../../runtime/protocols/api.js';
import { Consistency } from '../../runtime/service/api.js';
import { decodeResult, encodeBatch, encodeCommand, encodeQuery, ResultStatus } from '../../runtime/service/envelope.js';
import { encodeKvCommand, KvOp, MAX_SCAN_LIMIT, type KvCommand } from '../../runtime/service/kv/index.js';
import { b, kvCommandArb, kvResult, Model, Node, plain, plainResult, str } from './harness.js';

test('put, get and delete track create/mod revisions and versions', () => {
  const n = new Node();
  assert.deepEqual(n.run({ op: 'put', key: b('a'), value: b('1') }), { op: 'put', revision: 1, prev: null });
  assert.deepEqual(n.run({ op: 'put', key: b('b'), value: b('x') }), { op: 'put', revision: 2, prev: null });
  const second = n.run({ op: 'put', key: b('a'), value: b('2'), prevKv: true });
  assert.equal(second.op, 'put');
  assert.equal(second.revision, 3);
  assert.deepEqual(second.op === 'put' && second.prev && plain(second.prev), { key: 'a', value: '1', create: 1, mod: 1, version: 1 });
  assert.deepEqual(plain(n.get('a')!), { key: 'a', value: '2', create: 1, mod: 3, version: 2 });
  assert.equal(n.get('zzz'), null);

  const del = n.run({ op: 'delete', key: b('a'), prevKv: true });
  assert.equal(del.op === 'delete' && del.deleted, true);
  assert.equal(del.revision, 4);
  assert.deepEqual(del.op === 'delete' && del.prev && plain(del.prev), { key: 'a', value: '2', create: 1, mod: 3, version: 2 });
  assert.equal(n.get('a'), null);
  // Deleting a missing key changes nothing, not even the revision.
  assert.deepEqual(n.run({ op: 'delete', key: b('a') }), { op: 'delete', revision: 4, deleted: false, prev: null });
  // Re-creating starts a new life: new create revision, version 1.
  n.run({ op: 'put', key: b('a'), value: b('3') });
  assert.deepEqual(plain(n.get('a')!), { key: 'a', value: '3', create: 5, mod: 5, version: 1 });
  const stat = n.query({ op: 'stat' });
  assert.deepEqual(stat, { op: 'stat', revision: 5, keys: 2, valueBytes: 2 });
});

test('empty values, binary keys and large values are stored exactly', () => {
  const n = new Node({ arenaChunkSize: 4096 });
  const binKey = Buffer.from([0, 255, 128, 1]);
  const big = Buffer.alloc(100_000, 7);
  big[99_999] = 9;
  n.run({ op: 'put', key: b('empty'), value: Buffer.alloc(0) });
  n.run({ op: 'put', key: binKey, value: b('bin') });
  n.run({ op: 'put', key: b('big'), value: big });
  assert.equal(n.get('empty')!.value!.length, 0);
  const bin = n.query({ op: 'get', key: binKey });
  assert.equal(bin.op === 'get' && str(bin.entry!.value), 'bin');
  assert.ok(Buffer.from(n.get('big')!.value!).equals(big));
});

test('compare-and-set: on value, on absence, on mod revision, and delete-on-match', () => {
  const n = new Node();
  // create-if-missing
  const created = n.run({ op: 'cas', key: b('k'), compare: { kind: 'absent' }, value: b('v1') });
  assert.deepEqual(created, { op: 'cas', succeeded: true, revision: 1, current: null });
  const again = n.run({ op: 'cas', key: b('k'), compare: { kind: 'absent' }, value: b('v2') });
  assert.equal(again.op === 'cas' && again.succeeded, false);
  assert.equal(again.revision, 1);
  assert.deepEqual(again.op === 'cas' && again.current && plain(again.current), { key: 'k', value: 'v1', create: 1, mod: 1, version: 1 });

  // on value: mismatch, match, and an empty expected value versus a missing key
  assert.equal((n.run({ op: 'cas', key: b('k'), compare: { kind: 'value', value: b('nope') }, value: b('x') }) as { succeeded: boolean }).succeeded, false);
  assert.equal((n.run({ op: 'cas', key: b('k'), compare: { kind: 'value', value: b('v1') }, value: b('v2') }) as { succeeded: boolean }).succeeded, true);
  assert.equal(str(n.get('k')!.value), 'v2');
  const missing = n.run({ op: 'cas', key: b('missing'), compare: { kind: 'value', value: Buffer.alloc(0) }, value: b('x') });
  assert.deepEqual(missing, { op: 'cas', succeeded: false, revision: 2, current: null });
  n.run({ op: 'put', key: b('e'), value: Buffer.alloc(0) });
  assert.equal((n.run({ op: 'cas', key: b('e'), compare: { kind: 'value', value: Buffer.alloc(0) }, value: b('y') }) as { succeeded: boolean }).succeeded, true);
  // a prefix of the value is not equal
  assert.equal((n.run({ op: 'cas', key: b('k'), compare: { kind: 'value', value: b('v') }, value: b('x') }) as { succeeded: boolean }).succeeded, false);

  // on mod revision (0 = absent, as in etcd)
  const mod = n.get('k')!.modRevision;
  assert.equal((n.run({ op: 'cas', key: b('k'), compare: { kind: 'mod-revision', revision: mod - 1 }, value: b('x') }) as { succeeded: boolean }).succeeded, false);
  const byRev = n.run({ op: 'cas', key: b('k'), compare: { kind: 'mod-revision', revision: mod }, value: b('v3') });
  assert.equal(byRev.op === 'cas' && byRev.succeeded, true);
  assert.equal(n.get('k')!.modRevision, byRev.revision);
  assert.equal(n.get('k')!.version, 3);
  assert.equal((n.run({ op: 'cas', key: b('k'), compare: { kind: 'mod-revision', revision: 0 }, value: b('x') }) as { succeeded: boolean }).succeeded, false);
  assert.equal((n.run({ op: 'cas', key: b('new'), compare: { kind: 'mod-revision', revision: 0 }, value: b('x') }) as { succeeded: boolean }).succeeded, true);

  // delete on match, and the no-op success of "delete if absent"
  const before = n.query({ op: 'stat' }).revision;
  const del = n.run({ op: 'cas', key: b('k'), compare: { kind: 'value', value: b('v3') }, value: null });
  assert.deepEqual(del, { op: 'cas', succeeded: true, revision: before + 1, current: null });
  assert.equal(n.get('k'), null);
  const noop = n.run({ op: 'cas', key: b('k'), compare: { kind: 'absent' }, value: null });
  assert.deepEqual(noop, { op: 'cas', succeeded: true, revision: before + 1, current: null });
});

test('scan: [start, end), limits, more flag, keys-only, empty and inverted ranges', () => {
  const n = new Node();
  const keys = ['a', 'a\u0000', 'aa', 'ab', 'b', 'ba', 'c', '\u00ff'];
  for (const k of keys) n.run({ op: 'put', key: b(k), value: b(`v-${k}`) });
  const scan = (start: string, end: string | null, limit: number, keysOnly = false) => {
    const r = n.query({ op: 'scan', start: b(start), end: end === null ? null : b(end), limit, keysOnly });
    assert.equal(r.op, 'scan');
    return r as Extract<typeof r, { op: 'scan' }>;
  };
  // Bytewise order, start inclusive, end exclusive.
  assert.deepEqual(scan('', null, 100).entries.map((e) => str(e.key)), keys);
  assert.deepEqual(scan('a', 'b', 100).entries.map((e) => str(e.key)), ['a', 'a\u0000', 'aa', 'ab']);
  assert.deepEqual(scan('a\u0000', 'ab', 100).entries.map((e) => str(e.key)), ['a\u0000', 'aa']);
  assert.deepEqual(scan('ab', 'ab', 100).entries, []);
  assert.deepEqual(scan('c', 'a', 100).entries, []);
  assert.deepEqual(scan('zz', null, 100).entries.map((e) => str(e.key)), ['\u00ff']);
  // Limits and the more flag.
  const two = scan('', null, 2);
  assert.deepEqual(two.entries.map((e) => str(e.key)), ['a', 'a\u0000']);
  assert.equal(two.more, true);
  const exact = scan('b', 'c', 2);
  assert.equal(exact.entries.length, 2);
  assert.equal(exact.more, false, 'no more keys in [b, c) after ba');
  assert.equal(scan('', null, keys.length).more, false);
  assert.equal(scan('', null, keys.length - 1).more, true);
  // Values and revisions are returned; keys-only omits values.
  const full = scan('b', 'c', 10);
  assert.equal(str(full.entries[0]!.value), 'v-b');
  assert.equal(full.entries[0]!.modRevision, 5);
  const ko = scan('b', 'c', 10, true);
  assert.deepEqual(ko.entries.map((e) => e.value), [null, null]);
  assert.deepEqual(ko.entries.map((e) => str(e.key)), ['b', 'ba']);
  // Limits outside 1..MAX are malformed queries: consistency, Scan, flags, empty start, no end, limit.
  for (const limit of [0, MAX_SCAN_LIMIT + 1]) {
    const q = Buffer.concat([Buffer.from([Consistency.Stale, 2, 0, 0, 0]), varint(limit)]);
    const d = decodeResult(n.sm.query(q));
    assert.equal(d.status, ResultStatus.Malformed);
    assert.match((d as { message: string }).message, /scan limit/);
  }
});

test('scan stops at the result size cap but always returns at least one entry', () => {
  const n = new Node();
  const value = Buffer.alloc(1024 * 1024, 1);
  for (let i = 0; i < 6; i++) n.run({ op: 'put', key: b(`k${i}`), value });
  const r = n.query({ op: 'scan', start: b(''), end: null, limit: 100 });
  assert.equal(r.op, 'scan');
  const s = r as Extract<typeof r, { op: 'scan' }>;
  assert.ok(s.entries.length >= 1 && s.entries.length < 6, `got ${s.entries.length} entries`);
  assert.equal(s.more, true);
});

function varint(v: number): Buffer {
  const out: number[] = [];
  while (v >= 128) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

test('malformed commands are answered Malformed and change nothing; good neighbours still apply', () => {
  const n = new Node();
  n.run({ op: 'put', key: b('a'), value: b('1') });
  const good = encodeCommand({ client: 0, seq: 1, body: encodeKvCommand({ op: 'put', key: b('b'), value: b('2') }) });
  const bodies = [
    Buffer.from([KvOp.Put, 0, 0, 0]), // empty key
    Buffer.from([9, 0, 1, 0x61]), // unknown op
    Buffer.from([KvOp.Put, 4, 1, 0x61, 0]), // unknown flag
    Buffer.from([KvOp.Put, 0, 1, 0x61, 5, 1, 2]), // value runs past the end
    Buffer.concat([encodeKvCommand({ op: 'put', key: b('a'), value: b('x') }), Buffer.from([0])]), // trailing byte
    Buffer.from([KvOp.Cas, 0, 1, 0x61, 7]), // unknown compare kind
  ];
  const outcomes = n.entry([good, ...bodies.map((body) => encodeCommand({ client: 0, seq: 1, body }))]);
  assert.equal(outcomes.length, 1 + bodies.length);
  assert.equal(kvResult(outcomes[0]!).revision, 2);
  for (const o of outcomes.slice(1)) {
    const d = decodeResult(o.result);
    assert.equal(d.status, ResultStatus.Malformed, `position ${o.position}`);
    assert.match((d as { message: string }).message, /kv|command body|key|value|flags|op|compare/);
  }
  assert.equal(str(n.get('a')!.value), '1');
  assert.equal(n.query({ op: 'stat' }).revision, 2);
});

test('a batch with broken framing is rejected whole; non-command entries only advance the index', () => {
  const n = new Node();
  const cmd = encodeCommand({ client: 0, seq: 1, body: encodeKvCommand({ op: 'put', key: b('a'), value: b('1') }) });
  const batch = encodeBatch(5, [cmd, cmd]);
  const cut = batch.subarray(0, batch.length - 1);
  const out = n.raw(cut);
  assert.equal(out.length, 1);
  assert.equal(out[0]!.position, -1);
  assert.equal(decodeResult(out[0]!.result).status, ResultStatus.Malformed);
  assert.equal(n.get('a'), null, 'the first command of a broken batch must not apply');
  assert.equal(n.sm.appliedIndex, 1);
  assert.deepEqual(n.raw(Buffer.from('config bytes'), EntryType.Config), []);
  assert.deepEqual(n.raw(new Uint8Array(0), EntryType.Noop), []);
  assert.deepEqual(n.raw(new Uint8Array(0), EntryType.Normal), []);
  assert.equal(n.sm.appliedIndex, 4);
  // Entries at or below the applied index are ignored.
  const stale = n.sm.apply([{ index: 2, type: EntryType.Normal, data: encodeBatch(5, [cmd]) }]);
  assert.deepEqual(stale, []);
  assert.equal(n.get('a'), null);
  assert.equal(n.sm.stats().counters.staleEntries, 1);
});

test('multi-command entries apply in order, with one outcome per command', () => {
  const n = new Node();
  const cmds: KvCommand[] = [
    { op: 'put', key: b('x'), value: b('1') },
    { op: 'cas', key: b('x'), compare: { kind: 'value', value: b('1') }, value: b('2') },
    { op: 'delete', key: b('x') },
    { op: 'cas', key: b('x'), compare: { kind: 'absent' }, value: b('3') },
  ];
  const out = n.entry(cmds.map((c, i) => encodeCommand({ client: 0, seq: i + 1, body: encodeKvCommand(c) })));
  assert.deepEqual(out.map((o) => [o.index, o.position, o.seq]), [[1, 0, 1], [1, 1, 2], [1, 2, 3], [1, 3, 4]]);
  assert.deepEqual(out.map((o) => kvResult(o).revision), [1, 2, 3, 4]);
  assert.equal(str(n.get('x')!.value), '3');
});

test('queries: linearizable and stale both answer from applied state; bad queries are Malformed', () => {
  const n = new Node();
  n.run({ op: 'put', key: b('a'), value: b('1') });
  const lin = n.query({ op: 'get', key: b('a') }, Consistency.Linearizable);
  const stale = n.query({ op: 'get', key: b('a') }, Consistency.Stale);
  assert.deepEqual(lin, stale);
  for (const q of [Buffer.alloc(0), Buffer.from([7, 1]), Buffer.from([0]), Buffer.from([0, 99]), Buffer.from([1, 1, 0])]) {
    assert.equal(decodeResult(n.sm.query(q)).status, ResultStatus.Malformed, `query ${q.toString('hex')}`);
  }
  assert.equal(decodeResult(n.sm.query(encodeQuery(Consistency.Stale, Buffer.from([3])))).status, ResultStatus.Ok);
});

test('property: results and state match the reference model for random command sequences', () => {
  fc.assert(
    fc.property(fc.array(fc.array(kvCommandArb, { minLength: 1, maxLength: 5 }), { maxLength: 30 }), (entries) => {
      const n = new Node();
      const model = new Model();
      for (const cmds of entries) {
        const out = n.entry(cmds.map((c, i) => encodeCommand({ client: 0, seq: i + 1, body: encodeKvCommand(c) })));
        for (let i = 0; i < cmds.length; i++) assert.deepEqual(plainResult(kvResult(out[i]!)), model.apply(cmds[i]!));
      }
      assert.deepEqual(n.dump(), model.dump());
      assert.equal(n.query({ op: 'stat' }).revision, model.revision);
    }),
    { numRuns: 200 },
  );
});
