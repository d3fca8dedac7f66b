// What multi-Raft writes into instance logs besides client commands, and how much of the merge
// each entry occupies.
//
// Client commands are Normal entries with the client's bytes untouched. Everything the sequencer
// itself needs travels as Noop or Skip entries, which no state machine ever applies:
//   - Noop with empty data: a progress no-op (or the Noop a new Raft leader appends);
//   - Noop starting with RECORD_MAGIC: a sequencer control record (change of R, seal, join, change
//     of the replica set);
//   - Skip: one record standing for `count` consecutive empty slots of its instance.
// A malformed record or skip count is read as a plain one-slot no-op, so every replica interprets
// every committed entry the same way whatever its bytes.
import { EntryType } from '../api.js';
import type { Entry, MembershipChange } from '../api.js';
import { ByteReader, ByteWriter } from '../../common/bytes.js';

export const RECORD_MAGIC = 0x4d; // 'M'
const KIND_CHANGE = 1;
const KIND_SEAL = 2;
const KIND_JOIN = 3;
const KIND_MEMBERS = 4;
const CHANGE_TYPES: readonly MembershipChange['type'][] = ['add-learner', 'promote', 'add-voter', 'remove'];

/** Largest skip a single record may stand for (keeps slot arithmetic far from 2^53). */
export const MAX_SKIP = 1 << 30;

export type ControlRecord =
  /** From epoch `fromEpoch` on, merge instances 0..instances-1. */
  | { readonly kind: 'change'; readonly fromEpoch: number; readonly instances: number }
  /** The last slot this instance contributes before leaving (epoch = the epoch being entered). */
  | { readonly kind: 'seal'; readonly epoch: number }
  /** The first slot this instance contributes after (re)joining (epoch = the epoch being entered). */
  | { readonly kind: 'join'; readonly epoch: number }
  /** A change of the replica set: every instance's leader then brings its group to it. */
  | { readonly kind: 'members'; readonly change: MembershipChange };

export function encodeRecord(r: ControlRecord): Uint8Array {
  const w = new ByteWriter(32);
  w.u8(RECORD_MAGIC);
  switch (r.kind) {
    case 'change':
      w.u8(KIND_CHANGE);
      w.varint(r.fromEpoch);
      w.varint(r.instances);
      break;
    case 'seal':
      w.u8(KIND_SEAL);
      w.varint(r.epoch);
      break;
    case 'join':
      w.u8(KIND_JOIN);
      w.varint(r.epoch);
      break;
    case 'members':
      w.u8(KIND_MEMBERS);
      w.u8(CHANGE_TYPES.indexOf(r.change.type));
      w.varint(r.change.node);
      break;
  }
  return w.finish().slice();
}

/** The control record an entry carries, or null (a plain no-op, a command, or malformed bytes). */
export function decodeRecord(e: Entry): ControlRecord | null {
  if (e.type !== EntryType.Noop || e.data.length < 2 || e.data[0] !== RECORD_MAGIC) return null;
  try {
    const r = new ByteReader(e.data, 'multiraft record');
    r.u8('magic');
    const kind = r.u8('kind');
    let rec: ControlRecord | null = null;
    if (kind === KIND_CHANGE) {
      const fromEpoch = r.varint('fromEpoch');
      const instances = r.varint('instances');
      rec = { kind: 'change', fromEpoch, instances };
    } else if (kind === KIND_SEAL) {
      rec = { kind: 'seal', epoch: r.varint('epoch') };
    } else if (kind === KIND_JOIN) {
      rec = { kind: 'join', epoch: r.varint('epoch') };
    } else if (kind === KIND_MEMBERS) {
      const type = CHANGE_TYPES[r.u8('change type')];
      const node = r.varint('node');
      if (type !== undefined && node > 0) rec = { kind: 'members', change: { type, node } };
    }
    r.expectEnd();
    return rec;
  } catch {
    return null;
  }
}

export function encodeSkip(count: number): Uint8Array {
  if (!Number.isSafeInteger(count) || count < 1 || count > MAX_SKIP) throw new Error(`multiraft: skip count must be in 1..${MAX_SKIP}, got ${count}`);
  const w = new ByteWriter(8);
  w.varint(count);
  return w.finish().slice();
}

/** How many merge slots an entry occupies: a Skip its count (1 if malformed), anything else 1. */
export function slotWeight(e: Entry): number {
  if (e.type !== EntryType.Skip) return 1;
  const d = e.data;
  // Fast path for the usual one- and two-byte counts.
  if (d.length === 1) return d[0]! >= 1 && d[0]! < 0x80 ? d[0]! : 1;
  try {
    const r = new ByteReader(d, 'skip');
    const n = r.varint('count');
    r.expectEnd();
    return n >= 1 && n <= MAX_SKIP ? n : 1;
  } catch {
    return 1;
  }
}

export function isRecord(e: Entry, kind: ControlRecord['kind'], epoch: number): boolean {
  const r = decodeRecord(e);
  if (r === null || r.kind !== kind) return false;
  return r.kind === 'change' ? r.fromEpoch === epoch : r.kind === 'members' ? true : r.epoch === epoch;
}
