import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ByteReader } from '../../runtime/common/bytes.js';
import { CommandKind, decodeResult, encodeCommand, okBody, ResultStatus } from '../../runtime/service/envelope.js';
import { b, collect, kvResult, Node, session, status, str } from './harness.js';

test('a retried write returns the cached result and is not applied again', () => {
  const n = new Node();
  const c = n.openSession();
  const first = n.entry([session(c, 1, { op: 'put', key: b('k'), value: b('v1') })]);
  assert.equal(first[0]!.duplicate, false);
  // Someone else writes the key in between.
  n.run({ op: 'put', key: b('k'), value: b('other') });
  const retry = n.entry([session(c, 1, { op: 'put', key: b('k'), value: b('v1') })]);
  assert.equal(retry[0]!.duplicate, true);
  assert.deepEqual(retry[0]!.result, first[0]!.result, 'same result bytes as the first time');
  assert.equal(str(n.get('k')!.value), 'other', 'the retry must not overwrite the later write');
  assert.equal(n.query({ op: 'stat' }).revision, 2, 'the retry must not advance the revision');
  assert.equal(n.sm.stats().counters.duplicates, 1);

  // A retry inside the same entry as the original is also deduplicated.
  const both = n.entry([session(c, 2, { op: 'put', key: b('n'), value: b('1') }), session(c, 2, { op: 'put', key: b('n'), value: b('1') })]);
  assert.deepEqual(both.map((o) => o.duplicate), [false, true]);
  assert.equal(n.get('n')!.version, 1);
});

test('a failed compare-and-set retried later returns the original failure, not a fresh evaluation', () => {
  const n = new Node();
  const c = n.openSession();
  n.run({ op: 'put', key: b('lock'), value: b('held') });
  const cas = { op: 'cas' as const, key: b('lock'), compare: { kind: 'absent' as const }, value: b('me') };
  const first = kvResult(n.entry([session(c, 1, cas)])[0]!);
  assert.equal(first.op === 'cas' && first.succeeded, false);
  n.run({ op: 'delete', key: b('lock') });
  const retry = n.entry([session(c, 1, cas)])[0]!;
  assert.equal(retry.duplicate, true);
  assert.deepEqual(kvResult(retry), first);
  assert.equal(n.get('lock'), null, 'the lock must stay free: the retry was not re-evaluated');
});

test('out-of-order commit within the window: seq 6 before 5, both apply once, retries dedup', () => {
  const n = new Node();
  const c = n.openSession();
  const six = n.entry([session(c, 6, { op: 'put', key: b('six'), value: b('6') }, 4)]);
  const five = n.entry([session(c, 5, { op: 'put', key: b('five'), value: b('5') }, 4)]);
  assert.equal(status(six[0]!).status, ResultStatus.Ok);
  assert.equal(status(five[0]!).status, ResultStatus.Ok);
  assert.equal(str(n.get('five')!.value), '5');
  assert.equal(str(n.get('six')!.value), '6');
  // Retries of both are answered from the cache.
  const retries = n.entry([session(c, 5, { op: 'put', key: b('five'), value: b('5') }, 4), session(c, 6, { op: 'put', key: b('six'), value: b('6') }, 4)]);
  assert.deepEqual(retries.map((o) => o.duplicate), [true, true]);
  assert.equal(n.get('five')!.version, 1);
  assert.equal(n.get('six')!.version, 1);
});

test('acknowledged seqs are Stale and never re-applied; their results are forgotten', () => {
  const n = new Node();
  const c = n.openSession();
  n.entry([session(c, 1, { op: 'put', key: b('a'), value: b('1') })]);
  n.entry([session(c, 2, { op: 'put', key: b('b'), value: b('2') }, 1)]);
  const s = n.sm.sessionTable.get(c)!;
  assert.equal(s.acked, 1);
  assert.equal(s.lookup(1), undefined, 'the result of acknowledged seq 1 is never served again');
  const late = n.entry([session(c, 1, { op: 'put', key: b('a'), value: b('again') })]);
  assert.equal(status(late[0]!).status, ResultStatus.Stale);
  assert.equal(str(n.get('a')!.value), '1');
  // The ack watermark never moves back.
  n.entry([session(c, 3, { op: 'put', key: b('c'), value: b('3') }, 0)]);
  assert.equal(n.sm.sessionTable.get(c)!.acked, 1);
});

test('a seq beyond ack + window is refused without applying, and can be applied later', () => {
  const n = new Node({ sessions: { window: 4 } });
  const c = n.openSession();
  const far = n.entry([session(c, 6, { op: 'put', key: b('far'), value: b('x') }, 1)]);
  assert.equal(status(far[0]!).status, ResultStatus.WindowExceeded);
  assert.equal(n.get('far'), null);
  const edge = n.entry([session(c, 5, { op: 'put', key: b('edge'), value: b('x') }, 1)]);
  assert.equal(status(edge[0]!).status, ResultStatus.Ok, 'ack 1 + window 4 = 5 is inside');
  const later = n.entry([session(c, 6, { op: 'put', key: b('far'), value: b('x') }, 2)]);
  assert.equal(status(later[0]!).status, ResultStatus.Ok);
  assert.equal(later[0]!.duplicate, false);
  assert.equal(str(n.get('far')!.value), 'x');
});

test('unknown, closed and never-opened sessions are refused; session-less writes apply', () => {
  const n = new Node();
  const never = n.entry([session(99, 1, { op: 'put', key: b('x'), value: b('1') })]);
  assert.equal(status(never[0]!).status, ResultStatus.UnknownSession);
  const c = n.openSession(7);
  const close = n.entry([encodeCommand({ kind: CommandKind.CloseSession, client: c, seq: 2 })]);
  assert.equal(status(close[0]!).status, ResultStatus.Ok);
  const after = n.entry([session(c, 3, { op: 'put', key: b('x'), value: b('1') })]);
  assert.equal(status(after[0]!).status, ResultStatus.UnknownSession);
  assert.equal(n.get('x'), null);
  const closeAgain = n.entry([encodeCommand({ kind: CommandKind.CloseSession, client: c, seq: 4 })]);
  assert.equal(status(closeAgain[0]!).status, ResultStatus.UnknownSession);
  // Session ids come from a replicated counter and are never reused.
  assert.equal(n.openSession(), c + 1);
});

test('results above maxCachedResultBytes answer retries with AppliedResultDropped', () => {
  const n = new Node({ sessions: { maxCachedResultBytes: 16 } });
  const c = n.openSession();
  n.run({ op: 'put', key: b('k'), value: Buffer.alloc(100, 1) });
  const first = n.entry([session(c, 1, { op: 'put', key: b('k'), value: b('small'), prevKv: true })]);
  assert.ok(first[0]!.result.length > 16);
  const retry = n.entry([session(c, 1, { op: 'put', key: b('k'), value: b('small'), prevKv: true })]);
  assert.equal(retry[0]!.duplicate, true);
  assert.equal(status(retry[0]!).status, ResultStatus.AppliedResultDropped);
  assert.equal(n.get('k')!.version, 2, 'applied exactly once');
});

test('expiry follows the timestamps in the log, identically on two replicas', async () => {
  const opts = { sessions: { ttlMs: 1_000 } };
  const replicas = [new Node(opts), new Node(opts)];
  const log: { cmds: Uint8Array[]; ts: number }[] = [
    { cmds: [encodeCommand({ kind: CommandKind.OpenSession, client: 0, seq: 1 })], ts: 10_000 },
    { cmds: [encodeCommand({ kind: CommandKind.OpenSession, client: 0, seq: 2 })], ts: 10_500 },
    { cmds: [session(1, 1, { op: 'put', key: b('a'), value: b('1') })], ts: 11_000 },
    // 11_950: session 2 (last seen 10_500) is idle 1_450 ms > ttl; session 1 (11_000) is not.
    { cmds: [session(2, 1, { op: 'put', key: b('b'), value: b('1') })], ts: 11_950 },
    // A timestamp going backwards (another leader's clock) does not move the clock back; session 1
    // is then last seen at 11_950 and idle 1_050 ms at 13_000.
    { cmds: [session(1, 2, { op: 'put', key: b('c'), value: b('1') }, 1)], ts: 5_000 },
    { cmds: [session(1, 3, { op: 'put', key: b('d'), value: b('1') }, 2)], ts: 13_000 },
  ];
  const outcomes = replicas.map((r) => log.map((e) => r.entry(e.cmds, e.ts).map((o) => decodeResult(o.result).status)));
  assert.deepEqual(outcomes[0], outcomes[1]);
  assert.deepEqual(outcomes[0], [[0], [0], [0], [ResultStatus.UnknownSession], [0], [ResultStatus.UnknownSession]]);
  for (const r of replicas) {
    assert.equal(r.sm.stats().clockMs, 13_000);
    assert.equal(r.sm.stats().sessions, 0);
    assert.equal(r.sm.stats().counters.sessionsExpired, 2);
  }
  assert.equal(await replicas[0]!.sm.digest(), await replicas[1]!.sm.digest());
});

test('the least recently used session (by log timestamp) is evicted beyond maxSessions', () => {
  const n = new Node({ sessions: { maxSessions: 3 } });
  const ids: number[] = [];
  for (let i = 0; i < 3; i++) {
    n.clock = 1_000 + i;
    ids.push(n.openSession());
  }
  // Use session 1 later, so that session 2 becomes the least recently used.
  n.clock = 1_010;
  n.entry([session(ids[0]!, 1, { op: 'put', key: b('a'), value: b('1') })]);
  n.clock = 1_020;
  const fourth = n.openSession();
  assert.equal(n.sm.sessionTable.get(ids[1]!), undefined);
  for (const id of [ids[0]!, ids[2]!, fourth]) assert.ok(n.sm.sessionTable.get(id), `session ${id} kept`);
  assert.equal(n.sm.stats().counters.sessionsEvicted, 1);
  // Order within one timestamp is the order of first use at that timestamp: deterministic too.
  assert.deepEqual([...n.sm.sessionTable.values()].map((s) => s.id), [ids[2]!, ids[0]!, fourth]);
});

test('sessions survive snapshot and restore: retries after restore are still deduplicated', async () => {
  const n = new Node({ sessions: { window: 8 } });
  const c = n.openSession();
  const first = n.entry([session(c, 1, { op: 'put', key: b('k'), value: b('1') }), session(c, 3, { op: 'put', key: b('k3'), value: b('3') })]);
  const bytes = await collect(n.sm.snapshot());
  const r = new Node({ sessions: { window: 8 } });
  await r.sm.restore([bytes]);
  r.index = n.index;
  const retry = r.entry([session(c, 1, { op: 'put', key: b('k'), value: b('1') }), session(c, 3, { op: 'put', key: b('k3'), value: b('3') })]);
  assert.deepEqual(retry.map((o) => o.duplicate), [true, true]);
  assert.deepEqual(retry.map((o) => Buffer.from(o.result)), first.map((o) => Buffer.from(o.result)));
  assert.equal(r.get('k')!.version, 1);
  // The session counter carries over too.
  assert.equal(r.openSession(), c + 1);
  // And a replica with different session settings refuses the snapshot, naming the setting.
  const other = new Node({ sessions: { window: 16 } });
  await assert.rejects(other.sm.restore([bytes]), /window is 8 in the snapshot but 16 here/);
});

test('property: any interleaving of duplicated, reordered commands applies each seq at most once', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ seq: fc.integer({ min: 1, max: 12 }), ackLag: fc.nat(3) }), { minLength: 1, maxLength: 40 }),
      (sends) => {
        const n = new Node({ sessions: { window: 16 } });
        const c = n.openSession();
        const applied = new Map<number, Uint8Array>();
        for (const { seq, ackLag } of sends) {
          // A valid ack: a prefix of seqs the client has had answered (possibly an old one, as a
          // late duplicate would carry), and below seq.
          let prefix = 0;
          while (applied.has(prefix + 1)) prefix++;
          const ack = Math.max(0, Math.min(seq - 1, prefix - ackLag));
          const o = n.entry([session(c, seq, { op: 'put', key: b(`k${seq}`), value: b(String(seq)) }, ack)])[0]!;
          const st = status(o).status;
          if (o.duplicate) assert.deepEqual(o.result, applied.get(seq), `retry of ${seq} answered from the cache`);
          else if (st === ResultStatus.Ok) {
            assert.equal(applied.has(seq), false, `seq ${seq} applied twice`);
            applied.set(seq, o.result);
          } else {
            assert.equal(st, ResultStatus.Stale);
            assert.ok(applied.has(seq), `only answered seqs can be stale (seq ${seq})`);
          }
        }
        for (const [seq] of applied) assert.equal(n.get(`k${seq}`)!.version, 1);
      },
    ),
    { numRuns: 300 },
  );
});

test('OpenSession returns increasing ids and echoes the nonce', () => {
  const n = new Node();
  const out = n.entry([7, 8, 9].map((nonce) => encodeCommand({ kind: CommandKind.OpenSession, client: 0, seq: nonce })));
  assert.deepEqual(out.map((o) => o.seq), [7, 8, 9]);
  assert.deepEqual(out.map((o) => new ByteReader(okBody(o.result)).varint()), [1, 2, 3]);
});

test('ClientSession: pipelined writes delivered out of order and duplicated apply exactly once', async () => {
  const { ClientSession } = await import('../../runtime/service/session-client.js');
  const { encodeKvCommand } = await import('../../runtime/service/kv/index.js');
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 6 }), fc.array(fc.nat(1000), { minLength: 20, maxLength: 80 }), (window, choices) => {
      const n = new Node({ sessions: { window } });
      const cs = new ClientSession(n.openSession(), window);
      const bodies = new Map<number, Uint8Array>();
      const inFlight: { seq: number; bytes: Uint8Array }[] = [];
      let writes = 0;
      for (const c of choices) {
        if (cs.canSend() && (c % 3 === 0 || inFlight.length === 0)) {
          const body = encodeKvCommand({ op: 'put', key: b(`k${writes}`), value: b(String(writes)) });
          writes++;
          const { seq, command } = cs.next(body);
          bodies.set(seq, body);
          inFlight.push({ seq, bytes: command });
          continue;
        }
        // Deliver some in-flight command (in any order); sometimes lose the answer and retry.
        const i = c % inFlight.length;
        const { seq } = inFlight[i]!;
        const o = n.entry([cs.retry(seq, bodies.get(seq)!)])[0]!;
        assert.notEqual(status(o).status, ResultStatus.WindowExceeded, 'canSend keeps the client inside the window');
        assert.equal(status(o).status, ResultStatus.Ok);
        if (c % 5 !== 0) {
          cs.answered(seq);
          inFlight.splice(i, 1);
        }
      }
      for (let seq = 1; seq <= writes; seq++) {
        const e = n.get(`k${seq - 1}`);
        if (e !== null) assert.equal(e.version, 1, `write ${seq} applied once`);
      }
      assert.ok(cs.acknowledged <= writes);
    }),
    { numRuns: 200 },
  );
});

test('session settings are validated', () => {
  assert.throws(() => new Node({ sessions: { window: 0 } }), /sessions.window must be an integer ≥ 1/);
  assert.throws(() => new Node({ sessions: { ttlMs: -1 } }), /sessions.ttlMs/);
  assert.throws(() => new Node({ sessions: { window: 100_000, maxCachedResultBytes: 4096 } }), /must be ≤ 32 MiB/);
});
