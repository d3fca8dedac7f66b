// ───────────────────────────────────────────────────────────────────────────────────────────────
// VERDANT CLUSTER FOR `bench compare` GOES HERE.
// When the replica process lands, return a ClusterUnderTest that starts 3 replica processes on
// loopback with data on disk and fsync before acknowledging (the durability etcd has), whose
// targetUrl() is `verdant://HOST:PORT,...` and whose serverPids() are the replica processes.
// Until then this returns undefined and `bench compare` reports `verdant: null`.
// ───────────────────────────────────────────────────────────────────────────────────────────────
import type { ClusterUnderTest } from './cluster-under-test.js';

export interface VerdantClusterOptions {
  replicas?: number;
  dataRoot?: string;
}

/** A 3-replica verdant cluster, or undefined while the replica process does not exist yet. */
export function createVerdantCluster(_opts: VerdantClusterOptions = {}): ClusterUnderTest | undefined {
  return undefined;
}

export const VERDANT_UNAVAILABLE_NOTE =
  'verdant not measured: the replica process and client library have not landed yet; ' +
  'verdant and ratio_max_ops are null rather than estimated';
