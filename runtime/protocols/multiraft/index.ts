// Multi-Raft (Niagara) as a plug-in: `multiraftProtocol.create(init, options)` builds R Raft
// instances and their sequencer behind one ProtocolCore. Messages are Raft's, tagged by group.
import type { CoreInit, ProtocolFactory } from '../api.js';
import { raftCodec } from '../raft/codec.js';
import { describeMessage } from '../raft/messages.js';
import type { RaftMessage } from '../raft/messages.js';
import { RAFT_BUGS } from '../raft/options.js';
import { MultiRaftCore } from './core.js';
import { MULTIRAFT_BUGS } from './options.js';
import type { MultiRaftOptions } from './options.js';

export const multiraftProtocol: ProtocolFactory<RaftMessage, MultiRaftOptions & Record<string, unknown>> & {
  readonly bugs: readonly string[];
  describe(m: RaftMessage): string;
} = {
  name: 'multiraft',
  create(init: CoreInit, options?: Partial<MultiRaftOptions & Record<string, unknown>>): MultiRaftCore {
    return new MultiRaftCore(init, options as Record<string, unknown> | undefined);
  },
  codec: raftCodec,
  bugs: [...MULTIRAFT_BUGS, ...RAFT_BUGS],
  describe: describeMessage,
};

export { MultiRaftCore } from './core.js';
export { Coordinator, COORDINATOR_COUNTERS, convergeStep, membershipSteps, proposeRecordUnlessHeld, restartPoint } from './coordinator.js';
export type { CompactionPlan, CoordinatorExport, CoordinatorHost, InstanceCore, InstanceInfo, InstancePort, RestartPoint } from './coordinator.js';
export { Sequencer } from './sequencer.js';
export type { AwaitedRecord, ReadStatus, SequencerCounters, SequencerExport, SequencerListener } from './sequencer.js';
export { DEFAULT_MULTIRAFT_OPTIONS, MULTIRAFT_BUGS, resolveMultiRaftOptions } from './options.js';
export type { MultiRaftBug, MultiRaftOptions, ProgressMode } from './options.js';
export { SkipPacer, noopPlan } from './progress.js';
export type { SkipPacerState } from './progress.js';
export { decodeRecord, encodeRecord, encodeSkip, slotWeight } from './records.js';
export type { ControlRecord } from './records.js';
export { SnapshotFormatError, decodeState, encodeState, unwrapSnapshot, wrapSnapshot } from './snapshot-format.js';
export { GroupMode, cloneState, initialState } from './state.js';
export type { GroupCursor, MergeState, Transition } from './state.js';
export { pGlobal } from './reads.js';
