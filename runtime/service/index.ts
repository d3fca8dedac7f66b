// The service layer's public surface: the contracts, the generic state machine, the envelopes and
// the sample KV service. See docs/service.md.
export * from './api.js';
export { ByteReader, ByteWriter, DecodeError } from '../common/bytes.js';
export * from './envelope.js';
export { ServiceStateMachine, type ServiceStateMachineOptions } from './service-state-machine.js';
export { DEFAULT_SESSION_CONFIG, type SessionConfig } from './sessions.js';
export { ClientSession } from './session-client.js';
export { SnapshotError } from './snapshot-format.js';
export * from './kv/index.js';
