// Membership as Raft stores it in Config entries: always the whole resulting configuration, never a
// delta, so the latest Config entry in a log defines the configuration whatever came before.
import type { Membership, MembershipChange, NodeId } from '../api.js';
import { ByteReader, ByteWriter } from '../../common/bytes.js';

export function isValidNodeId(x: unknown): x is NodeId {
  return typeof x === 'number' && Number.isSafeInteger(x) && x > 0;
}

/** Null if valid, else what is wrong. Raft uses single-server changes: no joint configurations. */
export function membershipProblem(m: unknown, requireVoter: boolean): string | null {
  if (typeof m !== 'object' || m === null) return 'membership is not an object';
  const mm = m as Membership;
  if (!Array.isArray(mm.voters) || !Array.isArray(mm.learners)) return 'membership voters/learners are not arrays';
  // Anything but absent or an empty list is refused: null or a number would otherwise throw inside
  // the core (null.length) or be installed as is (a number has no length).
  const out: unknown = mm.votersOutgoing;
  if (out !== undefined && !(Array.isArray(out) && out.length === 0)) {
    return Array.isArray(out) ? 'joint configurations are not used by this Raft' : 'membership votersOutgoing is not an array';
  }
  const seen = new Set<number>();
  for (const id of mm.voters) {
    if (!isValidNodeId(id)) return `invalid voter id ${String(id)}`;
    if (seen.has(id)) return `duplicate member ${id}`;
    seen.add(id);
  }
  for (const id of mm.learners) {
    if (!isValidNodeId(id)) return `invalid learner id ${String(id)}`;
    if (seen.has(id)) return `duplicate member ${id}`;
    seen.add(id);
  }
  if (requireVoter && mm.voters.length === 0) return 'membership has no voters';
  return null;
}

export function encodeMembership(m: Membership): Uint8Array {
  const w = new ByteWriter(2 + 9 * (m.voters.length + m.learners.length));
  writeMembership(w, m);
  return w.finish();
}

export function decodeMembership(data: Uint8Array): Membership {
  const r = new ByteReader(data, 'membership');
  const m = readMembership(r);
  r.expectEnd();
  return m;
}

export function writeMembership(w: ByteWriter, m: Membership): void {
  w.varint(m.voters.length);
  for (const v of m.voters) w.varint(v);
  w.varint(m.learners.length);
  for (const v of m.learners) w.varint(v);
  const out = m.votersOutgoing ?? [];
  w.varint(out.length);
  for (const v of out) w.varint(v);
}

export function readMembership(r: ByteReader): Membership {
  const voters = readIds(r, 'voters');
  const learners = readIds(r, 'learners');
  const outgoing = readIds(r, 'outgoing voters');
  return outgoing.length > 0 ? { voters, learners, votersOutgoing: outgoing } : { voters, learners };
}

function readIds(r: ByteReader, what: string): NodeId[] {
  const n = r.count(what, 1);
  const ids: NodeId[] = new Array(n);
  for (let i = 0; i < n; i++) ids[i] = r.varint(what);
  return ids;
}

export type ChangeOutcome = { readonly ok: true; readonly next: Membership | null } | { readonly ok: false; readonly error: 'not-member' | 'busy' };

/**
 * The configuration after a single-server change. `next: null` means the change is already in
 * effect (idempotent). Removing the last voter is refused.
 */
export function applyChange(m: Membership, c: MembershipChange): ChangeOutcome {
  if (!isValidNodeId(c.node)) return { ok: false, error: 'not-member' };
  const isVoter = m.voters.includes(c.node);
  const isLearner = m.learners.includes(c.node);
  const without = (ids: readonly NodeId[]) => ids.filter((x) => x !== c.node);
  switch (c.type) {
    case 'add-learner':
      if (isLearner) return { ok: true, next: null };
      // Demoting a voter is a single-server change of the voter set, like a removal.
      if (isVoter && m.voters.length === 1) return { ok: false, error: 'busy' };
      return { ok: true, next: { voters: without(m.voters), learners: [...m.learners, c.node] } };
    case 'promote':
      if (isVoter) return { ok: true, next: null };
      if (!isLearner) return { ok: false, error: 'not-member' };
      return { ok: true, next: { voters: [...m.voters, c.node], learners: without(m.learners) } };
    case 'add-voter':
      if (isVoter) return { ok: true, next: null };
      return { ok: true, next: { voters: [...m.voters, c.node], learners: without(m.learners) } };
    case 'remove':
      if (!isVoter && !isLearner) return { ok: true, next: null };
      if (isVoter && m.voters.length === 1) return { ok: false, error: 'busy' };
      return { ok: true, next: { voters: without(m.voters), learners: without(m.learners) } };
    default:
      return { ok: false, error: 'not-member' };
  }
}
