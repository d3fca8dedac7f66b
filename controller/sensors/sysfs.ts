// Small, allocation-conscious readers for sysfs/procfs attribute files.
import { closeSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';

/** An errno-carrying failure to read or write an attribute, always naming the file. */
export class SysfsError extends Error {
  readonly code: string;
  readonly path: string;
  constructor(path: string, code: string, message: string) {
    super(message);
    this.name = 'SysfsError';
    this.code = code;
    this.path = path;
  }
}

function errCode(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : 'EIO';
}

export function toSysfsError(path: string, err: unknown, what = 'read'): SysfsError {
  if (err instanceof SysfsError) return err;
  const code = errCode(err);
  return new SysfsError(path, code, `cannot ${what} ${path}: ${code}${err instanceof Error && !err.message.startsWith(code) ? ` (${err.message})` : ''}`);
}

export function readAttr(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw toSysfsError(path, err);
  }
}

/** Reads an attribute or returns undefined when it does not exist; other errors still throw. */
export function readAttrIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    if (errCode(err) === 'ENOENT') return undefined;
    throw toSysfsError(path, err);
  }
}

export function readIntAttrIfExists(path: string): number | undefined {
  const s = readAttrIfExists(path);
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!Number.isFinite(n) || s === '') throw new SysfsError(path, 'EINVAL', `${path}: expected a number, found ${JSON.stringify(s)}`);
  return n;
}

export function writeAttr(path: string, value: string): void {
  try {
    // Attributes take the whole value in one write(); no trailing newline needed.
    writeFileSync(path, value);
  } catch (err) {
    throw toSysfsError(path, err, `write ${JSON.stringify(value)} to`);
  }
}

/**
 * Keeps a file open and re-reads it with pread(2) at offset 0: sysfs and seq_file-backed procfs
 * regenerate their content on every read from offset 0, so this costs one syscall per sample
 * instead of open+read+close. Regular files (fixtures) behave the same as long as they are
 * rewritten in place.
 */
export class PreadFile {
  readonly path: string;
  private fd: number;
  private buf: Buffer;
  constructor(path: string, initialSize = 64) {
    this.path = path;
    try {
      this.fd = openSync(path, 'r');
    } catch (err) {
      throw toSysfsError(path, err, 'open');
    }
    this.buf = Buffer.allocUnsafe(initialSize);
  }
  /** The buffer read() fills; replaced by grow(). */
  get buffer(): Buffer {
    return this.buf;
  }

  /** One pread(2) at offset 0 into buffer; returns the byte count (== its length: maybe more). */
  read(): number {
    try {
      return readSync(this.fd, this.buf, 0, this.buf.length, 0);
    } catch (err) {
      throw toSysfsError(this.path, err);
    }
  }

  /** Doubles the buffer, for a file that did not fit. */
  grow(): void {
    this.buf = Buffer.allocUnsafe(this.buf.length * 2);
  }

  /** Reads the whole file into an internal buffer (grown as needed); returns the byte count. */
  readAll(): { buf: Buffer; len: number } {
    for (;;) {
      const n = this.read();
      if (n < this.buf.length) return { buf: this.buf, len: n };
      this.grow();
    }
  }
  /** Reads a file that holds one unsigned decimal integer, without building a string. */
  readUint(): number {
    const { buf, len } = this.readAll();
    let v = 0;
    let digits = 0;
    for (let i = 0; i < len; i++) {
      const c = buf[i]!;
      if (c >= 48 && c <= 57) {
        v = v * 10 + (c - 48);
        digits++;
      } else if (digits > 0) break;
    }
    if (digits === 0) throw new SysfsError(this.path, 'EINVAL', `${this.path}: expected a number, found ${JSON.stringify(buf.toString('utf8', 0, len))}`);
    return v;
  }
  close(): void {
    if (this.fd >= 0) {
      try {
        closeSync(this.fd);
      } catch {
        // already closed
      }
      this.fd = -1;
    }
  }
}

/** Parses the kernel's cpulist format ("0-3,8,10-11"); '' is the empty list. */
export function parseCpuList(s: string): number[] {
  const out: number[] = [];
  const t = s.trim();
  if (t === '') return out;
  for (const part of t.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new Error(`bad cpu list ${JSON.stringify(s)}`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) throw new Error(`bad cpu list ${JSON.stringify(s)}`);
    for (let i = a; i <= b; i++) out.push(i);
  }
  return out;
}

export function formatCpuList(ids: readonly number[]): string {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  const out: string[] = [];
  let i = 0;
  while (i < sorted.length) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    out.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return out.join(',');
}
