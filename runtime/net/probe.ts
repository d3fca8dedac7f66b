// A minimal message type with a StreamingCodec: what net's tests and benchmarks send, and a
// reference for protocol codecs (envelope first, fixed fields, length-prefixed payload, strict
// trailing-byte check).
import type { Envelope } from '../protocols/api.js';
import { ByteReader } from '../common/bytes.js';
import { streamingCodec } from './codec.js';

export interface ProbeMessage extends Envelope {
  readonly seq: number;
  readonly payload: Uint8Array;
}

const PROBE_TAG = 0x50;
const reader = new ByteReader(undefined, 'probe');

export const probeCodec = streamingCodec<ProbeMessage>({
  encodeInto(m, w) {
    w.u8(PROBE_TAG);
    w.varint(m.from);
    w.varint(m.to);
    w.varint(m.seq);
    w.bytes(m.payload);
  },
  decode(bytes) {
    // One module-level reader: decode is synchronous, so reuse is safe and allocation-free.
    const r = reader;
    r.reset(bytes);
    const tag = r.u8();
    if (tag !== PROBE_TAG) r.fail(`unknown probe tag ${tag}`, 0);
    const from = r.varintMax(0xffff_ffff, 'from');
    const to = r.varintMax(0xffff_ffff, 'to');
    const seq = r.varint();
    const payload = r.bytes();
    r.expectEnd();
    return { from, to, seq, payload };
  },
});
