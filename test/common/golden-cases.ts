// Encodings pinned by golden-bytes.test.ts: one case per wire or disk format that goes through a
// byte codec (the toolkit's primitives, Raft, the peer and client ports, the service envelopes,
// KV bodies and snapshots, the WAL, multi-Raft records). Each case encodes a fixed value and, where
// there is a decoder, decodes the bytes and encodes the result again.
import { EntryType } from '../../runtime/protocols/api.js';
import type { Entry } from '../../runtime/protocols/api.js';
import { ByteReader, ByteWriter } from '../../runtime/common/bytes.js';
import { beginFrame, endFrame, FrameKind } from '../../runtime/net/frame.js';
import { peerProof, readAccept, readChallenge, readPeerHello, readReject, writePeerHello, writeReject } from '../../runtime/net/handshake.js';
import { readClientHello, readClientWelcome, writeClientHello, writeClientWelcome } from '../../runtime/net/client-wire.js';
import { probeCodec } from '../../runtime/net/probe.js';
import { requestCodec, responseCodec, RequestType, ResponseType } from '../../runtime/client/protocol.js';
import type { ClientRequest, ClientResponse } from '../../runtime/client/protocol.js';
import { peerEnvelopeCodec } from '../../runtime/replica/peer-envelope.js';
import { decodeRaftMessage, encodeRaftMessage } from '../../runtime/protocols/raft/codec.js';
import { decodeMembership, encodeMembership } from '../../runtime/protocols/raft/membership.js';
import { makeMessage, MsgType, msgTypeName } from '../../runtime/protocols/raft/messages.js';
import { decodeRecord, encodeRecord, encodeSkip } from '../../runtime/protocols/multiraft/records.js';
import type { ControlRecord } from '../../runtime/protocols/multiraft/records.js';
import { unwrapSnapshot, wrapSnapshot } from '../../runtime/protocols/multiraft/snapshot-format.js';
import { GroupMode, initialState } from '../../runtime/protocols/multiraft/state.js';
import {
  CommandKind,
  decodeBatch,
  decodeCommand,
  decodeResult,
  encodeBatch,
  encodeCommand,
  encodeQuery,
  encodeStatusResult,
  ResultStatus,
} from '../../runtime/service/envelope.js';
import * as kv from '../../runtime/service/kv/index.js';
import type { KvCommand, KvCommandResult, KvQuery, KvQueryResult } from '../../runtime/service/kv/index.js';
import * as walFormat from '../../runtime/storage/wal-format.js';

export interface GoldenCase {
  readonly name: string;
  readonly encode: () => Uint8Array | Promise<Uint8Array>;
  /** Decode `bytes` and encode the result again (absent where the format has no decoder). */
  readonly reencode?: (bytes: Uint8Array) => Uint8Array;
}

const u8 = (...xs: number[]) => Uint8Array.from(xs);
const latin1 = (s: string) => Buffer.from(s, 'latin1');
const VARINTS = [0, 1, 127, 128, 255, 300, 16383, 16384, 2 ** 21 - 1, 2 ** 21, 2 ** 28, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 35 + 7, 2 ** 49, Number.MAX_SAFE_INTEGER];

function netPrimitives(w: ByteWriter): void {
  for (const v of VARINTS) w.varint(v);
  w.u8(0xab);
  w.u16(0x1234);
  w.u32(0xdeadbeef);
  w.u64(2 ** 40 + 3);
  w.u64(Number.MAX_SAFE_INTEGER);
  w.f64(-1.5);
  w.f64(Math.PI);
  w.string('');
  w.string('héllo ✓ 𝄞');
  w.bytes(u8());
  w.bytes(u8(1, 2, 3));
  w.raw(u8(9, 8));
}

function readNetPrimitives(r: ByteReader, w: ByteWriter): void {
  for (let i = 0; i < VARINTS.length; i++) w.varint(r.varint());
  w.u8(r.u8());
  w.u16(r.u16());
  w.u32(r.u32());
  w.u64(r.u64());
  w.u64(r.u64());
  w.f64(r.f64());
  w.f64(r.f64());
  w.string(r.string());
  w.string(r.string());
  w.bytes(r.bytes());
  w.bytes(r.bytes());
  w.raw(r.raw(2));
  r.expectEnd();
}

const entries: Entry[] = [
  { index: 41, term: 7, type: EntryType.Normal, data: u8(1, 2, 3) },
  { index: 42, term: 7, type: EntryType.Config, data: encodeMembership({ voters: [1, 2, 3], learners: [9] }) },
  { index: 43, term: 8, type: EntryType.Noop, data: u8() },
];
const raftMessages = [
  makeMessage(MsgType.Heartbeat, 0, 1, 2, 3, 0, 0, 4, [], false, 0, 5, null),
  makeMessage(MsgType.App, 3, 1, 2, 8, 40, 7, 39, entries, false, 0, 0, null),
  makeMessage(MsgType.AppResp, 2 ** 33, 2, 1, 8, 44, 0, 0, [], true, 40, 2 ** 40, null),
  makeMessage(MsgType.App, 0, 1, 3, 8, 0, 0, 0, [entries[2]!, entries[0]!], false, 0, 0, null),
  makeMessage(MsgType.Snap, 1, 1, 3, 9, 0, 0, 50, [], false, 0, 0, {
    meta: { index: 500, term: 8, membership: { voters: [1, 2, 3], learners: [4], votersOutgoing: [1, 2] } },
    offset: 128,
    total: 1000,
    data: u8(5, 6, 7, 8),
  }),
];

const clientRequests: ClientRequest[] = [
  { type: RequestType.Write, command: u8(0, 1, 2) },
  { type: RequestType.Read, query: u8(1, 7) },
  { type: RequestType.Info },
];
const clientResponses: ClientResponse[] = [
  { type: ResponseType.Ok, result: u8(0, 4, 5) },
  { type: ResponseType.Redirect, leader: 3, address: '127.0.0.1:7103' },
  { type: ResponseType.Retry, leader: 0, address: '', reason: 'no leader' },
  { type: ResponseType.Info, replica: 2, leader: 3, leaderAddress: 'h:1', term: 2 ** 35, role: 'follower', window: 64, clusterId: 'c1' },
  { type: ResponseType.Error, message: 'bad request ✗' },
];

const kvCommands: KvCommand[] = [
  { op: 'put', key: latin1('k1'), value: latin1('value one'), prevKv: true },
  { op: 'delete', key: latin1('k\xff'), prevKv: false },
  { op: 'cas', key: latin1('c'), compare: { kind: 'absent' }, value: latin1('v') },
  { op: 'cas', key: latin1('c'), compare: { kind: 'value', value: latin1('old') }, value: null },
  { op: 'cas', key: latin1('c'), compare: { kind: 'mod-revision', revision: 2 ** 33 + 1 }, value: latin1('new') },
];
const kvQueries: KvQuery[] = [
  { op: 'get', key: latin1('k1') },
  { op: 'scan', start: latin1(''), end: latin1('z'), limit: 1000, keysOnly: true },
  { op: 'scan', start: latin1('a'), end: null, limit: 1 },
  { op: 'stat' },
];
const entryA = { key: latin1('k1'), value: latin1('v1'), createRevision: 3, modRevision: 300, version: 2 };
const kvCommandResults: KvCommandResult[] = [
  { op: 'put', revision: 301, prev: entryA },
  { op: 'put', revision: 1, prev: null },
  { op: 'delete', revision: 302, deleted: true, prev: null },
  { op: 'cas', succeeded: false, revision: 303, current: entryA },
];
const kvQueryResults: KvQueryResult[] = [
  { op: 'get', revision: 304, entry: entryA },
  { op: 'get', revision: 304, entry: null },
  { op: 'scan', revision: 305, entries: [entryA, { ...entryA, key: latin1('k2'), value: latin1('') }], more: true },
  { op: 'scan', revision: 305, entries: [{ ...entryA, value: null }], more: false },
  { op: 'stat', revision: 306, keys: 2, valueBytes: 2 ** 40 },
];

const records: ControlRecord[] = [
  { kind: 'change', fromEpoch: 3, instances: 5 },
  { kind: 'seal', epoch: 4 },
  { kind: 'join', epoch: 2 ** 31 },
  { kind: 'members', change: { type: 'add-learner', node: 9 } },
];

function mergeState() {
  const s = initialState(3, { voters: [1, 2, 3], learners: [] });
  s.q = 1234;
  s.p = 999;
  s.epoch = 4;
  s.turnPos = 2;
  s.cursors[0] = { next: 40, skipUsed: 3, slots: 412, lastSlotIndex: 40, mode: GroupMode.Active, joinEpoch: 0 };
  s.cursors.push(undefined, undefined);
  s.cursors[5] = { next: 7, skipUsed: 0, slots: 2, lastSlotIndex: 5, mode: GroupMode.Idle, joinEpoch: 2 };
  s.transition = { epoch: 5, instances: 2, pendingSeal: [2], added: [] };
  s.bootstrap.set(5, { voters: [1, 2, 3], learners: [4] });
  return s;
}

const nonceA = Buffer.alloc(32, 0xa1);
const nonceB = Buffer.alloc(32, 0xb2);

function netFrame(fill: (w: ByteWriter) => void): Uint8Array {
  const w = new ByteWriter(16);
  fill(w);
  return w.toBytes();
}

async function kvSnapshot(): Promise<Uint8Array> {
  const sm = kv.createKvStateMachine({});
  const open = encodeCommand({ kind: CommandKind.OpenSession, client: 0, seq: 77 });
  sm.apply([{ index: 1, term: 1, type: EntryType.Normal, data: encodeBatch(1_000, [open]) }]);
  const put = (key: string, value: string, seq: number, client: number) =>
    encodeCommand({ client, seq, ack: client === 0 ? 0 : seq - 1, body: kv.encodeKvCommand({ op: 'put', key: latin1(key), value: latin1(value) }) });
  sm.apply([{ index: 2, term: 1, type: EntryType.Normal, data: encodeBatch(2_000, [put('alpha', 'one', 1, 1), put('beta', 'two', 2, 1), put('gamma', '', 5, 0)]) }]);
  const parts: Uint8Array[] = [];
  for await (const chunk of sm.snapshot()) parts.push(Uint8Array.from(chunk));
  return Buffer.concat(parts);
}

function wal(fill: (eb: ByteWriter) => void): Uint8Array {
  const eb = new ByteWriter(64);
  fill(eb);
  return eb.finish();
}

export const goldenCases: GoldenCase[] = [
  {
    name: 'net toolkit primitives',
    encode: () => netFrame(netPrimitives),
    reencode: (b) => netFrame((w) => readNetPrimitives(new ByteReader(b), w)),
  },
  {
    name: 'service toolkit primitives',
    encode: () => {
      const w = new ByteWriter(4);
      for (const v of VARINTS) w.varint(v);
      return w.u8(7).u32le(0xdeadbeef).latin1('k\xe9y').string('✓').bytes(u8(4, 5)).raw(u8(6)).finish();
    },
    reencode: (b) => {
      const r = new ByteReader(b, 'golden');
      const w = new ByteWriter(4);
      for (let i = 0; i < VARINTS.length; i++) w.varint(r.varint());
      w.u8(r.u8()).u32le(r.u32le());
      const key = r.bytes('key', 100);
      w.latin1(Buffer.from(key).toString('latin1')).string(r.string('text', 100)).bytes(r.bytes('bytes', 100)).raw(r.raw(1, 'raw'));
      r.expectEnd();
      return w.finish();
    },
  },
  ...raftMessages.map(
    (m, i): GoldenCase => ({ name: `raft message ${i} (${msgTypeName(m.type)})`, encode: () => encodeRaftMessage(m), reencode: (b) => encodeRaftMessage(decodeRaftMessage(b)) }),
  ),
  {
    name: 'raft membership',
    encode: () => encodeMembership({ voters: [1, 300, 2 ** 31], learners: [], votersOutgoing: [1] }),
    reencode: (b) => encodeMembership(decodeMembership(b)),
  },
  {
    name: 'frame + peer hello',
    encode: () =>
      netFrame((w) => {
        const s = beginFrame(w, FrameKind.PeerHello);
        writePeerHello(w, { version: 1, clusterId: 'cluster-é', from: 1, to: 2 ** 32 - 1, nonce: nonceA });
        endFrame(w, s);
      }),
    reencode: (b) =>
      netFrame((w) => {
        const h = readPeerHello(Buffer.from(b.subarray(5)));
        const s = beginFrame(w, b[4]!);
        writePeerHello(w, h);
        endFrame(w, s);
      }),
  },
  {
    name: 'peer challenge, accept, reject',
    encode: () =>
      netFrame((w) => {
        w.u16(1);
        w.raw(nonceB);
        w.raw(nonceA);
        w.u32(16 * 1024 * 1024);
        writeReject(w, 'wrong-cluster', 1, 3);
      }),
    reencode: (b) =>
      netFrame((w) => {
        const buf = Buffer.from(b);
        const c = readChallenge(buf.subarray(0, 34));
        w.u16(c.version);
        w.raw(c.nonce);
        const a = readAccept(buf.subarray(34, 70));
        w.raw(a.proof);
        w.u32(a.maxFrameBytes);
        const r = readReject(buf.subarray(70));
        writeReject(w, r.reason, r.minVersion, r.maxVersion);
      }),
  },
  {
    name: 'peer proof (HMAC over the transcript encoding)',
    encode: () =>
      peerProof(Buffer.alloc(32, 7), 'dialer', { version: 1, clusterId: 'c', dialer: 1, acceptor: 2, dialerNonce: nonceA, acceptorNonce: nonceB }),
  },
  {
    name: 'client hello and welcome',
    encode: () =>
      netFrame((w) => {
        writeClientHello(w, 1, latin1('secret-token'));
        writeClientWelcome(w, { version: 1, replicaId: 3, maxFrameBytes: 1 << 24 });
      }),
    reencode: (b) =>
      netFrame((w) => {
        const buf = Buffer.from(b);
        const h = readClientHello(buf.subarray(0, 19));
        writeClientHello(w, h.version, h.token);
        writeClientWelcome(w, readClientWelcome(buf.subarray(19)));
      }),
  },
  {
    name: 'probe message',
    encode: () => probeCodec.encode({ from: 1, to: 2, seq: 2 ** 40, payload: u8(1, 2, 3) }),
    reencode: (b) => probeCodec.encode(probeCodec.decode(b)),
  },
  ...clientRequests.map(
    (m, i): GoldenCase => ({
      name: `client request ${i}`,
      encode: () => requestCodec.encode(m),
      reencode: (b) => netFrame((w) => requestCodec.encodeInto(requestCodec.decode(b), w)),
    }),
  ),
  ...clientResponses.map(
    (m, i): GoldenCase => ({
      name: `client response ${i}`,
      encode: () => responseCodec.encode(m),
      reencode: (b) => netFrame((w) => responseCodec.encodeInto(responseCodec.decode(b), w)),
    }),
  ),
  {
    name: 'peer envelope',
    encode: () => peerEnvelopeCodec.encode({ group: 2 ** 32 - 1, from: 1, to: 300, data: u8(9, 9) }),
    reencode: (b) => netFrame((w) => peerEnvelopeCodec.encodeInto(peerEnvelopeCodec.decode(b), w)),
  },
  {
    name: 'service commands in a batch',
    encode: () =>
      encodeBatch(1_700_000_000_123, [
        encodeCommand({ client: 5, seq: 1000, ack: 998, body: u8(1, 2) }),
        encodeCommand({ kind: CommandKind.OpenSession, client: 0, seq: 2 ** 40 }),
        encodeCommand({ kind: CommandKind.CloseSession, client: 5, seq: 1001, ack: 1000 }),
        encodeCommand({ client: 0, seq: 3, body: u8() }),
      ]),
    reencode: (b) => {
      const batch = decodeBatch(b);
      return encodeBatch(batch.timestampMs, batch.commands.map((c) => encodeCommand(decodeCommand(encodeCommand(c)))));
    },
  },
  {
    name: 'service queries and status results',
    encode: () => Buffer.concat([encodeQuery(0, u8(1, 2)), encodeQuery(1, u8()), encodeStatusResult(ResultStatus.Malformed, 'bad ✗'), encodeStatusResult(ResultStatus.Stale)]),
    reencode: (b) => {
      const buf = Buffer.from(b);
      const malformed = decodeResult(buf.subarray(4, 13));
      const stale = decodeResult(buf.subarray(13));
      if (malformed.status !== ResultStatus.Malformed) throw new Error('expected a Malformed result');
      return Buffer.concat([buf.subarray(0, 4), encodeStatusResult(ResultStatus.Malformed, malformed.message), encodeStatusResult(stale.status as typeof ResultStatus.Stale)]);
    },
  },
  ...kvCommands.map((c, i): GoldenCase => ({ name: `kv command ${i} (${c.op})`, encode: () => kv.encodeKvCommand(c), reencode: (b) => kv.encodeKvCommand(kv.decodeKvCommand(b)) })),
  ...kvQueries.map((q, i): GoldenCase => ({ name: `kv query ${i} (${q.op})`, encode: () => kv.encodeKvQuery(q), reencode: (b) => kv.encodeKvQuery(kv.decodeKvQuery(b)) })),
  ...kvCommandResults.map(
    (r, i): GoldenCase => ({ name: `kv command result ${i} (${r.op})`, encode: () => kv.encodeKvCommandResult(r), reencode: (b) => kv.encodeKvCommandResult(kv.decodeKvCommandResult(b)) }),
  ),
  ...kvQueryResults.map(
    (r, i): GoldenCase => ({ name: `kv query result ${i} (${r.op})`, encode: () => kv.encodeKvQueryResult(r), reencode: (b) => kv.encodeKvQueryResult(kv.decodeKvQueryResult(b)) }),
  ),
  { name: 'kv state machine snapshot (sessions, entries, framing, CRCs)', encode: kvSnapshot },
  {
    name: 'WAL segment header, batch header and records',
    encode: () =>
      Buffer.concat([
        walFormat.encodeSegmentHeader(2 ** 40 + 5, 0x12345678),
        wal((eb) => {
          eb.ensure(32);
          walFormat.writeBatchHeader(eb.buf, 0, 0x12345678, 1000, 4, 2 ** 33, 1);
          eb.pos = 32;
          walFormat.encodeEntry(eb, 3, { index: 2 ** 41, term: 9, type: EntryType.Config, data: u8(1, 2, 3, 4, 5) });
          walFormat.encodeHardState(eb, 3, { term: 9, vote: 2, commit: 2 ** 41 - 1 });
          walFormat.encodeSnapshotRef(eb, 0, { index: 100, term: 4, membership: { voters: [1, 2], learners: [3], votersOutgoing: [1] }, fileId: 7, size: 4096, crc: 0xcafebabe }, 1);
          walFormat.encodeSnapshotRef(eb, 1, { index: 100, term: 4, membership: { voters: [1], learners: [] }, fileId: 7, size: 4096, crc: 1 }, 0);
          walFormat.encodeLogState(eb, 3, { lastIndex: 50, runStart: [1, 20], runTerm: [1, 4] });
        }),
      ]),
  },
  ...records.map((r, i): GoldenCase => ({
    name: `multiraft record ${i} (${r.kind})`,
    encode: () => encodeRecord(r),
    reencode: (b) => encodeRecord(decodeRecord({ index: 1, term: 1, type: EntryType.Noop, data: b })!),
  })),
  { name: 'multiraft skip', encode: () => encodeSkip(2 ** 20 + 1) },
  {
    name: 'multiraft snapshot wrapper',
    encode: () => wrapSnapshot(mergeState(), u8(1, 2, 3)),
    reencode: (b) => {
      const u = unwrapSnapshot(b, 16);
      return wrapSnapshot(u.state, u.image);
    },
  },
];
