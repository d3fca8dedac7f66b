// The default etcd v3 driver (`etcd://`): etcd's gRPC API over node:http2 (./grpc-h2.ts), messages
// encoded and decoded by protobufjs from ./etcd-descriptor.ts; the operations are ./etcd-kv.ts.
// Why not @grpc/grpc-js: see docs/load.md ("etcd client"); that driver stays available as
// `etcd+grpc-js://`.
import protobuf from 'protobufjs';
import type { TargetOptions, TargetSpec } from '../target.js';
import { etcdDescriptor } from './etcd-descriptor.js';
import { ETCD_PATHS, EtcdKvTarget, type EtcdConnection, type EtcdMethod } from './etcd-kv.js';
import { GrpcH2Channel } from './grpc-h2.js';

interface Codec {
  encode(message: object): protobuf.Writer;
  decode(buf: Uint8Array): object;
}

let codecsCache: Record<EtcdMethod, { path: string; request: Codec; response: Codec }> | undefined;
function codecs(): NonNullable<typeof codecsCache> {
  if (!codecsCache) {
    const root = protobuf.Root.fromJSON(etcdDescriptor as unknown as protobuf.INamespace);
    const t = (n: string) => root.lookupType(`etcdserverpb.${n}`) as unknown as Codec;
    const m = (method: EtcdMethod) => ({ path: ETCD_PATHS[method], request: t(`${method}Request`), response: t(`${method}Response`) });
    codecsCache = { Range: m('Range'), Put: m('Put'), DeleteRange: m('DeleteRange'), Txn: m('Txn'), Status: m('Status') };
  }
  return codecsCache;
}

class H2Connection implements EtcdConnection {
  private readonly ch: GrpcH2Channel;
  private readonly codecs = codecs();
  constructor(address: string) {
    this.ch = new GrpcH2Channel(address);
  }
  async unary(method: EtcdMethod, req: object, timeoutMs: number): Promise<object> {
    const c = this.codecs[method];
    return c.response.decode(await this.ch.unary(c.path, c.request.encode(req).finish(), timeoutMs));
  }
  close(): void {
    this.ch.close();
  }
}

export class EtcdTarget extends EtcdKvTarget {
  constructor(spec: TargetSpec, opts: TargetOptions) {
    super('etcd', spec, opts, (address) => new H2Connection(address));
  }
}
