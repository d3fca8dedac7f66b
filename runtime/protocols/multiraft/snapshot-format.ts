// Multi-Raft's snapshot bytes: the merge state at the snapshot point, then the state machine's
// image, untouched.
//
// One service snapshot truncates every instance (Niagara §3.3), so the same bytes are handed to
// every instance's compact(). A replica that installs one instance's snapshot from a leader, or
// restarts from disk, needs to know where the image stands in every instance's log; the header says
// so. Hosts restore their state machine from `ProtocolCore.snapshotImage()` / `restartImage()`,
// never from the raw bytes.
//
//   "VMRS" | u8 version | varint headerLength | header | image
//   header: q p epoch instances turnPos | rotation | transition? | cursors | bootstraps | members
import type { Membership } from '../api.js';
import { ByteReader, ByteWriter, DecodeError as RaftCodecError } from '../../common/bytes.js';
import { readMembership, writeMembership } from '../raft/membership.js';
import { GroupMode, stateProblem } from './state.js';
import type { GroupCursor, MergeState } from './state.js';

const MAGIC = [0x56, 0x4d, 0x52, 0x53]; // "VMRS"
const VERSION = 1;

export class SnapshotFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotFormatError';
  }
}

function writeIds(w: ByteWriter, ids: readonly number[]): void {
  w.varint(ids.length);
  for (const x of ids) w.varint(x);
}

function readIds(r: ByteReader, field: string): number[] {
  const n = r.count(field, 1);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(r.varint(field));
  return out;
}

export function encodeState(s: MergeState): Uint8Array {
  const w = new ByteWriter(64 + 16 * s.cursors.length);
  w.varint(s.q);
  w.varint(s.p);
  w.varint(s.epoch);
  w.varint(s.instances);
  w.varint(s.turnPos);
  writeIds(w, s.rotation);
  const t = s.transition;
  w.u8(t ? 1 : 0);
  if (t) {
    w.varint(t.epoch);
    w.varint(t.instances);
    writeIds(w, t.pendingSeal);
    writeIds(w, t.added);
  }
  w.varint(s.cursors.length);
  for (const c of s.cursors) {
    if (!c) {
      w.u8(0);
      continue;
    }
    w.u8(1 + c.mode);
    w.varint(c.next);
    w.varint(c.skipUsed);
    w.varint(c.slots);
    w.varint(c.lastSlotIndex);
    w.varint(c.joinEpoch);
  }
  const boots = [...s.bootstrap.entries()].sort((a, b) => a[0] - b[0]);
  w.varint(boots.length);
  for (const [g, m] of boots) {
    w.varint(g);
    writeMembership(w, m);
  }
  writeMembership(w, s.members);
  return w.finish();
}

export function decodeState(bytes: Uint8Array, maxInstances: number): MergeState {
  const r = new ByteReader(bytes, 'multiraft snapshot header');
  const q = r.varint('q');
  const p = r.varint('p');
  const epoch = r.varint('epoch');
  const instances = r.varint('instances');
  const turnPos = r.varint('turnPos');
  const rotation = readIds(r, 'rotation');
  let transition: MergeState['transition'] = null;
  const hasT = r.u8('transition flag');
  if (hasT > 1) throw new RaftCodecError('multiraft snapshot header: bad transition flag');
  if (hasT === 1) {
    const te = r.varint('transition epoch');
    const ti = r.varint('transition instances');
    const pendingSeal = readIds(r, 'pendingSeal');
    const added = readIds(r, 'added');
    transition = { epoch: te, instances: ti, pendingSeal, added };
  }
  const n = r.count('cursors', 1);
  if (n > maxInstances) throw new RaftCodecError(`multiraft snapshot header: ${n} cursors exceed maxInstances ${maxInstances}`);
  const cursors: (GroupCursor | undefined)[] = [];
  for (let g = 0; g < n; g++) {
    const tag = r.u8('cursor tag');
    if (tag === 0) {
      cursors.push(undefined);
      continue;
    }
    const mode = tag - 1;
    if (mode !== GroupMode.Active && mode !== GroupMode.Joining && mode !== GroupMode.Idle) throw new RaftCodecError(`multiraft snapshot header: bad mode ${mode}`);
    cursors.push({
      mode: mode as GroupMode,
      next: r.varint('next'),
      skipUsed: r.varint('skipUsed'),
      slots: r.varint('slots'),
      lastSlotIndex: r.varint('lastSlotIndex'),
      joinEpoch: r.varint('joinEpoch'),
    });
  }
  const bootstrap = new Map<number, Membership>();
  const nb = r.count('bootstraps', 2);
  for (let i = 0; i < nb; i++) {
    const g = r.varint('bootstrap group');
    bootstrap.set(g, readMembership(r));
  }
  const members = readMembership(r);
  r.expectEnd();
  const s: MergeState = { q, p, epoch, instances, rotation, turnPos, transition, cursors, bootstrap, members };
  const problem = stateProblem(s, maxInstances);
  if (problem) throw new RaftCodecError(`multiraft snapshot header: ${problem}`);
  return s;
}

/** Header + image in one buffer (one copy of the image; every instance shares the result). */
export function wrapSnapshot(s: MergeState, image: Uint8Array): Uint8Array {
  const header = encodeState(s);
  const w = new ByteWriter(16 + header.length);
  for (const b of MAGIC) w.u8(b);
  w.u8(VERSION);
  w.varint(header.length);
  const prefix = w.finish();
  const out = new Uint8Array(prefix.length + header.length + image.length);
  out.set(prefix, 0);
  out.set(header, prefix.length);
  out.set(image, prefix.length + header.length);
  return out;
}

export interface UnwrappedSnapshot {
  readonly state: MergeState;
  /** A view into the input. */
  readonly image: Uint8Array;
}

/** Throws SnapshotFormatError naming what is wrong. */
export function unwrapSnapshot(data: Uint8Array, maxInstances: number): UnwrappedSnapshot {
  try {
    for (let i = 0; i < MAGIC.length; i++) {
      if (data[i] !== MAGIC[i]) throw new RaftCodecError('not a multiraft snapshot (bad magic)');
    }
    const r = new ByteReader(data.subarray(MAGIC.length), 'multiraft snapshot');
    const v = r.u8('version');
    if (v !== VERSION) throw new RaftCodecError(`unsupported multiraft snapshot version ${v}`);
    const header = r.bytes('header');
    const state = decodeState(header, maxInstances);
    return { state, image: data.subarray(MAGIC.length + r.pos) };
  } catch (e) {
    throw new SnapshotFormatError(e instanceof Error ? e.message : String(e));
  }
}
