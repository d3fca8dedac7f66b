// Files named by a number: `<number as 16 hex digits>.<ext>`, so that name order is number order
// (WAL segments by sequence number, snapshot images by id).
import path from 'node:path';

export function numberedFileName(dir: string, n: number, ext: string): string {
  return path.join(dir, `${n.toString(16).padStart(16, '0')}.${ext}`);
}

/** The number in `<16 hex digits>.<ext>`; null for any other name. */
export function parseNumberedFileName(name: string, ext: string): number | null {
  const m = /^([0-9a-f]{16})\.(\w+)$/.exec(name);
  return m !== null && m[2] === ext ? parseInt(m[1]!, 16) : null;
}
