// Errors of the client library. `code` says what the caller may assume about a write:
//   - 'timeout', 'outcome-unknown': the write may or may not have been applied (exactly once at
//     most, thanks to the session; never twice);
//   - every other code: the operation had no effect.
export type KvErrorCode =
  /** No answer within the operation's deadline (retries included). */
  | 'timeout'
  /** The session expired or was evicted while a retry was pending: it may have been applied. */
  | 'outcome-unknown'
  /** No attempt reached a replica before the deadline: the operation had no effect. */
  | 'unavailable'
  /** The replica refused the connection (wrong token, wrong version). */
  | 'refused'
  /** The request was malformed or violated a limit (never retried). */
  | 'invalid'
  /** The client was closed. */
  | 'closed';

export class KvError extends Error {
  readonly code: KvErrorCode;
  constructor(code: KvErrorCode, message: string) {
    super(message);
    this.name = 'KvError';
    this.code = code;
  }
}
