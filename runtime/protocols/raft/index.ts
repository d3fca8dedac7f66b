// The Raft protocol as a plug-in: `raftProtocol.create(init, options)` builds one core.
import type { CoreInit, ProtocolFactory } from '../api.js';
import { raftCodec } from './codec.js';
import { RaftCore } from './core.js';
import { describeMessage } from './messages.js';
import type { RaftMessage } from './messages.js';
import { RAFT_BUGS } from './options.js';
import type { RaftOptions } from './options.js';

export const raftProtocol: ProtocolFactory<RaftMessage, RaftOptions> = {
  name: 'raft',
  create(init: CoreInit, options?: Partial<RaftOptions>): RaftCore {
    return new RaftCore(init, options);
  },
  codec: raftCodec,
  bugs: RAFT_BUGS,
  describe: describeMessage,
};

export { RaftCore } from './core.js';
export { raftCodec } from './codec.js';
export { MsgType, CAMPAIGN_TRANSFER, describeMessage, msgTypeName } from './messages.js';
export type { RaftMessage, SnapshotChunk } from './messages.js';
export { DEFAULT_RAFT_OPTIONS, RAFT_BUGS, leaseTicks, resolveRaftOptions } from './options.js';
export type { RaftBug, RaftOptions } from './options.js';
export { encodeMembership, decodeMembership } from './membership.js';
