// Shared helpers for the storage tests: temp directories, entries, and store snapshots for
// comparison.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Entry, GroupDurableState, GroupWrite, HardState } from '../../runtime/protocols/api.js';

export function tempDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `verdant-storage-${tag}-`));
}

export function rmDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Deterministic payload for (group, index, term) so tests can check contents after recovery. */
export function payload(group: number, index: number, term: number, size = 24): Uint8Array {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (group * 31 + index * 7 + term * 13 + i) & 0xff;
  b.writeUInt32LE(index >>> 0, 0);
  return b;
}

export function entries(group: number, from: number, to: number, term: number, size = 24): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push({ index: i, term, type: 0, data: payload(group, i, term, size) });
  return out;
}

export function write(group: number, es: Entry[], hardState: HardState | null = null): GroupWrite {
  return { group, hardState, entries: es, snapshot: null };
}

/** A plain-object view of recovered state for deepEqual. */
export function view(states: readonly GroupDurableState[]): unknown {
  return states.map((s) => ({
    group: s.group,
    hardState: { ...s.hardState },
    snapshot: s.snapshot ? { meta: s.snapshot.meta, data: Buffer.from(s.snapshot.data).toString('hex') } : null,
    entries: s.entries.map((e) => [e.index, e.term, e.type, Buffer.from(e.data).toString('hex')]),
  }));
}

export function find(states: readonly GroupDurableState[], group: number): GroupDurableState {
  const s = states.find((x) => x.group === group);
  if (!s) throw new Error(`group ${group} not recovered`);
  return s;
}

export function segmentFiles(laneDir: string): string[] {
  return fs
    .readdirSync(laneDir)
    .filter((n) => n.endsWith('.wal'))
    .sort()
    .map((n) => path.join(laneDir, n));
}

export const quiet = { onWarning: (): void => undefined };
