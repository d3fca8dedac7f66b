// The client library's public surface. See docs/replica.md ("Client library").
export { KvClient, type KvClientOptions, type Bytes, type ReadConsistency, type ClientStats } from './kv-client.js';
export { KvError, type KvErrorCode } from './errors.js';
export type { ReplicaInfo } from './protocol.js';
export type { KvEntry, KvCompare } from '../service/index.js';
