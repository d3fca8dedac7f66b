// Test helpers: drive a KV state machine through real encoded entries, and a plain reference model
// of the KV semantics to compare against.
import fc from 'fast-check';
import { EntryType } from '../../runtime/protocols/api.js';
import type { CommandOutcome, Consistency } from '../../runtime/service/api.js';
import { ByteReader } from '../../runtime/common/bytes.js';
import {
  CommandKind,
  decodeResult,
  encodeBatch,
  encodeCommand,
  encodeQuery,
  okBody,
  ResultStatus,
  type DecodedResult,
} from '../../runtime/service/envelope.js';
import {
  createKvStateMachine,
  decodeKvCommandResult,
  decodeKvQueryResult,
  encodeKvCommand,
  encodeKvQuery,
  type KvCommand,
  type KvCommandResult,
  type KvEntry,
  type KvQuery,
  type KvQueryResult,
  type KvStateMachineOptions,
} from '../../runtime/service/kv/index.js';

export const b = (s: string): Buffer => Buffer.from(s, 'latin1');
export const str = (u: Uint8Array | null): string | null => (u === null ? null : Buffer.from(u).toString('latin1'));

export type Kv = ReturnType<typeof createKvStateMachine>;

/** One replica's state machine plus the next log index to feed it. */
export class Node {
  readonly sm: Kv;
  index = 0;
  clock = 1_000;
  constructor(options: KvStateMachineOptions = {}) {
    this.sm = createKvStateMachine(options);
  }

  /** Apply one entry holding `commands` (already encoded); returns the outcomes. */
  entry(commands: Uint8Array[], timestampMs = this.clock): CommandOutcome[] {
    return this.sm.apply([{ index: ++this.index, term: 1, type: EntryType.Normal, data: encodeBatch(timestampMs, commands) }]);
  }

  raw(data: Uint8Array, type: EntryType = EntryType.Normal): CommandOutcome[] {
    return this.sm.apply([{ index: ++this.index, term: 1, type, data }]);
  }

  openSession(nonce = 1): number {
    const [o] = this.entry([encodeCommand({ kind: CommandKind.OpenSession, client: 0, seq: nonce })]);
    return new ByteReader(okBody(o!.result)).varint();
  }

  /** A session-less command; returns its decoded KV result. */
  run(c: KvCommand): KvCommandResult {
    const [o] = this.entry([encodeCommand({ client: 0, seq: 1, body: encodeKvCommand(c) })]);
    return decodeKvCommandResult(okBody(o!.result));
  }

  query(q: KvQuery, consistency: Consistency = 1): KvQueryResult {
    return decodeKvQueryResult(okBody(this.sm.query(encodeQuery(consistency, encodeKvQuery(q)))));
  }

  get(key: string): KvEntry | null {
    const r = this.query({ op: 'get', key: b(key) });
    if (r.op !== 'get') throw new Error('not a get result');
    return r.entry;
  }

  /** All entries, as plain comparable objects. */
  dump(): PlainEntry[] {
    const out: PlainEntry[] = [];
    let start = b('');
    for (;;) {
      const r = this.query({ op: 'scan', start, end: null, limit: 1000 });
      if (r.op !== 'scan') throw new Error('not a scan result');
      for (const e of r.entries) out.push(plain(e));
      if (!r.more) return out;
      start = Buffer.concat([r.entries[r.entries.length - 1]!.key, Buffer.from([0])]);
    }
  }
}

export interface PlainEntry {
  key: string;
  value: string | null;
  create: number;
  mod: number;
  version: number;
}

export function plain(e: KvEntry): PlainEntry {
  return { key: str(e.key)!, value: str(e.value), create: e.createRevision, mod: e.modRevision, version: e.version };
}

export function session(client: number, seq: number, c: KvCommand, ack = 0): Uint8Array {
  return encodeCommand({ client, seq, ack, body: encodeKvCommand(c) });
}

export function status(o: CommandOutcome): DecodedResult {
  return decodeResult(o.result);
}

export function kvResult(o: CommandOutcome): KvCommandResult {
  const d = decodeResult(o.result);
  if (d.status !== ResultStatus.Ok) throw new Error(`expected Ok, got status ${d.status}`);
  return decodeKvCommandResult(d.body);
}

/** The reference model: the KV semantics written as plainly as possible. */
export class Model {
  revision = 0;
  readonly data = new Map<string, { value: string; create: number; mod: number; version: number }>();

  apply(c: KvCommand): unknown {
    const key = str(c.key)!;
    const cur = this.data.get(key);
    const entry = (k: string, v: { value: string; create: number; mod: number; version: number } | undefined) =>
      v === undefined ? null : { key: k, value: v.value, create: v.create, mod: v.mod, version: v.version };
    switch (c.op) {
      case 'put': {
        const rev = ++this.revision;
        this.data.set(key, { value: str(c.value)!, create: cur?.create ?? rev, mod: rev, version: (cur?.version ?? 0) + 1 });
        return { op: 'put', revision: rev, prev: c.prevKv ? entry(key, cur) : null };
      }
      case 'delete': {
        if (cur === undefined) return { op: 'delete', revision: this.revision, deleted: false, prev: null };
        const rev = ++this.revision;
        this.data.delete(key);
        return { op: 'delete', revision: rev, deleted: true, prev: c.prevKv ? entry(key, cur) : null };
      }
      case 'cas': {
        const cmp = c.compare;
        const ok =
          cmp.kind === 'absent'
            ? cur === undefined
            : cmp.kind === 'value'
              ? cur !== undefined && cur.value === str(cmp.value)
              : cmp.revision === 0
                ? cur === undefined
                : cur !== undefined && cur.mod === cmp.revision;
        if (!ok) return { op: 'cas', succeeded: false, revision: this.revision, current: entry(key, cur) };
        if (c.value === null) {
          if (cur !== undefined) {
            this.revision++;
            this.data.delete(key);
          }
        } else {
          const rev = ++this.revision;
          this.data.set(key, { value: str(c.value)!, create: cur?.create ?? rev, mod: rev, version: (cur?.version ?? 0) + 1 });
        }
        return { op: 'cas', succeeded: true, revision: this.revision, current: null };
      }
    }
  }

  dump(): PlainEntry[] {
    return [...this.data.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, v]) => ({ key, value: v.value, create: v.create, mod: v.mod, version: v.version }));
  }
}

/** A KV command result made comparable with the model's. */
export function plainResult(r: KvCommandResult): unknown {
  switch (r.op) {
    case 'put':
      return { op: 'put', revision: r.revision, prev: r.prev && toModelEntry(r.prev) };
    case 'delete':
      return { op: 'delete', revision: r.revision, deleted: r.deleted, prev: r.prev && toModelEntry(r.prev) };
    case 'cas':
      return { op: 'cas', succeeded: r.succeeded, revision: r.revision, current: r.current && toModelEntry(r.current) };
  }
}

function toModelEntry(e: KvEntry) {
  const p = plain(e);
  return { key: p.key, value: p.value, create: p.create, mod: p.mod, version: p.version };
}

export async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

const keyArb = fc.constantFrom('a', 'b', 'c', 'ab', 'b\u0000', 'zz');
const valArb = fc.constantFrom('', '1', '2', 'xyz');
/** Random KV commands over a small key space, so they collide. */
export const kvCommandArb: fc.Arbitrary<KvCommand> = fc.oneof(
  fc.record({ op: fc.constant('put' as const), key: keyArb.map(b), value: valArb.map(b), prevKv: fc.boolean() }),
  fc.record({ op: fc.constant('delete' as const), key: keyArb.map(b), prevKv: fc.boolean() }),
  fc.record({
    op: fc.constant('cas' as const),
    key: keyArb.map(b),
    compare: fc.oneof(
      fc.constant({ kind: 'absent' as const }),
      valArb.map((v) => ({ kind: 'value' as const, value: b(v) })),
      fc.nat(12).map((revision) => ({ kind: 'mod-revision' as const, revision })),
    ),
    value: fc.option(valArb.map(b), { nil: null }),
  }),
);

