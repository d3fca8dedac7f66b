// A minimal message type with a StreamingCodec: what net's tests and benchmarks send, and a
// reference for protocol codecs (envelope first, fixed fields, length-prefixed payload, strict
// trailing-byte check).
import type { Envelope } from '../protocols/api.js';
import { BinaryReader, BinaryWriter, DecodeError } from './binary.js';
import type { StreamingCodec } from './codec.js';

export interface ProbeMessage extends Envelope {
  readonly seq: number;
  readonly payload: Uint8Array;
}

const PROBE_TAG = 0x50;
const reader = new BinaryReader();

export const probeCodec: StreamingCodec<ProbeMessage> = {
  encodeInto(m, w) {
    w.u8(PROBE_TAG);
    w.varint(m.from);
    w.varint(m.to);
    w.varint(m.seq);
    w.bytes(m.payload);
  },
  encode(m) {
    const w = new BinaryWriter(16 + m.payload.length);
    this.encodeInto(m, w);
    return w.toBytes();
  },
  decode(bytes) {
    // One module-level reader: decode is synchronous, so reuse is safe and allocation-free.
    const r = reader;
    r.reset(bytes);
    const tag = r.u8();
    if (tag !== PROBE_TAG) throw new DecodeError(`unknown probe tag ${tag}`, 0);
    const from = r.varintMax(0xffff_ffff, 'from');
    const to = r.varintMax(0xffff_ffff, 'to');
    const seq = r.varint();
    const payload = r.bytes();
    r.expectEnd();
    return { from, to, seq, payload };
  },
};
