// Raft's wire messages. One flat shape for every type (like etcd's raftpb.Message) so that hot
// paths see a single hidden class and the codec has one layout.
import type { Entry, Envelope, NodeId, SnapshotMeta } from '../api.js';

export const MsgType = {
  /** AppendEntries: index/logTerm = previous entry, commit = leader commit. */
  App: 1,
  /** index = last index now held (success) or the rejected prev index; hint/logTerm = conflict hint. */
  AppResp: 2,
  /** index/logTerm = candidate's last entry; ctx = CAMPAIGN_TRANSFER when forced by TimeoutNow. */
  Vote: 3,
  VoteResp: 4,
  /** Sent with term = candidate's term + 1; the receiver's term does not change. */
  PreVote: 5,
  PreVoteResp: 6,
  /** commit = min(follower match, leader commit); ctx = read-confirmation sequence. */
  Heartbeat: 7,
  HeartbeatResp: 8,
  /** One chunk of a snapshot (see SnapshotChunk). */
  Snap: 9,
  /** index/logTerm = snapshot index/term, hint = bytes received in order; reject = "resend from hint". */
  SnapResp: 10,
  /** Leadership transfer: the receiver campaigns at once, skipping pre-vote and leases. */
  TimeoutNow: 11,
  /** Proposals forwarded by a follower (term 0, entries carry only type and data). */
  Prop: 12,
  /** A read forwarded by a follower (term 0, ctx = the follower's read context). */
  ReadIndex: 13,
  /** Answer to ReadIndex (term 0): index = read point, or reject with hint = leader hint. */
  ReadIndexResp: 14,
} as const;
export type MsgType = (typeof MsgType)[keyof typeof MsgType];

const NAMES: Record<number, string> = {};
for (const [k, v] of Object.entries(MsgType)) NAMES[v] = k;
export function msgTypeName(t: number): string {
  return NAMES[t] ?? `Unknown(${t})`;
}

export const MSG_TYPE_MIN = 1;
export const MSG_TYPE_MAX = 14;

/** Vote ctx flag: the campaign was started by TimeoutNow, so voters ignore their leader lease. */
export const CAMPAIGN_TRANSFER = 1;

export interface SnapshotChunk {
  readonly meta: SnapshotMeta;
  /** Byte offset of `data` within the whole snapshot image. */
  readonly offset: number;
  /** Size of the whole snapshot image in bytes. */
  readonly total: number;
  readonly data: Uint8Array;
}

export interface RaftMessage extends Envelope {
  readonly type: MsgType;
  readonly group: number;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  readonly logTerm: number;
  readonly index: number;
  readonly commit: number;
  readonly entries: readonly Entry[];
  readonly reject: boolean;
  readonly hint: number;
  readonly ctx: number;
  readonly snapshot: SnapshotChunk | null;
}

export const EMPTY_ENTRIES: readonly Entry[] = Object.freeze([]) as readonly Entry[];

/** Builds a message with every field present (one hidden class). */
export function makeMessage(
  type: MsgType,
  group: number,
  from: NodeId,
  to: NodeId,
  term: number,
  index: number,
  logTerm: number,
  commit: number,
  entries: readonly Entry[],
  reject: boolean,
  hint: number,
  ctx: number,
  snapshot: SnapshotChunk | null,
): RaftMessage {
  return { type, group, from, to, term, logTerm, index, commit, entries, reject, hint, ctx, snapshot };
}

/** One line, for traces and test failure output. */
export function describeMessage(m: RaftMessage): string {
  let s = `${m.from}->${m.to} ${msgTypeName(m.type)} g${m.group} t${m.term}`;
  switch (m.type) {
    case MsgType.App:
      s += ` prev=${m.index}/${m.logTerm} commit=${m.commit} n=${m.entries.length}`;
      if (m.entries.length > 0) s += ` [${m.entries[0]!.index}..${m.entries[m.entries.length - 1]!.index}]`;
      break;
    case MsgType.AppResp:
      s += m.reject ? ` reject index=${m.index} hint=${m.hint}/${m.logTerm}` : ` index=${m.index}`;
      break;
    case MsgType.Vote:
    case MsgType.PreVote:
      s += ` last=${m.index}/${m.logTerm}${m.ctx === CAMPAIGN_TRANSFER ? ' transfer' : ''}`;
      break;
    case MsgType.VoteResp:
    case MsgType.PreVoteResp:
      s += m.reject ? ' reject' : ' grant';
      break;
    case MsgType.Heartbeat:
      s += ` commit=${m.commit} ctx=${m.ctx}`;
      break;
    case MsgType.HeartbeatResp:
      s += ` ctx=${m.ctx}`;
      break;
    case MsgType.Snap:
      if (m.snapshot) s += ` snap=${m.snapshot.meta.index}/${m.snapshot.meta.term} bytes ${m.snapshot.offset}+${m.snapshot.data.length}/${m.snapshot.total}`;
      break;
    case MsgType.SnapResp:
      s += ` snap=${m.index}/${m.logTerm} received=${m.hint}${m.reject ? ' resend' : ''}`;
      break;
    case MsgType.Prop:
      s += ` n=${m.entries.length}`;
      break;
    case MsgType.ReadIndex:
      s += ` ctx=${m.ctx}`;
      break;
    case MsgType.ReadIndexResp:
      s += m.reject ? ` ctx=${m.ctx} reject leader=${m.hint}` : ` ctx=${m.ctx} index=${m.index}`;
      break;
  }
  return s;
}
