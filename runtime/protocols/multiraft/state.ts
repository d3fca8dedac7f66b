// The sequencer's merge state: everything needed to continue the deterministic merge from one
// point of the global log. It is what a snapshot header carries (snapshot-format.ts), what a
// restarted or lagging replica resumes from, and what compaction maps to per-instance positions.
import type { Membership } from '../api.js';

export const GroupMode = {
  /** In the rotation (or waiting to leave it): every entry occupies slots. */
  Active: 0,
  /** Added by a change of R: entries before its Join record are not part of the global log. */
  Joining: 1,
  /** Not a member: its entries are not part of the global log. */
  Idle: 2,
} as const;
export type GroupMode = (typeof GroupMode)[keyof typeof GroupMode];

export interface GroupCursor {
  /** Raft index of the next entry to merge (or of the Skip being merged). */
  next: number;
  /** Slots already taken from the Skip entry at `next`. */
  skipUsed: number;
  /** Slots this instance has contributed to the global log so far. */
  slots: number;
  /** Raft index of the entry that gave this instance's latest slot (0: none yet). */
  lastSlotIndex: number;
  mode: GroupMode;
  /** For Joining: the epoch whose Join record it waits for. */
  joinEpoch: number;
}

export interface Transition {
  /** The epoch being entered. */
  readonly epoch: number;
  readonly instances: number;
  /** Instances leaving that have not yet contributed their Seal record. */
  pendingSeal: number[];
  /** Instances entering (Joining until their Join record). */
  readonly added: readonly number[];
}

export interface MergeState {
  /** Slots merged so far (the global log's length, skipped slots included). */
  q: number;
  /** Entries output so far (client commands; the host's applied index space). */
  p: number;
  epoch: number;
  /** R of the current epoch. */
  instances: number;
  /** Instances merged round-robin, in increasing id order. */
  rotation: number[];
  /** Position in `rotation` whose turn it is. */
  turnPos: number;
  transition: Transition | null;
  /** Indexed by instance (group) id; undefined for instances never created. */
  cursors: (GroupCursor | undefined)[];
  /** Bootstrap membership of instances created by a change of R (initial ones use CoreInit's). */
  bootstrap: Map<number, Membership>;
  /** The replica set every instance is brought to (changed by 'members' records). */
  members: Membership;
}

export function newCursor(mode: GroupMode, joinEpoch = 0): GroupCursor {
  return { next: 1, skipUsed: 0, slots: 0, lastSlotIndex: 0, mode, joinEpoch };
}

export function initialState(instances: number, members: Membership): MergeState {
  const rotation = Array.from({ length: instances }, (_, i) => i);
  return {
    q: 0,
    p: 0,
    epoch: 0,
    instances,
    rotation,
    turnPos: 0,
    transition: null,
    cursors: rotation.map(() => newCursor(GroupMode.Active)),
    bootstrap: new Map(),
    members: copyMembership(members),
  };
}

export function cloneState(s: MergeState): MergeState {
  return {
    q: s.q,
    p: s.p,
    epoch: s.epoch,
    instances: s.instances,
    rotation: s.rotation.slice(),
    turnPos: s.turnPos,
    transition: s.transition
      ? { epoch: s.transition.epoch, instances: s.transition.instances, pendingSeal: s.transition.pendingSeal.slice(), added: s.transition.added.slice() }
      : null,
    cursors: s.cursors.map((c) => (c ? { ...c } : undefined)),
    bootstrap: new Map(s.bootstrap),
    members: s.members,
  };
}

export function copyMembership(m: Membership): Membership {
  return { voters: m.voters.slice(), learners: m.learners.slice() };
}

/** Whose turn it is. */
export function turnOf(s: MergeState): number {
  return s.rotation[s.turnPos]!;
}

/** Null if the state is internally consistent, else what is wrong (used on decoded headers). */
export function stateProblem(s: MergeState, maxInstances: number): string | null {
  if (s.rotation.length === 0) return 'empty rotation';
  if (s.turnPos < 0 || s.turnPos >= s.rotation.length) return `turn position ${s.turnPos} outside the rotation`;
  for (let i = 0; i < s.rotation.length; i++) {
    const g = s.rotation[i]!;
    if (g >= maxInstances) return `instance ${g} beyond maxInstances ${maxInstances}`;
    if (i > 0 && s.rotation[i - 1]! >= g) return 'rotation not strictly increasing';
    const c = s.cursors[g];
    if (!c) return `rotation member ${g} has no cursor`;
    if (c.mode === GroupMode.Idle) return `rotation member ${g} is idle`;
  }
  if (s.instances < 1 || s.instances > maxInstances) return `instances ${s.instances} out of range`;
  for (const c of s.cursors) {
    if (c && (c.next < 1 || c.skipUsed < 0 || c.lastSlotIndex >= c.next + (c.skipUsed > 0 ? 1 : 0))) return 'cursor out of range';
  }
  return null;
}
