// A cluster of replica processes on this machine: what `verdant cluster up/down`, `verdant status`,
// `verdant kv`, the replica tests and the kv benchmark use.
//
// Directory layout (all secrets 0600):
//   DIR/cluster.json            manifest: cluster id, per replica id, addresses, file paths
//   DIR/secret                  cluster secret (peer HMAC)
//   DIR/client.token            client token
//   DIR/control.token           control API bearer token
//   DIR/tls/                    with --tls: the cluster CA and a certificate per replica (cluster-certs.ts)
//   DIR/replica-N/config.json   the replica's config (verdant replica --config)
//   DIR/replica-N/data/         its store
//   DIR/replica-N/replica.log   its log (stderr)
//   DIR/replica-N/pid           pid while it runs
// An existing DIR is reused as it is (same ports, same data): `cluster up` restarts a cluster.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSecretFile } from '../net/secret-file.js';
import { generateClusterCerts, requireOpenssl } from './cluster-certs.js';
import type { ReplicaConfigInput } from './config.js';

export interface ReplicaEntry {
  readonly id: number;
  readonly dir: string;
  readonly config: string;
  readonly log: string;
  readonly pidFile: string;
  readonly peer: string;
  readonly client: string;
  readonly control: string;
}

export interface ClusterManifest {
  readonly format: 1;
  readonly clusterId: string;
  readonly dir: string;
  readonly secretFile: string;
  readonly clientTokenFile: string;
  readonly controlTokenFile: string;
  /** Present when the replicas use TLS (peers, and the client port: clients verify against `ca`). */
  readonly tls?: { readonly ca: string };
  readonly replicas: readonly ReplicaEntry[];
}

export interface InitOptions {
  readonly replicas?: number;
  readonly host?: string;
  /** Merged into every replica's config (e.g. { raft: { tickMs: 50 } }). */
  readonly overrides?: Partial<ReplicaConfigInput>;
  /** A new cluster uses mutual TLS between replicas and TLS on the client port (needs openssl). */
  readonly tls?: boolean;
}

const CLI = fileURLToPath(new URL('../../cli/verdant.js', import.meta.url));

export function manifestPath(dir: string): string {
  return path.join(path.resolve(dir), 'cluster.json');
}

export function readManifest(dir: string): ClusterManifest {
  const file = manifestPath(dir);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new Error(`no cluster in ${path.resolve(dir)} (${file} is missing); start one with: verdant cluster up --dir ${dir}`);
  }
  const m = JSON.parse(text) as ClusterManifest;
  if (m.format !== 1 || !Array.isArray(m.replicas)) throw new Error(`${file}: not a verdant cluster manifest`);
  return m;
}

async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen({ host, port: 0 }, () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

function writeToken(file: string): void {
  fs.writeFileSync(file, randomBytes(24).toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
}

/** Creates DIR with secrets, tokens and configs, or returns the manifest of the cluster already there. */
export async function initCluster(dir: string, o: InitOptions = {}): Promise<{ manifest: ClusterManifest; created: boolean }> {
  const root = path.resolve(dir);
  if (fs.existsSync(manifestPath(root))) {
    const m = readManifest(root);
    if (o.replicas !== undefined && o.replicas !== m.replicas.length) {
      throw new Error(`${root} holds a cluster of ${m.replicas.length} replicas, not ${o.replicas}; use another --dir or remove it`);
    }
    if (o.tls && !m.tls) throw new Error(`${root} holds a cluster without TLS; --tls applies to a new cluster (use another --dir)`);
    return { manifest: m, created: false };
  }
  const n = o.replicas ?? 3;
  if (!Number.isInteger(n) || n < 1 || n > 9) throw new Error(`--replicas must be 1..9, got ${n}`);
  const host = o.host ?? '127.0.0.1';
  // Before anything is written: a missing openssl must not leave a half-made cluster behind.
  if (o.tls) requireOpenssl();
  fs.mkdirSync(root, { recursive: true, mode: 0o700 });
  const secretFile = path.join(root, 'secret');
  const clientTokenFile = path.join(root, 'client.token');
  const controlTokenFile = path.join(root, 'control.token');
  createSecretFile(secretFile);
  writeToken(clientTokenFile);
  writeToken(controlTokenFile);
  const clusterId = `verdant-${randomBytes(4).toString('hex')}`;
  const members: { id: number; peer: string; client: string }[] = [];
  const controls: string[] = [];
  const used = new Set<number>();
  const take = async () => {
    for (;;) {
      const p = await freePort(host);
      if (!used.has(p)) {
        used.add(p);
        return p;
      }
    }
  };
  for (let id = 1; id <= n; id++) {
    members.push({ id, peer: `${host}:${await take()}`, client: `${host}:${await take()}` });
    controls.push(`127.0.0.1:${await take()}`);
  }
  const certs = o.tls ? generateClusterCerts(path.join(root, 'tls'), clusterId, members.map((m) => m.id), host) : null;
  const replicas: ReplicaEntry[] = [];
  for (const m of members) {
    const rdir = path.join(root, `replica-${m.id}`);
    fs.mkdirSync(rdir, { recursive: true, mode: 0o700 });
    const config: ReplicaConfigInput = {
      ...(o.overrides ?? {}),
      id: m.id,
      clusterId,
      dataDir: 'data',
      secretFile: '../secret',
      clientTokenFile: '../client.token',
      members,
      control: { listen: controls[m.id - 1]!, tokenFile: '../control.token' },
      ...(certs ? { tls: { cert: path.relative(rdir, certs.replicas.get(m.id)!.cert), key: path.relative(rdir, certs.replicas.get(m.id)!.key), ca: path.relative(rdir, certs.ca), clientPort: true } } : {}),
    } as ReplicaConfigInput;
    const configFile = path.join(rdir, 'config.json');
    fs.writeFileSync(configFile, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 });
    replicas.push({
      id: m.id,
      dir: rdir,
      config: configFile,
      log: path.join(rdir, 'replica.log'),
      pidFile: path.join(rdir, 'pid'),
      peer: m.peer,
      client: m.client,
      control: `http://${controls[m.id - 1]!}`,
    });
  }
  const manifest: ClusterManifest = { format: 1, clusterId, dir: root, secretFile, clientTokenFile, controlTokenFile, ...(certs ? { tls: { ca: certs.ca } } : {}), replicas };
  fs.writeFileSync(manifestPath(root), JSON.stringify(manifest, null, 2) + '\n', { mode: 0o600 });
  return { manifest, created: true };
}

export interface StartOptions {
  /** Survive the parent (cluster up --detach). */
  readonly detached?: boolean;
  /** Extra node arguments (e.g. --cpu-prof). */
  readonly nodeArgs?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
}

/** Starts one replica process; its stderr/stdout go to its log file. */
export function startReplicaProcess(m: ClusterManifest, id: number, o: StartOptions = {}): ChildProcess {
  const r = m.replicas.find((x) => x.id === id);
  if (!r) throw new Error(`no replica ${id} in ${m.dir}`);
  const out = fs.openSync(r.log, 'a');
  const child = spawn(process.execPath, [...(o.nodeArgs ?? []), CLI, 'replica', '--config', r.config], {
    cwd: r.dir,
    stdio: ['ignore', out, out],
    detached: o.detached ?? false,
    env: { ...process.env, ...(o.env ?? {}) },
  });
  fs.closeSync(out);
  if (child.pid !== undefined) fs.writeFileSync(r.pidFile, `${child.pid}\n`);
  child.once('exit', () => {
    try {
      if (fs.readFileSync(r.pidFile, 'utf8').trim() === String(child.pid)) fs.rmSync(r.pidFile, { force: true });
    } catch {
      /* gone already */
    }
  });
  if (o.detached) child.unref();
  return child;
}

/** The pid in a replica's pid file if that process is alive, else null. */
export function runningPid(r: ReplicaEntry): number | null {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(r.pidFile, 'utf8').trim());
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
export async function stopPid(pid: number, graceMs = 10_000): Promise<'stopped' | 'killed' | 'gone'> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return 'gone';
  }
  const until = Date.now() + graceMs;
  while (Date.now() < until) {
    await new Promise((r) => setTimeout(r, 50));
    try {
      process.kill(pid, 0);
    } catch {
      return 'stopped';
    }
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return 'stopped';
  }
  return 'killed';
}

export function readToken(file: string): string {
  return fs.readFileSync(file, 'utf8').split('\n').map((l) => l.trim()).find((l) => l !== '' && !l.startsWith('#')) ?? '';
}

export type StatusResult = { readonly id: number; readonly ok: true; readonly status: Record<string, unknown> & { id: number; role: string; term: number; leader: number; commit: number; applied: number; snapshotIndex: number; pid: number } } | { readonly id: number; readonly ok: false; readonly error: string };

/** GET /v1/status of every replica (down ones say why). */
export async function clusterStatus(m: ClusterManifest, timeoutMs = 2000): Promise<StatusResult[]> {
  const token = readToken(m.controlTokenFile);
  return Promise.all(
    m.replicas.map(async (r): Promise<StatusResult> => {
      try {
        const res = await fetch(`${r.control}/v1/status`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(timeoutMs) });
        if (!res.ok) return { id: r.id, ok: false, error: `HTTP ${res.status}` };
        return { id: r.id, ok: true, status: (await res.json()) as never };
      } catch (e) {
        const err = e as Error & { cause?: { code?: string } };
        return { id: r.id, ok: false, error: err.cause?.code === 'ECONNREFUSED' ? 'down' : err.name === 'TimeoutError' ? 'not answering' : err.message };
      }
    }),
  );
}

/** Waits until every replica in `ids` (default all) answers and they agree on one leader. */
export async function waitForLeader(m: ClusterManifest, timeoutMs = 30_000, ids?: readonly number[]): Promise<number> {
  const until = Date.now() + timeoutMs;
  const want = new Set(ids ?? m.replicas.map((r) => r.id));
  let last = '';
  while (Date.now() < until) {
    const st = (await clusterStatus(m, 1000)).filter((s) => want.has(s.id));
    const up = st.filter((s): s is Extract<StatusResult, { ok: true }> => s.ok);
    if (up.length === want.size) {
      const leaders = new Set(up.map((s) => s.status.leader));
      const leader = up[0]!.status.leader;
      if (leaders.size === 1 && leader !== 0 && up.some((s) => s.status.id === leader && s.status.role === 'leader')) return leader;
      last = `leaders seen: ${[...leaders].join(', ')}`;
    } else {
      last = st.filter((s) => !s.ok).map((s) => `replica ${s.id}: ${(s as { error: string }).error}`).join('; ');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the cluster did not elect a leader within ${timeoutMs} ms (${last})`);
}
