// Atomic whole-file replacement: write a temporary file, fsync it, rename it over the target,
// fsync the directory. A reader (or a restart after a crash at any point) sees either the complete
// old file or the complete new one, never a mix. Used for the store manifest and to publish
// snapshots; also the fallback shape for any small state kept outside the WAL.
import fs from 'node:fs';
import path from 'node:path';
import { crc32c } from './crc32c.js';
import { CorruptionError } from './errors.js';
import { fsyncDir } from './fs-util.js';

/** The temporary name used while a replacement is in progress; recovery removes leftovers. */
export function tempNameFor(file: string): string {
  return `${file}.tmp`;
}

export async function writeFileAtomic(file: string, data: Uint8Array): Promise<void> {
  const tmp = tempNameFor(file);
  const fh = await fs.promises.open(tmp, 'w', 0o644);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.promises.rename(tmp, file);
  await fsyncDir(path.dirname(file));
}

const TRAILER = 8; // u32 crc32c of the content, u32 magic
const MAGIC = 0x4b434856; // "VHCK"

/** Atomically replaces `file` with `data` followed by a CRC32C trailer. */
export async function writeChecksummedFileAtomic(file: string, data: Uint8Array): Promise<void> {
  const out = Buffer.allocUnsafe(data.length + TRAILER);
  out.set(data, 0);
  out.writeUInt32LE(crc32c(data), data.length);
  out.writeUInt32LE(MAGIC, data.length + 4);
  await writeFileAtomic(file, out);
}

/** Reads a file written by writeChecksummedFileAtomic; a bad checksum names file and offset. */
export async function readChecksummedFile(file: string): Promise<Buffer> {
  const buf = await fs.promises.readFile(file);
  if (buf.length < TRAILER || buf.readUInt32LE(buf.length - 4) !== MAGIC) {
    throw new CorruptionError(file, Math.max(0, buf.length - TRAILER), 'checksum trailer missing (file truncated or not written by verdant)');
  }
  const n = buf.length - TRAILER;
  const want = buf.readUInt32LE(n);
  const got = crc32c(buf, 0, n);
  if (want !== got) throw new CorruptionError(file, 0, `content checksum mismatch over bytes 0..${n} (stored ${want}, computed ${got})`);
  return buf.subarray(0, n);
}
