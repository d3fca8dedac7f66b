// Snapshot files: a state-machine image written as a stream, framed in checksummed blocks,
// published atomically (temp file, fsync, rename, directory fsync) and verified on every read.
//
// file    := header(32) block* trailer(24)
// header  := "VSNP" u32 version u64 fileId u32[3] reserved, u32 crc32c(header[0..28])
// block   := u32 length (>0), u32 crc32c(payload), payload
// trailer := u32 0, u32 blockCount, u64 imageLength, u32 crc32c(image), u32 crc32c(trailer[0..20])
import fs from 'node:fs';
import { tempNameFor } from './atomic-file.js';
import { crc32c } from './crc32c.js';
import { CorruptionError, StorageError } from './errors.js';
import { numberedFileName, parseNumberedFileName } from './file-names.js';
import { fsyncDir } from './fs-util.js';
import { readU64LE, writeU64LE } from '../common/bytes.js';

const MAGIC = 0x504e5356; // "VSNP"
const VERSION = 1;
const HEADER = 32;
const BLOCK_HEADER = 8;
const TRAILER = 24;
/** Stream chunks are coalesced into blocks of at most this size. */
export const SNAPSHOT_BLOCK = 256 * 1024;

export const snapshotFileName = (dir: string, id: number): string => numberedFileName(dir, id, 'snap');
export const parseSnapshotFileName = (name: string): number | null => parseNumberedFileName(name, 'snap');

export interface SnapshotFileInfo {
  readonly file: string;
  readonly size: number;
  readonly crc: number;
}

async function* asChunks(src: AsyncIterable<Uint8Array> | Uint8Array): AsyncIterable<Uint8Array> {
  if (src instanceof Uint8Array) yield src;
  else yield* src;
}

/**
 * Writes the image from `source` into snapshot file `id` under `dir` and publishes it atomically.
 * On any failure the temporary file is removed and nothing is published.
 */
export async function writeSnapshotFile(dir: string, id: number, source: AsyncIterable<Uint8Array> | Uint8Array): Promise<SnapshotFileInfo> {
  const file = snapshotFileName(dir, id);
  const tmp = tempNameFor(file);
  const fh = await fs.promises.open(tmp, 'w', 0o644);
  let pos = 0;
  let size = 0;
  let imageCrc = 0;
  let blocks = 0;
  const block = Buffer.allocUnsafe(BLOCK_HEADER + SNAPSHOT_BLOCK);
  let fill = 0;
  const writeAll = async (buf: Uint8Array, len: number): Promise<void> => {
    let off = 0;
    while (off < len) {
      const { bytesWritten } = await fh.write(buf, off, len - off, pos);
      off += bytesWritten;
      pos += bytesWritten;
    }
  };
  const flushBlock = async (): Promise<void> => {
    if (fill === 0) return;
    block.writeUInt32LE(fill, 0);
    block.writeUInt32LE(crc32c(block, BLOCK_HEADER, BLOCK_HEADER + fill), 4);
    imageCrc = crc32c(block, BLOCK_HEADER, BLOCK_HEADER + fill, imageCrc);
    await writeAll(block, BLOCK_HEADER + fill);
    blocks++;
    fill = 0;
  };
  try {
    const header = Buffer.alloc(HEADER);
    header.writeUInt32LE(MAGIC, 0);
    header.writeUInt32LE(VERSION, 4);
    writeU64LE(header, 8, id);
    header.writeUInt32LE(crc32c(header, 0, 28), 28);
    await writeAll(header, HEADER);
    for await (const chunk of asChunks(source)) {
      if (!(chunk instanceof Uint8Array)) throw new StorageError('invalid-write', 'snapshot stream yielded something that is not a Uint8Array');
      let off = 0;
      while (off < chunk.length) {
        const n = Math.min(SNAPSHOT_BLOCK - fill, chunk.length - off);
        block.set(chunk.subarray(off, off + n), BLOCK_HEADER + fill);
        fill += n;
        off += n;
        size += n;
        if (fill === SNAPSHOT_BLOCK) await flushBlock();
      }
    }
    await flushBlock();
    const trailer = Buffer.alloc(TRAILER);
    trailer.writeUInt32LE(0, 0);
    trailer.writeUInt32LE(blocks, 4);
    writeU64LE(trailer, 8, size);
    trailer.writeUInt32LE(imageCrc, 16);
    trailer.writeUInt32LE(crc32c(trailer, 0, 20), 20);
    await writeAll(trailer, TRAILER);
    await fh.sync();
    await fh.close();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  await fs.promises.rename(tmp, file);
  await fsyncDir(dir);
  return { file, size, crc: imageCrc };
}

export interface ExpectedImage {
  readonly id: number;
  readonly size: number;
  readonly crc: number;
}

/**
 * Streams the image of a snapshot file, verifying each block before yielding it and the trailer
 * at the end. Damage raises a CorruptionError naming the file and the byte offset.
 */
export async function* readSnapshotStream(file: string, expect?: ExpectedImage): AsyncGenerator<Uint8Array> {
  const fh = await fs.promises.open(file, 'r').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new CorruptionError(file, 0, 'snapshot file referenced by the WAL is missing');
    throw err;
  });
  try {
    const fileSize = (await fh.stat()).size;
    const readAt = async (pos: number, len: number): Promise<Buffer> => {
      const b = Buffer.allocUnsafe(len);
      let got = 0;
      while (got < len) {
        const { bytesRead } = await fh.read(b, got, len - got, pos + got);
        if (bytesRead === 0) throw new CorruptionError(file, pos + got, `file ends inside a ${len}-byte read (truncated snapshot)`);
        got += bytesRead;
      }
      return b;
    };
    const header = await readAt(0, HEADER);
    if (header.readUInt32LE(0) !== MAGIC) throw new CorruptionError(file, 0, 'bad snapshot magic');
    if (header.readUInt32LE(28) !== crc32c(header, 0, 28)) throw new CorruptionError(file, 0, 'snapshot header checksum mismatch');
    if (header.readUInt32LE(4) !== VERSION) throw new CorruptionError(file, 4, `unsupported snapshot version ${header.readUInt32LE(4)}`);
    const id = readU64LE(header, 8);
    if (expect && id !== expect.id) throw new CorruptionError(file, 8, `snapshot file holds id ${id}, expected ${expect.id}`);
    let pos = HEADER;
    let size = 0;
    let crc = 0;
    let blocks = 0;
    for (;;) {
      if (pos + BLOCK_HEADER > fileSize) throw new CorruptionError(file, pos, 'snapshot ends before its trailer (truncated)');
      const bh = await readAt(pos, BLOCK_HEADER);
      const len = bh.readUInt32LE(0);
      if (len === 0) break;
      if (len > SNAPSHOT_BLOCK || pos + BLOCK_HEADER + len > fileSize) throw new CorruptionError(file, pos, `implausible snapshot block length ${len}`);
      const payload = await readAt(pos + BLOCK_HEADER, len);
      if (crc32c(payload) !== bh.readUInt32LE(4)) throw new CorruptionError(file, pos, `snapshot block ${blocks} checksum mismatch`);
      crc = crc32c(payload, 0, len, crc);
      size += len;
      blocks++;
      pos += BLOCK_HEADER + len;
      yield payload;
    }
    if (pos + TRAILER !== fileSize) throw new CorruptionError(file, pos, 'snapshot trailer is not at the end of the file');
    const t = await readAt(pos, TRAILER);
    if (t.readUInt32LE(20) !== crc32c(t, 0, 20)) throw new CorruptionError(file, pos, 'snapshot trailer checksum mismatch');
    if (t.readUInt32LE(4) !== blocks || readU64LE(t, 8) !== size || t.readUInt32LE(16) !== crc) {
      throw new CorruptionError(file, pos, 'snapshot trailer disagrees with the blocks (count, length or image checksum)');
    }
    if (expect && (expect.size !== size || expect.crc !== crc)) {
      throw new CorruptionError(file, pos, `snapshot image (${size} bytes, crc 0x${crc.toString(16)}) differs from what the WAL recorded (${expect.size} bytes, crc 0x${expect.crc.toString(16)})`);
    }
  } finally {
    await fh.close();
  }
}

/** Reads and verifies a whole snapshot image into memory. */
export async function readSnapshotFile(file: string, expect?: ExpectedImage): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const p of readSnapshotStream(file, expect)) {
    parts.push(p);
    n += p.length;
  }
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) (out.set(p, o), (o += p.length));
  return out;
}
