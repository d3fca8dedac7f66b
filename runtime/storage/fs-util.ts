// Small file-system helpers: real preallocation through libc (koffi) with a portable fallback,
// positional writes that finish short writes, and directory fsync.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { constants as osConstants } from 'node:os';

export type PreallocateMode = 'fallocate' | 'zero-fill' | 'off';

type AsyncFallocate = {
  async: (fd: number, offset: number, len: number, cb: (err: unknown, res: number) => void) => void;
};

/** A libc function through koffi, looked up on first use: null when the platform, the FFI or the symbol is unavailable. */
function libcFunction<T>(signature: string): () => T | null {
  let fn: T | null | undefined;
  return () => {
    if (fn !== undefined) return fn;
    fn = null;
    if (process.platform !== 'linux') return fn;
    try {
      const koffi = createRequire(import.meta.url)('koffi') as { load(name: string): { func(sig: string): unknown } };
      fn = koffi.load('libc.so.6').func(signature) as T;
    } catch {
      fn = null;
    }
    return fn;
  };
}

const libcFallocate = libcFunction<AsyncFallocate>('int posix_fallocate(int fd, int64_t offset, int64_t len)');
const libcFlock = libcFunction<(fd: number, op: number) => number>('int flock(int fd, int operation)');

const LOCK_EX = 2;
const LOCK_NB = 4;

/**
 * Takes an exclusive advisory lock (flock) on `file`, creating it. Returns the open fd that holds
 * the lock (close it to release), null when locking is unavailable on this platform, or throws
 * when another open store holds it.
 */
export function lockFile(file: string): { fd: number } | null {
  const flock = libcFlock();
  if (flock === null) return null;
  const fd = fs.openSync(file, 'a+', 0o644);
  if (flock(fd, LOCK_EX | LOCK_NB) !== 0) {
    fs.closeSync(fd);
    const e = new Error(`${file} is locked`) as NodeJS.ErrnoException;
    e.code = 'EWOULDBLOCK';
    throw e;
  }
  return { fd };
}

function errnoError(errno: number, syscall: string, path: string): NodeJS.ErrnoException {
  const name = Object.entries(osConstants.errno).find(([, v]) => v === errno)?.[0] ?? `E${errno}`;
  const e = new Error(`${name}: ${syscall} failed on ${path}`) as NodeJS.ErrnoException;
  e.code = name;
  e.errno = -errno;
  e.syscall = syscall;
  e.path = path;
  return e;
}

const ZEROS = Buffer.alloc(1 << 20);

/**
 * Reserves [offset, offset+len) of an open file. 'fallocate' allocates unwritten extents (fast,
 * no data written); if libc is unreachable it falls back to 'zero-fill', which writes zeros so the
 * blocks are allocated and initialised (later overwrites then need no extent conversion).
 * Resolves with the mode actually used. ENOSPC surfaces here, before any record is written.
 */
export async function preallocate(fd: number, offset: number, len: number, mode: PreallocateMode, path: string): Promise<PreallocateMode> {
  if (mode === 'off' || len <= 0) return 'off';
  const fa = mode === 'fallocate' ? libcFallocate() : null;
  if (fa !== null) {
    const rc = await new Promise<number>((resolve, reject) =>
      fa.async(fd, offset, len, (err, res) => (err ? reject(err) : resolve(res))),
    );
    if (rc === 0) return 'fallocate';
    // EOPNOTSUPP/EINVAL: this file system cannot; fall through to zero-fill. Anything else is real.
    if (rc !== osConstants.errno.EOPNOTSUPP && rc !== osConstants.errno.EINVAL) throw errnoError(rc, 'posix_fallocate', path);
  }
  let pos = offset;
  const end = offset + len;
  while (pos < end) {
    const n = Math.min(ZEROS.length, end - pos);
    await writeFully(fd, ZEROS, 0, n, pos);
    pos += n;
  }
  return 'zero-fill';
}

/** pwrite that loops over short writes (a full disk first shows up as a short write). */
export async function writeFully(fd: number, buf: Uint8Array, off: number, len: number, position: number): Promise<void> {
  while (len > 0) {
    const { bytesWritten } = await new Promise<{ bytesWritten: number }>((resolve, reject) =>
      fs.write(fd, buf, off, len, position, (err, bytesWritten) => (err ? reject(err) : resolve({ bytesWritten }))),
    );
    if (bytesWritten <= 0) {
      const e = new Error('write returned 0 bytes') as NodeJS.ErrnoException;
      e.code = 'EIO';
      throw e;
    }
    off += bytesWritten;
    len -= bytesWritten;
    position += bytesWritten;
  }
}

export function fdatasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
}

export function fsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())));
}

/** Makes a directory's entries (creations, renames, unlinks) durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await fs.promises.open(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export function fsyncDirSync(dir: string): void {
  const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
