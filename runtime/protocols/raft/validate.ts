// Structural checks on an incoming message before the core looks at it. Anything that reaches the
// protocol logic has the right field types, consecutive entries and bounded sizes.
import { EntryType } from '../api.js';
import type { RejectReason } from '../api.js';
import { decodeMembership, membershipProblem } from './membership.js';
import { MSG_TYPE_MAX, MSG_TYPE_MIN, MsgType } from './messages.js';
import type { RaftMessage } from './messages.js';

function isU(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

export interface ValidationLimits {
  readonly id: number;
  readonly group: number;
  readonly maxEntryBytes: number;
  readonly maxSnapshotBytes: number;
}

/** null when the message may be processed, else the reason to reject it. */
export function checkMessage(m: RaftMessage, lim: ValidationLimits): RejectReason | null {
  if (typeof m !== 'object' || m === null) return 'malformed';
  const t = m.type;
  if (typeof t !== 'number' || !Number.isInteger(t) || t < MSG_TYPE_MIN || t > MSG_TYPE_MAX) return 'malformed';
  if (!isU(m.from) || m.from === 0 || !isU(m.to)) return 'malformed';
  if (!isU(m.term) || !isU(m.logTerm) || !isU(m.index) || !isU(m.commit) || !isU(m.hint) || !isU(m.ctx)) return 'malformed';
  if (typeof m.reject !== 'boolean' || !Array.isArray(m.entries)) return 'malformed';
  if (!isU(m.group)) return 'malformed';
  if (m.group !== lim.group) return 'unknown-group';
  if (m.to !== lim.id) return 'not-addressed-to-me';
  if (m.from === lim.id) return 'malformed';
  switch (t) {
    case MsgType.App:
      return checkAppend(m, lim);
    case MsgType.Prop:
      return checkProposals(m, lim);
    case MsgType.Snap:
      return checkChunk(m, lim);
    case MsgType.ReadIndex:
    case MsgType.ReadIndexResp:
      return m.term === 0 ? null : 'malformed';
    default:
      return m.term === 0 ? 'malformed' : null;
  }
}

function checkAppend(m: RaftMessage, lim: ValidationLimits): RejectReason | null {
  if (m.term === 0 || m.logTerm > m.term) return 'malformed';
  const ents = m.entries;
  let prevTerm = m.logTerm;
  let idx = m.index;
  for (let i = 0; i < ents.length; i++) {
    const e = ents[i];
    if (typeof e !== 'object' || e === null) return 'malformed';
    idx++;
    if (e.index !== idx) return 'malformed';
    const et = e.term;
    if (typeof et !== 'number' || !Number.isSafeInteger(et) || et < prevTerm || et > m.term || et === 0) return 'malformed';
    prevTerm = et;
    if (!(e.data instanceof Uint8Array)) return 'malformed';
    if (e.data.length > lim.maxEntryBytes) return 'oversized-entry';
    const ty = e.type;
    if (ty !== EntryType.Normal && ty !== EntryType.Noop && ty !== EntryType.Skip) {
      if (ty !== EntryType.Config) return 'malformed';
      if (configProblem(e.data)) return 'malformed';
    }
  }
  if (idx > Number.MAX_SAFE_INTEGER) return 'malformed';
  return null;
}

function configProblem(data: Uint8Array): boolean {
  try {
    return membershipProblem(decodeMembership(data), true) !== null;
  } catch {
    return true;
  }
}

function checkProposals(m: RaftMessage, lim: ValidationLimits): RejectReason | null {
  if (m.term !== 0 || m.entries.length === 0) return 'malformed';
  for (const e of m.entries) {
    if (typeof e !== 'object' || e === null || !(e.data instanceof Uint8Array) || e.type !== EntryType.Normal) return 'malformed';
    if (e.data.length > lim.maxEntryBytes) return 'oversized-entry';
  }
  return null;
}

function checkChunk(m: RaftMessage, lim: ValidationLimits): RejectReason | null {
  const c = m.snapshot;
  if (m.term === 0 || typeof c !== 'object' || c === null) return 'malformed';
  if (!isU(c.offset) || !isU(c.total) || !(c.data instanceof Uint8Array)) return 'malformed';
  if (c.offset + c.data.length > c.total) return 'malformed';
  if (c.total > lim.maxSnapshotBytes) return 'oversized-entry';
  const meta = c.meta;
  if (typeof meta !== 'object' || meta === null || !isU(meta.index) || !isU(meta.term)) return 'malformed';
  if (meta.index === 0 || meta.term === 0 || meta.term > m.term) return 'malformed';
  if (membershipProblem(meta.membership, true) !== null) return 'malformed';
  return null;
}
