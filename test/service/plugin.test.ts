// A user-written service plugged into the generic state machine: it gets batching, sessions,
// snapshots with checksums and digests without writing any of that.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryType } from '../../runtime/protocols/api.js';
import type { ApplyContext, Service, ServiceRestorer } from '../../runtime/service/api.js';
import { ByteReader, ByteWriter } from '../../runtime/common/bytes.js';
import { CommandKind, decodeResult, encodeBatch, encodeCommand, encodeQuery, okBody, ResultStatus } from '../../runtime/service/envelope.js';
import { ServiceStateMachine } from '../../runtime/service/service-state-machine.js';
import { collect } from './harness.js';

/** Named counters. Command: name:lenBytes delta:varint. Query: name:lenBytes. Results: value:varint. */
class Counters implements Service {
  readonly name = 'counters';
  private counts = new Map<string, number>();

  apply(cmd: ByteReader, out: ByteWriter, _ctx: ApplyContext): void {
    const name = cmd.string('counter name', 256);
    const delta = cmd.varint();
    cmd.expectEnd(); // decode fully before changing anything
    const next = (this.counts.get(name) ?? 0) + delta;
    this.counts.set(name, next);
    out.varint(next);
  }

  query(q: ByteReader, out: ByteWriter): void {
    const name = q.string('counter name', 256);
    q.expectEnd();
    out.varint(this.counts.get(name) ?? 0);
  }

  snapshot(): Iterable<Uint8Array> {
    // A copy taken now; Map order is insertion order, which is deterministic across replicas.
    const w = new ByteWriter();
    for (const [name, n] of this.counts) w.string(name).varint(n);
    return [w.finish()];
  }

  restorer(): ServiceRestorer {
    const next = new Map<string, number>();
    return {
      push: (record) => {
        const r = new ByteReader(record, 'counters record');
        while (r.remaining > 0) next.set(r.string('counter name', 256), r.varint());
      },
      finish: () => {},
      commit: () => {
        this.counts = next;
      },
    };
  }

  stats(): Record<string, number> {
    return { counters: this.counts.size };
  }
}

const add = (name: string, delta: number) => new ByteWriter().string(name).varint(delta).finish();

test('a user service gets exactly-once writes, queries, snapshots and restore for free', async () => {
  const sm = new ServiceStateMachine(new Counters());
  let index = 0;
  const entry = (cmds: Uint8Array[]) => sm.apply([{ index: ++index, type: EntryType.Normal, data: encodeBatch(1, cmds) }]);
  const [open] = entry([encodeCommand({ kind: CommandKind.OpenSession, client: 0, seq: 1 })]);
  const client = new ByteReader(okBody(open!.result)).varint();
  const inc = encodeCommand({ client, seq: 1, body: add('hits', 5) });
  const first = entry([inc, inc]);
  assert.deepEqual(first.map((o) => o.duplicate), [false, true]);
  assert.equal(new ByteReader(okBody(first[1]!.result)).varint(), 5);
  const bad = entry([encodeCommand({ client, seq: 2, body: Buffer.from([200]) })]);
  assert.equal(decodeResult(bad[0]!.result).status, ResultStatus.Malformed);
  const read = (s: ServiceStateMachine) => new ByteReader(okBody(s.query(encodeQuery(1, new ByteWriter().string('hits').finish())))).varint();
  assert.equal(read(sm), 5);

  const copy = new ServiceStateMachine(new Counters());
  await copy.restore([await collect(sm.snapshot())]);
  assert.equal(read(copy), 5);
  assert.equal(copy.appliedIndex, sm.appliedIndex);
  assert.equal(await copy.digest(), await sm.digest());
  // The session came along: the retry is still recognised on the restored copy.
  const retry = copy.apply([{ index: ++index, type: EntryType.Normal, data: encodeBatch(1, [inc]) }]);
  assert.equal(retry[0]!.duplicate, true);
  assert.equal(read(copy), 5);
});
