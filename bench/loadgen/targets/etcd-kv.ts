// What the two etcd drivers share: LoadTarget's operations as etcd v3 KV requests, spread
// round-robin over every member and connection (as etcd's own clientv3 balancer does). A driver
// supplies only the connection, i.e. how a unary gRPC call travels (./etcd.ts, ./etcd-grpcjs.ts).
import type { LoadTarget, ReadConsistency, TargetOptions, TargetSpec } from '../target.js';
import { TargetUnreachableError } from '../target.js';
import { endpointAddress } from '../target-url.js';

export type EtcdMethod = 'Range' | 'Put' | 'DeleteRange' | 'Txn' | 'Status';

/** Each method's gRPC path. */
export const ETCD_PATHS: Record<EtcdMethod, string> = {
  Range: '/etcdserverpb.KV/Range',
  Put: '/etcdserverpb.KV/Put',
  DeleteRange: '/etcdserverpb.KV/DeleteRange',
  Txn: '/etcdserverpb.KV/Txn',
  Status: '/etcdserverpb.Maintenance/Status',
};

/** One connection to one member. Errors start with the member's address. */
export interface EtcdConnection {
  /** One unary call with a request message object; resolves the decoded response message. */
  unary(method: EtcdMethod, req: object, timeoutMs: number): Promise<object>;
  close(): void;
}

type Long = { toNumber(): number };
interface RangeResponse {
  kvs?: { value?: Uint8Array }[];
}
interface DeleteRangeResponse {
  deleted?: number | Long;
}
interface TxnResponse {
  succeeded?: boolean;
}

const num = (v: number | Long | undefined): number => (v === undefined ? 0 : typeof v === 'number' ? v : v.toNumber());

const COMPARE_EQUAL = 0;
const TARGET_VERSION = 0;
const TARGET_VALUE = 3;

export class EtcdKvTarget implements LoadTarget {
  private conns: EtcdConnection[] = [];
  private next = 0;

  constructor(
    readonly kind: string,
    private readonly spec: TargetSpec,
    private readonly opts: TargetOptions,
    private readonly openConnection: (address: string) => EtcdConnection,
  ) {}

  async connect(): Promise<void> {
    const perEndpoint = this.spec.endpoints.map((e) => Array.from({ length: this.opts.connectionsPerEndpoint }, () => this.openConnection(endpointAddress(e))));
    // Interleave so consecutive requests go to different members.
    for (let i = 0; i < this.opts.connectionsPerEndpoint; i++) for (const list of perEndpoint) this.conns.push(list[i]!);
    // Every connection must answer a Status call: an unreachable member fails the run up front.
    const failures: string[] = [];
    await Promise.all(
      perEndpoint.map(async (conns) => {
        for (const c of conns) {
          try {
            await c.unary('Status', {}, this.opts.connectTimeoutMs);
          } catch (err) {
            failures.push(`etcd unreachable: ${err instanceof Error ? err.message : String(err)}`);
            return;
          }
        }
      }),
    );
    if (failures.length > 0) {
      await this.close();
      throw new TargetUnreachableError(`${failures.join('; ')} (target ${this.spec.url})`);
    }
  }

  private call<T>(method: EtcdMethod, req: object): Promise<T> {
    const c = this.conns[this.next]!;
    this.next = this.next + 1 === this.conns.length ? 0 : this.next + 1;
    return c.unary(method, req, this.opts.timeoutMs) as Promise<T>;
  }

  async put(key: Uint8Array, value: Uint8Array): Promise<void> {
    await this.call('Put', { key, value });
  }

  async get(key: Uint8Array, consistency: ReadConsistency): Promise<Uint8Array | undefined> {
    const res = await this.call<RangeResponse>('Range', { key, serializable: consistency === 'stale' });
    const kv = res.kvs?.[0];
    return kv ? (kv.value ?? new Uint8Array(0)) : undefined;
  }

  async delete(key: Uint8Array): Promise<boolean> {
    return num((await this.call<DeleteRangeResponse>('DeleteRange', { key })).deleted) > 0;
  }

  async cas(key: Uint8Array, expected: Uint8Array | undefined, value: Uint8Array): Promise<boolean> {
    const compare =
      expected === undefined
        ? { key, result: COMPARE_EQUAL, target: TARGET_VERSION, version: 0 }
        : { key, result: COMPARE_EQUAL, target: TARGET_VALUE, value: expected };
    const res = await this.call<TxnResponse>('Txn', { compare: [compare], success: [{ request_put: { key, value } }] });
    return res.succeeded === true;
  }

  async scan(start: Uint8Array, end: Uint8Array, limit: number, consistency: ReadConsistency): Promise<number> {
    const res = await this.call<RangeResponse>('Range', { key: start, range_end: end, limit, serializable: consistency === 'stale' });
    return res.kvs?.length ?? 0;
  }

  async close(): Promise<void> {
    for (const c of this.conns) c.close();
    this.conns = [];
  }
}
