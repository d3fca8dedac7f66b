// The contract between the load generator and a system under load. One driver per URL scheme
// (etcd://, verdant://, null://); see targets/index.ts. Every method may reject; the generator
// counts a rejection as an error of that operation and never retries it.

export type ReadConsistency = 'linearizable' | 'stale';

export interface LoadTarget {
  /** Scheme this driver serves, e.g. 'etcd'. */
  readonly kind: string;
  /**
   * Opens connections to every endpoint and checks each one answers. Rejects with
   * TargetUnreachableError naming the endpoint when one does not.
   */
  connect(): Promise<void>;
  /** Durable write: resolves once the cluster has committed it. */
  put(key: Uint8Array, value: Uint8Array): Promise<void>;
  /** The value, or undefined if the key does not exist. 'stale' may answer from any replica's state. */
  get(key: Uint8Array, consistency: ReadConsistency): Promise<Uint8Array | undefined>;
  /** True if the key existed. */
  delete(key: Uint8Array): Promise<boolean>;
  /**
   * Writes value if the current value equals expected (undefined: only if the key is absent).
   * Resolves false when the comparison failed; that is an outcome, not an error.
   */
  cas(key: Uint8Array, expected: Uint8Array | undefined, value: Uint8Array): Promise<boolean>;
  /** Reads up to limit keys in [start, end) in key order; resolves the number returned. */
  scan(start: Uint8Array, end: Uint8Array, limit: number, consistency: ReadConsistency): Promise<number>;
  /** Closes every connection; pending operations may reject. */
  close(): Promise<void>;
}

export interface TargetEndpoint {
  host: string;
  port: number;
}

export interface TargetSpec {
  scheme: string;
  endpoints: TargetEndpoint[];
  /** The URL as the user wrote it, for messages. */
  url: string;
}

export interface TargetOptions {
  /** Connections (HTTP/2 sessions, sockets) per endpoint. */
  connectionsPerEndpoint: number;
  /** Deadline for one operation. */
  timeoutMs: number;
  /** Deadline for connect() to reach each endpoint. */
  connectTimeoutMs: number;
  /**
   * Credential for targets whose client port authenticates (verdant's does). The etcd clusters
   * used here run without auth and ignore it.
   */
  token?: string;
  /** PEM CA: verdant replicas serve their client port over TLS (config tls.clientPort). */
  tlsCa?: string;
}

export const DEFAULT_TARGET_OPTIONS: TargetOptions = {
  connectionsPerEndpoint: 1,
  timeoutMs: 10_000,
  connectTimeoutMs: 3_000,
};

/** The target cannot be reached at all: the CLI reports it and exits non-zero. */
export class TargetUnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetUnreachableError';
  }
}
