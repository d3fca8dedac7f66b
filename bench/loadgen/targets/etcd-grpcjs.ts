// etcd v3 driver on the stock gRPC library (@grpc/grpc-js, messages through @grpc/proto-loader),
// selected with `etcd+grpc-js://`. It is the reference the default driver (./etcd.ts) is checked
// and measured against; it costs about twice the client CPU per request (docs/load.md).
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { TargetOptions, TargetSpec } from '../target.js';
import { etcdDescriptor } from './etcd-descriptor.js';
import { EtcdKvTarget, type EtcdConnection, type EtcdMethod } from './etcd-kv.js';
import { GrpcError } from './grpc-h2.js';

interface Method {
  path: string;
  requestSerialize: (v: object) => Buffer;
  responseDeserialize: (b: Buffer) => object;
}

let methodsCache: Record<EtcdMethod, Method> | undefined;

function methods(): Record<EtcdMethod, Method> {
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

class GrpcJsConnection implements EtcdConnection {
  private readonly client: grpc.Client;
  private readonly methods = methods();
  constructor(private readonly address: string) {
    this.client = new grpc.Client(address, grpc.credentials.createInsecure(), {
      // A private subchannel pool gives each client its own HTTP/2 connection.
      'grpc.use_local_subchannel_pool': 1,
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
    });
  }
  unary(method: EtcdMethod, req: object, timeoutMs: number): Promise<object> {
    const m = this.methods[method];
    return new Promise<object>((resolve, reject) => {
      this.client.makeUnaryRequest(m.path, m.requestSerialize, m.responseDeserialize, req, { deadline: Date.now() + timeoutMs }, (err, res) =>
        err ? reject(new GrpcError(grpc.status[err.code] ?? `STATUS_${err.code}`, `${this.address}: ${err.message}`)) : resolve(res!),
      );
    });
  }
  close(): void {
    this.client.close();
  }
}

export class EtcdGrpcJsTarget extends EtcdKvTarget {
  constructor(spec: TargetSpec, opts: TargetOptions) {
    super('etcd+grpc-js', spec, opts, (address) => new GrpcJsConnection(address));
  }
}
