// Codec shapes the transport accepts.
//
// Any MessageCodec<M> from the protocol contract works. A codec that also implements encodeInto()
// writes straight into the transport's batch buffer, which removes the per-message Uint8Array that
// encode() must allocate; protocol codecs on hot paths (Raft's AppendEntries) should provide it.
import type { MessageCodec } from '../protocols/api.js';
import { ByteWriter } from '../common/bytes.js';

export interface StreamingCodec<M> extends MessageCodec<M> {
  /** Append the encoding of `msg` to `w`. Must produce exactly the bytes encode(msg) returns. */
  encodeInto(msg: M, w: ByteWriter): void;
}

/** A StreamingCodec whose encode() runs encodeInto() on a fresh writer: one definition of the bytes. */
export function streamingCodec<M>(c: Pick<StreamingCodec<M>, 'encodeInto' | 'decode'>): StreamingCodec<M> {
  return {
    encodeInto: c.encodeInto,
    decode: c.decode,
    encode(msg: M): Uint8Array {
      const w = new ByteWriter(64);
      c.encodeInto(msg, w);
      return w.finish();
    },
  };
}

export function isStreamingCodec<M>(c: MessageCodec<M>): c is StreamingCodec<M> {
  return typeof (c as Partial<StreamingCodec<M>>).encodeInto === 'function';
}

/**
 * Appends `msg` to `w` with whichever method the codec has. Decoded messages may alias the frame
 * bytes they came from; the transport never reuses receive buffers, so that is safe.
 */
export function encodeMessageInto<M>(codec: MessageCodec<M>, msg: M, w: ByteWriter): void {
  if (isStreamingCodec(codec)) codec.encodeInto(msg, w);
  else w.raw(codec.encode(msg));
}
