// Errors the store raises. Every error about bytes on disk names the file and the byte offset.

export type StorageErrorCode =
  /** Bytes on disk fail a checksum or contradict committed data: refuse to start. */
  | 'corrupt'
  /** The disk is full; the store stopped accepting writes. */
  | 'disk-full'
  /** Any other I/O failure; the store stopped accepting writes. */
  | 'io'
  /** The caller asked for something the log cannot do (gap, overwrite of committed entries, ...). */
  | 'invalid-write'
  /** The store is closed, or stopped after an earlier write failure. */
  | 'closed'
  /** The directory is not a store, or its layout does not match the options. */
  | 'layout';

export class StorageError extends Error {
  readonly code: StorageErrorCode;
  /** The file involved, when there is one. */
  readonly file: string | undefined;
  /** Byte offset within `file`, when it is about a position on disk. */
  readonly offset: number | undefined;
  constructor(code: StorageErrorCode, message: string, opts: { file?: string; offset?: number; cause?: unknown } = {}) {
    const where =
      opts.file !== undefined ? ` [${opts.file}${opts.offset !== undefined ? ` at byte offset ${opts.offset}` : ''}]` : '';
    super(message + where, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = 'StorageError';
    this.code = code;
    this.file = opts.file;
    this.offset = opts.offset;
  }
}

/** Corruption in the middle of the log or of a snapshot: the store refuses to open. */
export class CorruptionError extends StorageError {
  constructor(file: string, offset: number, reason: string) {
    super('corrupt', `storage corruption: ${reason}; refusing to start (no data was changed)`, { file, offset });
    this.name = 'CorruptionError';
  }
}

/** Wraps an I/O failure of a write path into the error the store stops with. */
export function writeFailure(err: unknown, what: string, file: string): StorageError {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new StorageError(
      'disk-full',
      `disk full while ${what}: the store stopped accepting writes. Every append that was acknowledged ` +
        `is intact on disk; free space and reopen the store (restart the replica) to continue`,
      { file, cause: err },
    );
  }
  return new StorageError(
    'io',
    `I/O error while ${what} (${code ?? String(err)}): the store stopped accepting writes; reopen it to recover`,
    { file, cause: err },
  );
}
