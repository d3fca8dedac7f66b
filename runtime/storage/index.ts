// Public surface of the storage module.
export { LogStore } from './log-store.js';
export type { OpenResult, SnapshotTarget, SavedSnapshot, CompactResult, StoreStats } from './log-store.js';
export { MAX_ENTRY_BYTES } from './log-store.js';
export type { RecoveryReport, LaneRecovery } from './recovery.js';
export type { LogStoreOptions, StorageConfig, WalLayout } from './options.js';
export { storageConfigSchema } from './options.js';
export type { SyncPolicy } from './wal-lane.js';
export type { TornTail } from './wal-scan.js';
export { StorageError, CorruptionError } from './errors.js';
export type { StorageErrorCode } from './errors.js';
export { writeFileAtomic, writeChecksummedFileAtomic, readChecksummedFile } from './atomic-file.js';
export { readSnapshotStream, readSnapshotFile } from './snapshot-file.js';
export { crc32c } from './crc32c.js';
