// A 3-replica verdant cluster for `bench compare`: separate replica processes on loopback, data on
// disk, fsync before acknowledging (sync mode 'always', the default) — the durability etcd has.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { initCluster, readToken, startReplicaProcess, stopPid, waitForLeader, type ClusterManifest } from '../../runtime/replica/local-cluster.js';
import type { ClusterUnderTest } from './cluster-under-test.js';

export interface VerdantClusterOptions {
  replicas?: number;
  dataRoot?: string;
  /** Merged into every replica's config (e.g. a runtime placement). */
  overrides?: Record<string, unknown>;
}

class VerdantCluster implements ClusterUnderTest {
  readonly name = 'verdant';
  private root: string | null = null;
  private manifest: ClusterManifest | null = null;
  private procs: ChildProcess[] = [];

  constructor(private readonly opts: VerdantClusterOptions) {}

  async start(): Promise<void> {
    this.root = fs.mkdtempSync(path.join(this.opts.dataRoot ?? os.tmpdir(), 'verdant-cluster-'));
    const { manifest } = await initCluster(path.join(this.root, 'c'), { replicas: this.opts.replicas ?? 3, ...(this.opts.overrides ? { overrides: this.opts.overrides as never } : {}) });
    this.manifest = manifest;
    this.procs = manifest.replicas.map((r) => startReplicaProcess(manifest, r.id));
    await waitForLeader(manifest, 30_000);
  }

  endpoints(): string[] {
    return this.manifest?.replicas.map((r) => r.client) ?? [];
  }

  targetUrl(): string {
    return `verdant://${this.endpoints().join(',')}`;
  }

  serverPids(): number[] {
    return this.procs.map((p) => p.pid!).filter((p) => p !== undefined);
  }

  clientToken(): string | undefined {
    return this.manifest ? readToken(this.manifest.clientTokenFile) : undefined;
  }

  async stop(): Promise<void> {
    await Promise.all(this.procs.map((p) => (p.pid !== undefined && p.exitCode === null && p.signalCode === null ? stopPid(p.pid, 15_000) : Promise.resolve())));
    this.procs = [];
    if (this.root) fs.rmSync(this.root, { recursive: true, force: true });
    this.root = null;
  }
}

/** A 3-replica verdant cluster on loopback. */
export function createVerdantCluster(opts: VerdantClusterOptions = {}): ClusterUnderTest | undefined {
  return new VerdantCluster(opts);
}

export const VERDANT_UNAVAILABLE_NOTE = 'verdant could not be measured';
