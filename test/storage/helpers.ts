// Shared helpers for the storage tests: temp directories, entries, store snapshots for comparison,
// and child processes killed mid-load.
import { spawn } from 'node:child_process';
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

/**
 * Runs `node script ...args` and SIGKILLs it at an arbitrary moment under load: once it printed
 * "ready", `killAfterMs` passed since, and `mayKill()` holds (so a slow, loaded machine still kills
 * it mid-load, not before it began). Every other stdout line goes to `onLine`. Resolves when the
 * child died of that SIGKILL; rejects when it exits on its own.
 */
export function runAndKill(script: string, args: string[], killAfterMs: number, onLine: (line: string) => void, mayKill: () => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    let stderr = '';
    let readyAt = 0;
    let killed = false;
    const maybeKill = (): void => {
      if (!killed && readyAt > 0 && performance.now() - readyAt >= killAfterMs && mayKill()) {
        killed = true;
        child.kill('SIGKILL');
      }
    };
    const poll = setInterval(maybeKill, 2);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line === 'ready') readyAt = performance.now();
        else onLine(line);
      }
      maybeKill();
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearInterval(poll);
      if (signal === 'SIGKILL') resolve();
      else reject(new Error(`${path.basename(script)} exited on its own (code ${code}): ${stderr}`));
    });
  });
}
