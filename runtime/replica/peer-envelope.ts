// What the peer transport carries between replicas: one protocol message, already encoded by the
// protocol's own codec, plus the routing fields the transport needs (sender, receiver) and the
// consensus group it belongs to. The consensus actors encode and decode (so that CPU work runs
// wherever they are placed); the peer actor only moves bytes.
//
//   envelope = group:varint from:varint to:varint message-bytes (to the end of the frame)
import type { NodeId } from '../protocols/api.js';
import { ByteReader as BinaryReader, type ByteWriter as BinaryWriter } from '../common/bytes.js';
import type { StreamingCodec } from '../net/codec.js';

export interface PeerEnvelope {
  readonly group: number;
  readonly from: NodeId;
  readonly to: NodeId;
  /** The protocol message's bytes. Received ones are views into the frame (never reused). */
  readonly data: Uint8Array;
}

const reader = new BinaryReader();

export const peerEnvelopeCodec: StreamingCodec<PeerEnvelope> = {
  encodeInto(m: PeerEnvelope, w: BinaryWriter): void {
    w.varint(m.group);
    w.varint(m.from);
    w.varint(m.to);
    w.raw(m.data);
  },
  encode(m: PeerEnvelope): Uint8Array {
    const head = Buffer.allocUnsafe(24);
    let p = putVarint(head, 0, m.group);
    p = putVarint(head, p, m.from);
    p = putVarint(head, p, m.to);
    const out = Buffer.allocUnsafe(p + m.data.length);
    head.copy(out, 0, 0, p);
    out.set(m.data, p);
    return out;
  },
  decode(bytes: Uint8Array): PeerEnvelope {
    reader.reset(bytes);
    const group = reader.varintMax(0xffff_ffff, 'group');
    const from = reader.varintMax(0xffff_ffff, 'from');
    const to = reader.varintMax(0xffff_ffff, 'to');
    const data = reader.raw(reader.remaining);
    return { group, from, to, data };
  },
};

function putVarint(out: Buffer, p: number, v: number): number {
  while (v >= 128) {
    out[p++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  out[p++] = v;
  return p;
}
