// Length-prefixed framing shared by the peer and client ports.
//
//   frame := length:u32be  kind:u8  body:bytes[length-1]
//
// `length` counts the kind byte and the body, so the smallest frame is 5 bytes on the wire. A
// length of 0 or above the connection's current limit is a framing error: the connection is
// closed (there is no way to resynchronise a byte stream after a bad length).
import type { ByteWriter } from '../common/bytes.js';

export const FRAME_HEADER_BYTES = 4;

/** One byte naming what a frame carries. Values are part of the wire format; never renumber. */
export const FrameKind = {
  // Peer handshake.
  PeerHello: 0x01,
  PeerChallenge: 0x02,
  PeerAuth: 0x03,
  PeerAccept: 0x04,
  PeerReject: 0x05,
  // Peer data.
  PeerMessage: 0x10,
  Ping: 0x11,
  // Client handshake.
  ClientHello: 0x20,
  ClientWelcome: 0x21,
  ClientReject: 0x22,
  // Client data.
  Request: 0x30,
  Response: 0x31,
  ErrorResponse: 0x32,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

/** Limit while a connection is unauthenticated: handshake frames are tiny. */
export const HANDSHAKE_MAX_FRAME_BYTES = 1024;
/** Default limit once authenticated. Raft snapshots are chunked below this. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

/** Starts a frame at the writer's position; returns the offset to pass to endFrame(). */
export function beginFrame(w: ByteWriter, kind: number): number {
  const start = w.reserve(FRAME_HEADER_BYTES);
  w.u8(kind);
  return start;
}

/** Patches the length of the frame begun at `start`; returns that length (kind + body). */
export function endFrame(w: ByteWriter, start: number): number {
  const len = w.pos - start - FRAME_HEADER_BYTES;
  w.patchU32(start, len);
  return len;
}

export type FramingError =
  | { readonly code: 'oversize'; readonly length: number; readonly limit: number }
  | { readonly code: 'empty' };

/**
 * Called for each complete frame. `body` may be a view into a received chunk or a buffer assembled
 * for this frame; either way the decoder never writes to it again, so decoded messages may keep
 * views into it. Return false to stop: the unprocessed rest of the input is kept (not copied) and
 * handed out by resume() or before the next push (used to stop reading at an in-flight limit).
 */
export type FrameHandler = (kind: number, body: Buffer) => boolean;

/**
 * Incremental frame parser. Frames contained in one chunk are handed out as zero-copy views; a
 * frame spanning chunks is assembled once into a buffer of exactly its size (no repeated concat).
 */
export class FrameDecoder {
  /** Largest accepted `length` field; may be changed between frames (e.g. after a handshake). */
  maxFrameBytes: number;
  private readonly hdr = Buffer.alloc(FRAME_HEADER_BYTES);
  private hdrFilled = 0;
  private asm: Buffer | null = null;
  private asmFilled = 0;
  private failed = false;
  private rest: Buffer | null = null;

  constructor(maxFrameBytes: number) {
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Bytes held for an incomplete frame or left unprocessed by a handler that returned false. */
  get buffered(): number {
    return this.hdrFilled + this.asmFilled + (this.rest?.length ?? 0);
  }

  /** Processes input left over when a handler returned false. */
  resume(onFrame: FrameHandler): FramingError | null {
    const r = this.rest;
    if (r === null) return null;
    this.rest = null;
    return this.push(r, onFrame);
  }

  /**
   * Feeds bytes; returns a FramingError once the stream is unusable (and ignores all later input),
   * or null. Frames before the bad header are still delivered.
   */
  push(chunk: Buffer, onFrame: FrameHandler): FramingError | null {
    if (this.failed) return null;
    if (this.rest !== null) {
      chunk = Buffer.concat([this.rest, chunk]);
      this.rest = null;
    }
    let off = 0;
    const n = chunk.length;
    while (off < n) {
      if (this.asm !== null) {
        const take = Math.min(this.asm.length - this.asmFilled, n - off);
        chunk.copy(this.asm, this.asmFilled, off, off + take);
        this.asmFilled += take;
        off += take;
        if (this.asmFilled < this.asm.length) return null;
        const frame = this.asm;
        this.asm = null;
        this.asmFilled = 0;
        if (!onFrame(frame[0]!, frame.subarray(1))) return this.stop(chunk, off);
        continue;
      }
      let len: number;
      if (this.hdrFilled === 0 && n - off >= FRAME_HEADER_BYTES) {
        len = chunk.readUInt32BE(off);
        off += FRAME_HEADER_BYTES;
      } else {
        const take = Math.min(FRAME_HEADER_BYTES - this.hdrFilled, n - off);
        chunk.copy(this.hdr, this.hdrFilled, off, off + take);
        this.hdrFilled += take;
        off += take;
        if (this.hdrFilled < FRAME_HEADER_BYTES) return null;
        this.hdrFilled = 0;
        len = this.hdr.readUInt32BE(0);
      }
      if (len === 0) {
        this.failed = true;
        return { code: 'empty' };
      }
      if (len > this.maxFrameBytes) {
        this.failed = true;
        return { code: 'oversize', length: len, limit: this.maxFrameBytes };
      }
      if (n - off >= len) {
        const kind = chunk[off]!;
        const body = chunk.subarray(off + 1, off + len);
        off += len;
        if (!onFrame(kind, body)) return this.stop(chunk, off);
      } else {
        this.asm = Buffer.allocUnsafe(len);
        this.asmFilled = 0;
      }
    }
    return null;
  }

  private stop(chunk: Buffer, off: number): null {
    this.rest = off < chunk.length ? chunk.subarray(off) : null;
    return null;
  }
}
