// Wire format of the client port (shared by ClientPortServer and ClientChannel).
//
//   ClientHello    magic "VRDC", version:u16, token:bytes (varint length, at most 256 bytes)
//   ClientWelcome  version:u16, replicaId:u32, maxFrameBytes:u32
//   ClientReject   reason:u8, minVersion:u16, maxVersion:u16
//   Request        id:varint, payload (request codec)        client -> server
//   Response       id:varint, payload (response codec)       server -> client
//   ErrorResponse  id:varint, message:string                 server -> client (id 0: whole connection)
//
// Correlation ids let a client pipeline: it may send many requests before the first response, and
// the server answers in whatever order they complete.
import { ByteReader, type ByteWriter } from '../common/bytes.js';
import { CLIENT_MAGIC, MAX_TOKEN_BYTES } from './handshake.js';

export interface ClientHello {
  readonly magicOk: boolean;
  readonly version: number;
  readonly token: Buffer;
}

export function writeClientHello(w: ByteWriter, version: number, token: Uint8Array): void {
  w.raw(CLIENT_MAGIC);
  w.u16(version);
  w.bytes(token);
}

export function readClientHello(body: Buffer): ClientHello {
  const r = new ByteReader(body, 'client hello');
  const magicOk = r.raw(4).equals(CLIENT_MAGIC);
  if (!magicOk) return { magicOk, version: 0, token: Buffer.alloc(0) };
  const version = r.u16();
  const token = r.bytes('token', MAX_TOKEN_BYTES);
  r.expectEnd();
  return { magicOk, version, token };
}

export interface ClientWelcome {
  readonly version: number;
  readonly replicaId: number;
  readonly maxFrameBytes: number;
}

export function writeClientWelcome(w: ByteWriter, m: ClientWelcome): void {
  w.u16(m.version);
  w.u32(m.replicaId);
  w.u32(m.maxFrameBytes);
}

export function readClientWelcome(body: Buffer): ClientWelcome {
  const r = new ByteReader(body, 'client welcome');
  const version = r.u16();
  const replicaId = r.u32();
  const maxFrameBytes = r.u32();
  r.expectEnd();
  return { version, replicaId, maxFrameBytes };
}
