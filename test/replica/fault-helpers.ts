// Pieces the disk-full and client tests share: small real file systems under replica data
// directories (a tmpfs per replica: needs root, and fails loudly rather than skip when mounting is
// refused), the control API and leadership transfer, `verdant storage verify`, a process's exit, a
// filler client.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KvError, type KvClient } from '../../runtime/client/index.js';
import { readToken } from '../../runtime/replica/local-cluster.js';
import { sleep, type TestCluster } from './helpers.js';

const CLI = fileURLToPath(new URL('../../cli/verdant.js', import.meta.url));

export function dataDir(c: TestCluster, id: number): string {
  return path.join(c.manifest.replicas.find((r) => r.id === id)!.dir, 'data');
}

export function logOf(c: TestCluster, id: number): string {
  return c.manifest.replicas.find((r) => r.id === id)!.log;
}

function mount(dir: string, bytes: number): void {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0700`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    const msg = (err as { stderr?: Buffer }).stderr?.toString().trim() ?? String(err);
    throw new Error(`the disk-full tests mount a small tmpfs (run as root): mount failed: ${msg}`);
  }
}

/** Grows (or shrinks) a mounted tmpfs in place: how the tests "free space" without touching the store. */
export function resize(dir: string, bytes: number): void {
  execFileSync('mount', ['-o', `remount,size=${bytes}`, dir], { stdio: 'pipe' });
}

export function unmount(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'pipe' });
  } catch {
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
  }
}

/** Bytes used on the file system holding `dir`. */
export function usedBytes(dir: string): number {
  const s = fs.statfsSync(dir);
  return (s.blocks - s.bfree) * s.bsize;
}

/**
 * Moves a stopped replica's store onto a fresh tmpfs of `bytes` mounted at its data directory
 * (copied without holes, so preallocated segments stay allocated). Returns the mount point.
 */
export function moveOntoTmpfs(c: TestCluster, id: number, bytes: number): string {
  const dir = dataDir(c, id);
  const old = `${dir}.before-tmpfs`;
  fs.renameSync(dir, old);
  fs.mkdirSync(dir, { mode: 0o700 });
  mount(dir, bytes);
  execFileSync('cp', ['-a', '--sparse=never', `${old}/.`, `${dir}/`], { stdio: 'pipe' });
  fs.rmSync(old, { recursive: true, force: true });
  return dir;
}

export async function control(c: TestCluster, id: number, route: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = c.manifest.replicas.find((x) => x.id === id)!;
  const res = await fetch(`${r.control}${route}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${readToken(c.manifest.controlTokenFile)}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(20_000),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** Makes `id` the leader (leadership transfer) and waits until every replica agrees. */
export async function makeLeader(c: TestCluster, id: number): Promise<void> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const leader = await c.leader(30_000);
    if (leader === id) return;
    await control(c, leader, '/v1/transfer-leadership', { to: id });
    const until = Date.now() + 5000;
    while (Date.now() < until) {
      await sleep(100);
      const st = (await c.status()).find((s) => s.id === id);
      if (st?.ok && st.status.role === 'leader') break;
    }
  }
  assert.equal(await c.leader(30_000), id, `replica ${id} did not take the leadership`);
}

/** `verdant storage verify DIR`: exit code and output. */
export function verify(dir: string): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [CLI, 'storage', 'verify', dir], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout + r.stderr };
}

/** Resolves with the exit of a replica process (code, signal), or null after `timeoutMs`. */
export async function exitOf(c: TestCluster, id: number, timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null } | null> {
  const p = c.procs.get(id)!;
  if (p.exitCode !== null || p.signalCode !== null) return { code: p.exitCode, signal: p.signalCode };
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(null), timeoutMs);
    p.once('exit', (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal });
    });
  });
}

export const running = (c: TestCluster, id: number): boolean => {
  const p = c.procs.get(id);
  return p !== undefined && p.exitCode === null && p.signalCode === null;
};

/**
 * Puts of large values (`fill-N` → "fill-N" padded with dots to `bytes`, the Workload's padding,
 * so finalChecks can check them through `acked`) until stopped. An unanswered put is not counted.
 */
export class Filler {
  readonly acked = new Map<string, string>();
  readonly errors = new Map<string, number>();
  private running = true;
  private readonly done: Promise<void>;

  constructor(kv: KvClient, bytes: number, parallel = 2) {
    let n = 0;
    const loop = async (): Promise<void> => {
      while (this.running) {
        const name = `fill-${n++}`;
        try {
          await kv.put(name, name + '.'.repeat(bytes - name.length));
          this.acked.set(name, name);
        } catch (e) {
          if (!(e instanceof KvError)) throw e;
          this.errors.set(e.code, (this.errors.get(e.code) ?? 0) + 1);
          await sleep(50);
        }
      }
    };
    this.done = Promise.all(Array.from({ length: parallel }, loop)).then(() => undefined);
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}
