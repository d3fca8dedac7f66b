// Codec shapes the transport accepts.
//
// Any MessageCodec<M> from the protocol contract works. A codec that also implements encodeInto()
// writes straight into the transport's batch buffer, which removes the per-message Uint8Array that
// encode() must allocate; protocol codecs on hot paths (Raft's AppendEntries) should provide it.
import type { MessageCodec } from '../protocols/api.js';
import type { BinaryWriter } from './binary.js';

export interface StreamingCodec<M> extends MessageCodec<M> {
  /** Append the encoding of `msg` to `w`. Must produce exactly the bytes encode(msg) returns. */
  encodeInto(msg: M, w: BinaryWriter): void;
}

export function isStreamingCodec<M>(c: MessageCodec<M>): c is StreamingCodec<M> {
  return typeof (c as Partial<StreamingCodec<M>>).encodeInto === 'function';
}

/**
 * Appends `msg` to `w` with whichever method the codec has. Decoded messages may alias the frame
 * bytes they came from; the transport never reuses receive buffers, so that is safe.
 */
export function encodeMessageInto<M>(codec: MessageCodec<M>, msg: M, w: BinaryWriter): void {
  if (isStreamingCodec(codec)) codec.encodeInto(msg, w);
  else w.raw(codec.encode(msg));
}
