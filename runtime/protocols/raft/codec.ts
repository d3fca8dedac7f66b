// Compact binary encoding of Raft messages for the network transport.
//
// Layout (all integers unsigned LEB128 varints unless noted):
//   u8 version(=1) | u8 type | u8 flags (1 reject, 2 snapshot chunk, 4 consecutive entries)
//   group from to term logTerm index commit hint ctx
//   entryCount [firstIndex if consecutive] { [index if not consecutive] term u8:type len bytes }*
//   [snapshot chunk: index term membership offset total len bytes]
// Entries of an AppendEntries are consecutive, so their indexes cost one varint in total.
import type { Entry, EntryType, MessageCodec } from '../api.js';
import { ByteReader, ByteWriter, DecodeError } from '../../common/bytes.js';
import { readMembership, writeMembership } from './membership.js';
import { MSG_TYPE_MAX, MSG_TYPE_MIN } from './messages.js';
import type { MsgType, RaftMessage, SnapshotChunk } from './messages.js';

const VERSION = 1;
const F_REJECT = 1;
const F_SNAPSHOT = 2;
const F_CONSECUTIVE = 4;
const ENTRY_TYPE_MAX = 3;

function consecutive(ents: readonly Entry[]): boolean {
  for (let i = 1; i < ents.length; i++) if (ents[i]!.index !== ents[0]!.index + i) return false;
  return true;
}

// Encode and decode are synchronous, so one writer and one reader serve every call.
const writer = new ByteWriter(4096);
const reader = new ByteReader<Uint8Array>(undefined, 'raft message');

export function encodeRaftMessage(m: RaftMessage): Uint8Array {
  if (!Number.isInteger(m.type) || m.type < MSG_TYPE_MIN || m.type > MSG_TYPE_MAX) {
    throw new RangeError(`raft message: cannot encode unknown type ${String(m.type)}`);
  }
  const ents = m.entries;
  const consec = consecutive(ents);
  const c = m.snapshot;
  const w = writer.reset();
  w.u8(VERSION);
  w.u8(m.type);
  w.u8((m.reject ? F_REJECT : 0) | (c !== null ? F_SNAPSHOT : 0) | (consec ? F_CONSECUTIVE : 0));
  w.varint(m.group);
  w.varint(m.from);
  w.varint(m.to);
  w.varint(m.term);
  w.varint(m.logTerm);
  w.varint(m.index);
  w.varint(m.commit);
  w.varint(m.hint);
  w.varint(m.ctx);
  w.varint(ents.length);
  if (ents.length > 0 && consec) w.varint(ents[0]!.index);
  for (let i = 0; i < ents.length; i++) {
    const e = ents[i]!;
    if (!consec) w.varint(e.index);
    w.varint(e.term);
    if (!Number.isInteger(e.type) || e.type < 0 || e.type > ENTRY_TYPE_MAX) {
      throw new RangeError(`raft message: cannot encode entry ${e.index} of unknown type ${String(e.type)}`);
    }
    w.u8(e.type);
    w.bytes(e.data);
  }
  if (c !== null) {
    w.varint(c.meta.index);
    w.varint(c.meta.term);
    writeMembership(w, c.meta.membership);
    w.varint(c.offset);
    w.varint(c.total);
    w.bytes(c.data);
  }
  return w.finish();
}

export function decodeRaftMessage(input: Uint8Array): RaftMessage {
  if (!(input instanceof Uint8Array)) throw new DecodeError('input is not a Uint8Array', -1, 'raft message');
  // Copy once: entry payloads become views into this private copy, never into a transport buffer
  // that may be reused after decode returns.
  const r = reader.reset(input.slice());
  const version = r.u8('version');
  if (version !== VERSION) r.fail(`unsupported version ${version} (expected ${VERSION})`, 0);
  const type = r.u8('type');
  if (type < MSG_TYPE_MIN || type > MSG_TYPE_MAX) r.fail(`unknown message type ${type}`, 1);
  const flags = r.u8('flags');
  if ((flags & ~(F_REJECT | F_SNAPSHOT | F_CONSECUTIVE)) !== 0) r.fail(`unknown flags 0x${flags.toString(16)}`, 2);
  const group = r.varint('group');
  const from = r.varint('from');
  const to = r.varint('to');
  const term = r.varint('term');
  const logTerm = r.varint('logTerm');
  const index = r.varint('index');
  const commit = r.varint('commit');
  const hint = r.varint('hint');
  const ctx = r.varint('ctx');
  const n = r.count('entries', 3);
  const consec = (flags & F_CONSECUTIVE) !== 0;
  const entries: Entry[] = new Array(n);
  let nextIndex = n > 0 && consec ? r.varint('first entry index') : 0;
  for (let i = 0; i < n; i++) {
    const idx = consec ? nextIndex++ : r.varint('entry index');
    if (idx > Number.MAX_SAFE_INTEGER) r.fail(`entry index overflows at entry ${i}`);
    const eterm = r.varint('entry term');
    const typeAt = r.pos;
    const etype = r.u8('entry type');
    if (etype > ENTRY_TYPE_MAX) r.fail(`entry ${idx} has unknown type ${etype}`, typeAt);
    const data = r.bytes('entry data');
    entries[i] = { index: idx, term: eterm, type: etype as EntryType, data };
  }
  let snapshot: SnapshotChunk | null = null;
  if ((flags & F_SNAPSHOT) !== 0) {
    const sIndex = r.varint('snapshot index');
    const sTerm = r.varint('snapshot term');
    const membership = readMembership(r);
    const offset = r.varint('snapshot offset');
    const total = r.varint('snapshot total');
    const data = r.bytes('snapshot data');
    if (offset + data.length > total) r.fail(`snapshot chunk ${offset}+${data.length} exceeds its total ${total}`);
    snapshot = { meta: { index: sIndex, term: sTerm, membership }, offset, total, data };
  }
  if (r.remaining > 0) r.fail(`${r.remaining} trailing bytes`);
  return {
    type: type as MsgType,
    group,
    from,
    to,
    term,
    logTerm,
    index,
    commit,
    entries,
    reject: (flags & F_REJECT) !== 0,
    hint,
    ctx,
    snapshot,
  };
}

export const raftCodec: MessageCodec<RaftMessage> = {
  encode: encodeRaftMessage,
  decode: decodeRaftMessage,
};
