// The default etcd v3 driver (`etcd://`): etcd's gRPC API over node:http2 (./grpc-h2.ts), messages
// encoded and decoded by protobufjs from ./etcd-descriptor.ts. Requests are spread round-robin over
// every member and connection, as etcd's own clientv3 balancer does. Why not @grpc/grpc-js: see
// docs/load.md ("etcd client"); that driver stays available as `etcd+grpc-js://`.
import protobuf from 'protobufjs';
import type { LoadTarget, ReadConsistency, TargetOptions, TargetSpec } from '../target.js';
import { TargetUnreachableError } from '../target.js';
import { endpointAddress } from '../target-url.js';
import { etcdDescriptor } from './etcd-descriptor.js';
import { GrpcH2Channel } from './grpc-h2.js';

type Long = { toNumber(): number };
interface Kv {
  value?: Uint8Array;
}
interface RangeResponse {
  kvs?: Kv[];
}
interface DeleteRangeResponse {
  deleted?: number | Long;
}
interface TxnResponse {
  succeeded?: boolean;
}

interface Codec {
  encode(message: object): protobuf.Writer;
  decode(buf: Uint8Array): unknown;
}

let typesCache: Record<string, Codec> | undefined;
function types(): Record<string, Codec> {
  if (!typesCache) {
    const root = protobuf.Root.fromJSON(etcdDescriptor as unknown as protobuf.INamespace);
    const t = (n: string) => root.lookupType(`etcdserverpb.${n}`) as unknown as Codec;
    typesCache = {
      RangeRequest: t('RangeRequest'),
      RangeResponse: t('RangeResponse'),
      PutRequest: t('PutRequest'),
      DeleteRangeRequest: t('DeleteRangeRequest'),
      DeleteRangeResponse: t('DeleteRangeResponse'),
      TxnRequest: t('TxnRequest'),
      TxnResponse: t('TxnResponse'),
      StatusRequest: t('StatusRequest'),
      StatusResponse: t('StatusResponse'),
    };
  }
  return typesCache;
}

const num = (v: number | Long | undefined): number => (v === undefined ? 0 : typeof v === 'number' ? v : v.toNumber());

const COMPARE_EQUAL = 0;
const TARGET_VERSION = 0;
const TARGET_VALUE = 3;

export class EtcdTarget implements LoadTarget {
  readonly kind = 'etcd';
  private readonly spec: TargetSpec;
  private readonly opts: TargetOptions;
  private channels: GrpcH2Channel[] = [];
  private next = 0;
  private readonly t = types();

  constructor(spec: TargetSpec, opts: TargetOptions) {
    this.spec = spec;
    this.opts = opts;
  }

  async connect(): Promise<void> {
    const perEndpoint = this.spec.endpoints.map((e) =>
      Array.from({ length: this.opts.connectionsPerEndpoint }, () => new GrpcH2Channel(endpointAddress(e))),
    );
    // Interleave so consecutive requests go to different members.
    for (let i = 0; i < this.opts.connectionsPerEndpoint; i++) for (const list of perEndpoint) this.channels.push(list[i]!);
    // Every connection must answer a Status call: an unreachable member fails the run up front.
    const status = this.t.StatusRequest!.encode({}).finish();
    const failures: string[] = [];
    await Promise.all(
      this.spec.endpoints.map(async (e, idx) => {
        for (const ch of perEndpoint[idx]!) {
          try {
            await ch.unary('/etcdserverpb.Maintenance/Status', status, this.opts.connectTimeoutMs);
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

  private call(path: string, codec: Codec, req: object): Promise<Buffer> {
    const ch = this.channels[this.next]!;
    this.next = this.next + 1 === this.channels.length ? 0 : this.next + 1;
    return ch.unary(path, codec.encode(req).finish(), this.opts.timeoutMs);
  }

  async put(key: Uint8Array, value: Uint8Array): Promise<void> {
    await this.call('/etcdserverpb.KV/Put', this.t.PutRequest!, { key, value });
  }

  async get(key: Uint8Array, consistency: ReadConsistency): Promise<Uint8Array | undefined> {
    const buf = await this.call('/etcdserverpb.KV/Range', this.t.RangeRequest!, { key, serializable: consistency === 'stale' });
    const res = this.t.RangeResponse!.decode(buf) as RangeResponse;
    const kv = res.kvs?.[0];
    return kv ? (kv.value ?? new Uint8Array(0)) : undefined;
  }

  async delete(key: Uint8Array): Promise<boolean> {
    const buf = await this.call('/etcdserverpb.KV/DeleteRange', this.t.DeleteRangeRequest!, { key });
    return num((this.t.DeleteRangeResponse!.decode(buf) as DeleteRangeResponse).deleted) > 0;
  }

  async cas(key: Uint8Array, expected: Uint8Array | undefined, value: Uint8Array): Promise<boolean> {
    const compare =
      expected === undefined
        ? { key, result: COMPARE_EQUAL, target: TARGET_VERSION, version: 0 }
        : { key, result: COMPARE_EQUAL, target: TARGET_VALUE, value: expected };
    const buf = await this.call('/etcdserverpb.KV/Txn', this.t.TxnRequest!, {
      compare: [compare],
      success: [{ request_put: { key, value } }],
    });
    return (this.t.TxnResponse!.decode(buf) as TxnResponse).succeeded === true;
  }

  async scan(start: Uint8Array, end: Uint8Array, limit: number, consistency: ReadConsistency): Promise<number> {
    const buf = await this.call('/etcdserverpb.KV/Range', this.t.RangeRequest!, {
      key: start,
      range_end: end,
      limit,
      serializable: consistency === 'stale',
    });
    return (this.t.RangeResponse!.decode(buf) as RangeResponse).kvs?.length ?? 0;
  }

  async close(): Promise<void> {
    for (const ch of this.channels) ch.close();
    this.channels = [];
  }
}
