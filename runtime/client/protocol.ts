// The request/response payloads of the client port (inside the net layer's Request/Response
// frames, which carry the correlation id). Shared by the client library and the replica.
//
//   request  = 1 write  command (a service command envelope, runtime/service/envelope.ts)
//            | 2 read   query   (a query envelope: consistency byte + service query)
//            | 3 info
//   response = 0 ok       result (a result envelope)
//            | 1 redirect leader:varint address:string       not the leader; go there ("" unknown)
//            | 2 retry    leader:varint address:string reason:string
//                         transient (leader change, no leader yet, busy): retry, maybe elsewhere
//            | 3 info     replica:varint leader:varint address:string term:varint role:string
//                         window:varint clusterId:string
//            | 4 error    message:string                      permanent (malformed request)
import { ByteReader, type ByteWriter } from '../common/bytes.js';
import { streamingCodec } from '../net/codec.js';

export const RequestType = { Write: 1, Read: 2, Info: 3 } as const;
export type RequestType = (typeof RequestType)[keyof typeof RequestType];

export type ClientRequest =
  | { readonly type: typeof RequestType.Write; readonly command: Uint8Array }
  | { readonly type: typeof RequestType.Read; readonly query: Uint8Array }
  | { readonly type: typeof RequestType.Info };

export const ResponseType = { Ok: 0, Redirect: 1, Retry: 2, Info: 3, Error: 4 } as const;

export interface ReplicaInfo {
  readonly replica: number;
  readonly leader: number;
  /** The leader's client address, '' when unknown. */
  readonly leaderAddress: string;
  readonly term: number;
  readonly role: string;
  /** The cluster's session window (how many writes a session may have outstanding). */
  readonly window: number;
  readonly clusterId: string;
}

export type ClientResponse =
  | { readonly type: typeof ResponseType.Ok; readonly result: Uint8Array }
  | { readonly type: typeof ResponseType.Redirect; readonly leader: number; readonly address: string }
  | { readonly type: typeof ResponseType.Retry; readonly leader: number; readonly address: string; readonly reason: string }
  | ({ readonly type: typeof ResponseType.Info } & ReplicaInfo)
  | { readonly type: typeof ResponseType.Error; readonly message: string };

const reqReader = new ByteReader(undefined, 'client request');
const resReader = new ByteReader(undefined, 'client response');

export const requestCodec = streamingCodec<ClientRequest>({
  encodeInto(m: ClientRequest, w: ByteWriter): void {
    w.u8(m.type);
    if (m.type === RequestType.Write) w.raw(m.command);
    else if (m.type === RequestType.Read) w.raw(m.query);
  },
  decode(bytes: Uint8Array): ClientRequest {
    const r = reqReader.reset(bytes);
    const type = r.u8();
    const rest = r.raw(r.remaining);
    switch (type) {
      case RequestType.Write:
        return { type, command: rest };
      case RequestType.Read:
        return { type, query: rest };
      case RequestType.Info:
        if (rest.length !== 0) r.fail('info request has no body', 1);
        return { type };
      default:
        return r.fail(`unknown request type ${type}`, 0);
    }
  },
});

export const responseCodec = streamingCodec<ClientResponse>({
  encodeInto(m: ClientResponse, w: ByteWriter): void {
    w.u8(m.type);
    switch (m.type) {
      case ResponseType.Ok:
        w.raw(m.result);
        break;
      case ResponseType.Redirect:
        w.varint(m.leader);
        w.string(m.address);
        break;
      case ResponseType.Retry:
        w.varint(m.leader);
        w.string(m.address);
        w.string(m.reason);
        break;
      case ResponseType.Info:
        w.varint(m.replica);
        w.varint(m.leader);
        w.string(m.leaderAddress);
        w.varint(m.term);
        w.string(m.role);
        w.varint(m.window);
        w.string(m.clusterId);
        break;
      case ResponseType.Error:
        w.string(m.message);
        break;
    }
  },
  decode(bytes: Uint8Array): ClientResponse {
    const r = resReader.reset(bytes);
    const type = r.u8();
    let out: ClientResponse;
    switch (type) {
      case ResponseType.Ok:
        // Copied: the frame buffer may be large and the caller keeps results.
        return { type, result: new Uint8Array(r.raw(r.remaining)) };
      case ResponseType.Redirect:
        out = { type, leader: r.varint(), address: r.string() };
        break;
      case ResponseType.Retry:
        out = { type, leader: r.varint(), address: r.string(), reason: r.string() };
        break;
      case ResponseType.Info:
        out = { type, replica: r.varint(), leader: r.varint(), leaderAddress: r.string(), term: r.varint(), role: r.string(), window: r.varint(), clusterId: r.string() };
        break;
      case ResponseType.Error:
        out = { type, message: r.string() };
        break;
      default:
        return r.fail(`unknown response type ${type}`, 0);
    }
    r.expectEnd();
    return out;
  },
});
