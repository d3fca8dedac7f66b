// etcd v3 driver on the stock gRPC library (@grpc/grpc-js, messages through @grpc/proto-loader),
// selected with `etcd+grpc-js://`. It is the reference the default driver (./etcd.ts) is checked
// and measured against; it costs about twice the client CPU per request (docs/load.md).
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { LoadTarget, ReadConsistency, TargetOptions, TargetSpec } from '../target.js';
import { TargetUnreachableError } from '../target.js';
import { endpointAddress } from '../target-url.js';
import { etcdDescriptor } from './etcd-descriptor.js';
import { GrpcError } from './grpc-h2.js';

interface Method {
  path: string;
  requestSerialize: (v: object) => Buffer;
  responseDeserialize: (b: Buffer) => object;
}

interface Kv {
  value?: Buffer;
}
interface RangeResponse {
  kvs?: Kv[];
  count?: number;
}
interface DeleteRangeResponse {
  deleted?: number;
}
interface TxnResponse {
  succeeded?: boolean;
}

let methodsCache: Record<'Range' | 'Put' | 'DeleteRange' | 'Txn' | 'Status', Method> | undefined;

function methods() {
  if (!methodsCache) {
    const pkg = protoLoader.fromJSON(etcdDescriptor as unknown as Parameters<typeof protoLoader.fromJSON>[0], {
      keepCase: true,
      longs: Number,
      enums: Number,
      defaults: false,
      oneofs: false,
    });
    const kv = pkg['etcdserverpb.KV'] as unknown as Record<string, Method>;
    const mt = pkg['etcdserverpb.Maintenance'] as unknown as Record<string, Method>;
    methodsCache = { Range: kv.Range!, Put: kv.Put!, DeleteRange: kv.DeleteRange!, Txn: kv.Txn!, Status: mt.Status! };
  }
  return methodsCache;
}

const COMPARE_EQUAL = 0;
const TARGET_VERSION = 0;
const TARGET_VALUE = 3;

export class EtcdGrpcJsTarget implements LoadTarget {
  readonly kind = 'etcd+grpc-js';
  private readonly spec: TargetSpec;
  private readonly opts: TargetOptions;
  private clients: grpc.Client[] = [];
  private next = 0;
  private readonly m = methods();

  constructor(spec: TargetSpec, opts: TargetOptions) {
    this.spec = spec;
    this.opts = opts;
  }

  async connect(): Promise<void> {
    const creds = grpc.credentials.createInsecure();
    const perEndpoint: grpc.Client[][] = this.spec.endpoints.map((e) =>
      Array.from(
        { length: this.opts.connectionsPerEndpoint },
        () =>
          new grpc.Client(endpointAddress(e), creds, {
            // A private subchannel pool gives each client its own HTTP/2 connection.
            'grpc.use_local_subchannel_pool': 1,
            'grpc.max_receive_message_length': 64 * 1024 * 1024,
          }),
      ),
    );
    // Interleave so consecutive requests go to different members.
    for (let i = 0; i < this.opts.connectionsPerEndpoint; i++) for (const list of perEndpoint) this.clients.push(list[i]!);
    // Every client must answer a Status call: an unreachable member fails the run up front.
    await Promise.all(
      this.spec.endpoints.map(async (e, idx) => {
        for (const c of perEndpoint[idx]!) {
          try {
            await this.unary(c, this.m.Status, {}, this.opts.connectTimeoutMs);
          } catch (err) {
            await this.close();
            const why = err instanceof Error ? err.message : String(err);
            throw new TargetUnreachableError(`cannot reach etcd at ${endpointAddress(e)} (${this.spec.url}): ${why}`);
          }
        }
      }),
    );
  }

  private pick(): grpc.Client {
    const c = this.clients[this.next]!;
    this.next = this.next + 1 === this.clients.length ? 0 : this.next + 1;
    return c;
  }

  private unary<T>(client: grpc.Client, method: Method, req: object, timeoutMs = this.opts.timeoutMs): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        req,
        { deadline: Date.now() + timeoutMs },
        (err, res) => (err ? reject(new GrpcError(grpc.status[err.code] ?? `STATUS_${err.code}`, err.message)) : resolve(res as T)),
      );
    });
  }

  async put(key: Uint8Array, value: Uint8Array): Promise<void> {
    await this.unary(this.pick(), this.m.Put, { key, value });
  }

  async get(key: Uint8Array, consistency: ReadConsistency): Promise<Uint8Array | undefined> {
    const res = await this.unary<RangeResponse>(this.pick(), this.m.Range, { key, serializable: consistency === 'stale' });
    return res.kvs?.[0]?.value ?? (res.kvs && res.kvs.length > 0 ? Buffer.alloc(0) : undefined);
  }

  async delete(key: Uint8Array): Promise<boolean> {
    const res = await this.unary<DeleteRangeResponse>(this.pick(), this.m.DeleteRange, { key });
    return (res.deleted ?? 0) > 0;
  }

  async cas(key: Uint8Array, expected: Uint8Array | undefined, value: Uint8Array): Promise<boolean> {
    const compare =
      expected === undefined
        ? { key, result: COMPARE_EQUAL, target: TARGET_VERSION, version: 0 }
        : { key, result: COMPARE_EQUAL, target: TARGET_VALUE, value: expected };
    const res = await this.unary<TxnResponse>(this.pick(), this.m.Txn, {
      compare: [compare],
      success: [{ request_put: { key, value } }],
      failure: [],
    });
    return res.succeeded === true;
  }

  async scan(start: Uint8Array, end: Uint8Array, limit: number, consistency: ReadConsistency): Promise<number> {
    const res = await this.unary<RangeResponse>(this.pick(), this.m.Range, {
      key: start,
      range_end: end,
      limit,
      serializable: consistency === 'stale',
    });
    return res.kvs?.length ?? 0;
  }

  async close(): Promise<void> {
    for (const c of this.clients) c.close();
    this.clients = [];
  }
}
