// Real replica processes on loopback for the fault tests: a cluster (optionally with a FaultProxy
// on every replica-to-replica link), a recorded client workload, and the checks every scenario
// makes (linearizable history, no acknowledged write lost, replicas converge).
import type { ChildProcess } from 'node:child_process';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KvClient, KvError } from '../../runtime/client/index.js';
import { FaultProxy } from '../../runtime/net/index.js';
import {
  clusterStatus,
  initCluster,
  readToken,
  startReplicaProcess,
  waitForLeader,
  type ClusterManifest,
  type StatusResult,
} from '../../runtime/replica/local-cluster.js';
import type { ReplicaConfigInput } from '../../runtime/replica/config.js';
import { HistoryRecorder, toPorcupineJson, type KvInput, type KvOutput, type Operation } from '../../runtime/sim/lincheck/history.js';
import { checkKvHistory, describeFailure } from '../../runtime/sim/lincheck/kv-check.js';

/** Election timeout 0.5–1 s: tests see failover quickly without flapping on a loaded machine. */
export const TICK_MS = 50;
export const ELECTION_TICKS = 10;
export const ELECTION_TIMEOUT_MAX_MS = 2 * ELECTION_TICKS * TICK_MS;

export interface ClusterOptions {
  readonly replicas?: number;
  readonly proxy?: boolean;
  readonly overrides?: Partial<ReplicaConfigInput>;
  /** Mutual TLS between replicas and TLS on the client port (certificates from openssl). */
  readonly tls?: boolean;
}

export class TestCluster {
  readonly procs = new Map<number, ChildProcess>();
  /** Workloads on this cluster, stopped by cleanup() whatever happened (so the test process can exit). */
  readonly workloads: Workload[] = [];
  private constructor(
    readonly dir: string,
    readonly manifest: ClusterManifest,
    readonly proxy: FaultProxy | null,
  ) {}

  static async start(o: ClusterOptions = {}): Promise<TestCluster> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'verdant-replica-test-'));
    const overrides = { ...(o.overrides ?? {}), raft: { tickMs: TICK_MS, electionTicks: ELECTION_TICKS, ...((o.overrides?.raft as object) ?? {}) } };
    const { manifest } = await initCluster(path.join(dir, 'c'), { replicas: o.replicas ?? 3, overrides, ...(o.tls ? { tls: true } : {}) });
    let proxy: FaultProxy | null = null;
    if (o.proxy) {
      const routes = [];
      for (const a of manifest.replicas) {
        for (const b of manifest.replicas) {
          if (a.id === b.id) continue;
          const [host, port] = b.peer.split(':');
          routes.push({ from: a.id, to: b.id, target: { host: host!, port: Number(port) } });
        }
      }
      proxy = await FaultProxy.start(routes);
      for (const r of manifest.replicas) {
        const cfg = JSON.parse(fs.readFileSync(r.config, 'utf8')) as Record<string, unknown>;
        const dial: Record<string, string> = {};
        for (const b of manifest.replicas) {
          if (b.id === r.id) continue;
          const a = proxy.addressOf(r.id, b.id);
          dial[String(b.id)] = `${a.host}:${a.port}`;
        }
        cfg.peerDial = dial;
        fs.writeFileSync(r.config, JSON.stringify(cfg, null, 2));
      }
    }
    const c = new TestCluster(dir, manifest, proxy);
    for (const r of manifest.replicas) c.startReplica(r.id);
    return c;
  }

  get ids(): number[] {
    return this.manifest.replicas.map((r) => r.id);
  }

  get endpoints(): string[] {
    return this.manifest.replicas.map((r) => r.client);
  }

  get token(): string {
    return readToken(this.manifest.clientTokenFile);
  }

  startReplica(id: number): void {
    const old = this.procs.get(id);
    if (old && old.exitCode === null && old.signalCode === null) throw new Error(`replica ${id} is running`);
    this.procs.set(id, startReplicaProcess(this.manifest, id));
  }

  /** Signals a replica (SIGKILL by default: a crash) and waits for it to exit. */
  async kill(id: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = this.procs.get(id);
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill(signal);
    await exited;
  }

  async leader(timeoutMs = 30_000, ids?: readonly number[]): Promise<number> {
    return waitForLeader(this.manifest, timeoutMs, ids);
  }

  async status(): Promise<StatusResult[]> {
    return clusterStatus(this.manifest, 2000);
  }

  /** The client-side TLS options when the cluster's client port uses TLS. */
  get clientTls(): { tls: { ca: Buffer } } | Record<string, never> {
    return this.manifest.tls ? { tls: { ca: fs.readFileSync(this.manifest.tls.ca) } } : {};
  }

  async client(o: { endpoints?: string[]; timeoutMs?: number } = {}): Promise<KvClient> {
    return KvClient.connect({ endpoints: o.endpoints ?? this.endpoints, token: this.token, requestTimeoutMs: o.timeoutMs ?? 5000, connectTimeoutMs: 2000, ...this.clientTls });
  }

  logs(): string {
    return this.manifest.replicas.map((r) => `----- ${r.log}\n${tail(r.log, 40)}`).join('\n');
  }

  /** Waits until every running replica has applied the same index, at least `atLeast`. */
  async converged(timeoutMs = 20_000, atLeast = 0): Promise<number> {
    const until = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < until) {
      const st = await this.status();
      const up = st.filter((s): s is Extract<StatusResult, { ok: true }> => s.ok);
      if (up.length === this.ids.length) {
        const applied = new Set(up.map((s) => s.status.applied));
        const commits = new Set(up.map((s) => s.status.commit));
        const a = up[0]!.status.applied;
        if (applied.size === 1 && commits.size === 1 && a === up[0]!.status.commit && a >= atLeast) return a;
        last = up.map((s) => `${s.id}: commit ${s.status.commit} applied ${s.status.applied}`).join(', ');
      } else last = st.filter((s) => !s.ok).map((s) => `${s.id} ${(s as { error: string }).error}`).join(', ');
      await sleep(100);
    }
    throw new Error(`replicas did not converge within ${timeoutMs} ms: ${last}`);
  }

  async cleanup(keep = false): Promise<void> {
    await Promise.all(this.workloads.map((w) => w.stop().catch(() => undefined)));
    await Promise.all(this.ids.map((id) => this.kill(id)));
    await this.proxy?.close();
    if (!keep) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

function tail(file: string, lines: number): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Runs `body` on a fresh cluster; when it fails, prints the replicas' logs and keeps their directory. */
export async function withCluster(o: ClusterOptions, body: (c: TestCluster) => Promise<void>): Promise<void> {
  const c = await TestCluster.start(o);
  await usingCluster(c, () => body(c));
}

/** Runs `body` on a started cluster, then cleans it up; when `body` fails, prints the replicas' logs and keeps their directory. */
export async function usingCluster(c: TestCluster, body: () => Promise<void>): Promise<void> {
  let ok = false;
  try {
    await body();
    ok = true;
  } catch (e) {
    console.error(c.logs());
    throw e;
  } finally {
    await c.cleanup(!ok);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const now = (): number => performance.now();

export interface WorkloadOptions {
  readonly clients?: number;
  readonly hotKeys?: number;
  readonly timeoutMs?: number;
  readonly valueBytes?: number;
  /** Client i lists the endpoints starting at replica i (multi-Raft: writes go to every replica). */
  readonly spread?: boolean;
}

/**
 * Clients issuing put / get / cas / delete on a few hot keys (the linearizability check) and puts
 * of unique keys (the "no acknowledged write lost" check), recording a Porcupine-shaped history.
 * A client whose operation ends without an answer continues under a new client id (its pending
 * operation stays in the history with an unknown outcome).
 */
export class Workload {
  readonly history = new HistoryRecorder();
  /** Unique key → value of every acknowledged unique put. */
  readonly acked = new Map<string, string>();
  /** call time → answered, for writes: to find when the cluster served again. */
  readonly writeAcks: { call: number; ret: number }[] = [];
  readonly errors = new Map<string, number>();
  private running = false;
  private loops: Promise<void>[] = [];
  private clients: KvClient[] = [];
  private nextClientId = 1;
  private readonly o: Required<WorkloadOptions>;

  constructor(
    private readonly cluster: TestCluster,
    o: WorkloadOptions = {},
  ) {
    this.o = { clients: o.clients ?? 4, hotKeys: o.hotKeys ?? 4, timeoutMs: o.timeoutMs ?? 4000, valueBytes: o.valueBytes ?? 0, spread: o.spread ?? false };
    cluster.workloads.push(this);
  }

  async start(): Promise<void> {
    this.running = true;
    for (let i = 0; i < this.o.clients; i++) {
      const eps = this.cluster.endpoints;
      const k = this.o.spread ? i % eps.length : 0;
      const c = await this.cluster.client({ timeoutMs: this.o.timeoutMs, endpoints: [...eps.slice(k), ...eps.slice(0, k)] });
      this.clients.push(c);
      this.loops.push(this.loop(c, i));
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    const loops = this.loops;
    this.loops = [];
    const settled = await Promise.allSettled(loops);
    await Promise.all(this.clients.splice(0).map((c) => c.close()));
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private pad(v: string): string {
    return this.o.valueBytes > v.length ? v + '.'.repeat(this.o.valueBytes - v.length) : v;
  }

  private async loop(kv: KvClient, worker: number): Promise<void> {
    let clientId = this.nextClientId++;
    let n = 0;
    const seen = new Map<string, string | null>();
    while (this.running) {
      n++;
      const r = Math.random();
      const key = `h${Math.floor(Math.random() * this.o.hotKeys)}`;
      let input: KvInput;
      let run: () => Promise<KvOutput>;
      let uniqueKey: string | null = null;
      if (r < 0.3) {
        const value = `c${clientId}-${n}`;
        input = { op: 'put', key, value };
        run = async () => {
          await kv.put(key, this.pad(value));
          seen.set(key, value);
          return { ok: true };
        };
      } else if (r < 0.55) {
        input = { op: 'get', key };
        run = async () => {
          const g = await kv.get(key);
          const v = g.entry?.value ? unpad(Buffer.from(g.entry.value).toString()) : null;
          seen.set(key, v);
          return { value: v };
        };
      } else if (r < 0.7) {
        const expected = seen.get(key) ?? null;
        const value = `c${clientId}-${n}`;
        input = { op: 'cas', key, expected, value };
        run = async () => {
          const res = await kv.cas(key, expected === null ? { kind: 'absent' } : { kind: 'value', value: this.pad(expected) }, this.pad(value));
          if (res.succeeded) seen.set(key, value);
          return { ok: res.succeeded };
        };
      } else if (r < 0.78) {
        input = { op: 'delete', key };
        run = async () => {
          await kv.delete(key);
          seen.set(key, null);
          return { ok: true };
        };
      } else {
        uniqueKey = `u-${worker}-${clientId}-${n}`;
        const value = `c${clientId}-${n}`;
        input = { op: 'put', key: uniqueKey, value };
        run = async () => {
          await kv.put(uniqueKey!, this.pad(value));
          return { ok: true };
        };
      }
      const call = now();
      const h = this.history.invoke(clientId, input, call);
      try {
        const out = await run();
        const ret = now();
        this.history.complete(h, out, ret);
        if (input.op !== 'get') this.writeAcks.push({ call, ret });
        if (uniqueKey !== null) this.acked.set(uniqueKey, (input as { value: string }).value);
      } catch (e) {
        const code = e instanceof KvError ? e.code : 'other';
        this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
        if (!(e instanceof KvError) || (code !== 'timeout' && code !== 'outcome-unknown' && code !== 'unavailable')) throw e;
        // Unknown outcome: this client id stops here; the worker goes on as a new client.
        clientId = this.nextClientId++;
        seen.clear();
        await sleep(20);
      }
    }
  }

  /** The first write acknowledged whose call came after `t` (performance.now() time), or null. */
  firstWriteAckAfter(t: number): number | null {
    let best: number | null = null;
    for (const a of this.writeAcks) if (a.call >= t && (best === null || a.ret < best)) best = a.ret;
    return best;
  }

  operations(): Operation[] {
    return this.history.operations();
  }
}

function unpad(v: string): string {
  const i = v.indexOf('.');
  return i < 0 ? v : v.slice(0, i);
}

/**
 * The checks every fault scenario ends with, once the cluster is healed:
 *   - reads the final value of every hot key (added to the history) and checks the history for
 *     linearizability; a failing history is written to `<dir>/history.json` for `verdant lincheck`;
 *   - every acknowledged unique put is there with its value (no acknowledged write lost);
 *   - all replicas applied the same index and give the same answers to stale reads.
 */
export async function finalChecks(c: TestCluster, w: Workload, hotKeys = 4): Promise<{ operations: number; unknown: number; acked: number }> {
  const kv = await c.client({ timeoutMs: 15_000 });
  try {
    for (let i = 0; i < hotKeys; i++) {
      const key = `h${i}`;
      const call = now();
      const h = w.history.invoke(1_000_000 + i, { op: 'get', key }, call);
      const g = await kv.get(key);
      w.history.complete(h, { value: g.entry?.value ? unpad(Buffer.from(g.entry.value).toString()) : null }, now());
    }
    // No acknowledged write lost.
    const missing: string[] = [];
    for (const [key, value] of w.acked) {
      const g = await kv.get(key);
      const got = g.entry?.value ? unpad(Buffer.from(g.entry.value).toString()) : null;
      if (got !== value) missing.push(`${key}: expected ${value}, got ${got}`);
    }
    assert.deepEqual(missing, [], `acknowledged writes lost:\n${missing.slice(0, 20).join('\n')}`);
  } finally {
    await kv.close();
  }
  const ops = w.operations();
  const historyFile = path.join(c.dir, 'history.json');
  fs.writeFileSync(historyFile, toPorcupineJson(ops));
  const verdict = checkKvHistory(ops);
  assert.equal(verdict.result, 'ok', `history not linearizable (${historyFile}):\n${describeFailure(ops, verdict)}`);

  // Every replica ends with the same state: same applied index, same stale answers.
  const applied = await c.converged();
  const sample = [...w.acked.keys()].slice(0, 50);
  const keys = [...Array.from({ length: hotKeys }, (_, i) => `h${i}`), ...sample];
  let reference: (string | null)[] | null = null;
  for (const r of c.manifest.replicas) {
    const one = await KvClient.connect({ endpoints: [r.client], token: c.token, requestTimeoutMs: 5000, ...c.clientTls });
    try {
      const vals: (string | null)[] = [];
      for (const k of keys) {
        const g = await one.get(k, { consistency: 'stale' });
        vals.push(g.entry?.value ? Buffer.from(g.entry.value).toString() : null);
      }
      if (reference === null) reference = vals;
      else assert.deepEqual(vals, reference, `replica ${r.id} disagrees at applied index ${applied}`);
    } finally {
      await one.close();
    }
  }
  return { operations: ops.length, unknown: ops.filter((o) => o.return === null).length, acked: w.acked.size };
}
