// What `bench compare` needs from a system under test. etcd implements it now (bench/peers/etcd.ts);
// a verdant cluster implements it when the replica process lands, and compare runs both the same way.

export interface ClusterUnderTest {
  /** Short name used in reports: 'etcd', 'verdant'. */
  readonly name: string;
  /** Starts every member and resolves once the cluster serves requests (leader elected, healthy). */
  start(): Promise<void>;
  /** Client endpoints as HOST:PORT, one per member. */
  endpoints(): string[];
  /** The `--target` URL the load generator uses, e.g. `etcd://127.0.0.1:2379,127.0.0.1:2381`. */
  targetUrl(): string;
  /** Process ids of all server processes; their CPU time is what `server_cpu_s_per_op` divides. */
  serverPids(): number[];
  /** The client credential the load generator must present, if the client port authenticates. */
  clientToken?(): string | undefined;
  /** Stops every member and removes its data. Safe to call twice, and after a failed start. */
  stop(): Promise<void>;
}
