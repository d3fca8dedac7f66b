// A 3-member etcd cluster on loopback for benchmarks and tests. Each member keeps its data on disk
// in a fresh temp directory with etcd's defaults (fsync on every WAL commit), so what we measure is
// etcd's durable throughput, the same contract verdant must meet.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { ClusterUnderTest } from './cluster-under-test.js';

export const ETCD_INSTALL_HINT =
  'etcd is not installed. Install Debian\'s package with `apt-get install etcd-server` ' +
  '(as root), or pass --install-etcd to let verdant run apt-get for you when it runs as root.';

export class EtcdMissingError extends Error {
  constructor(detail?: string) {
    super(detail ? `${ETCD_INSTALL_HINT} (${detail})` : ETCD_INSTALL_HINT);
    this.name = 'EtcdMissingError';
  }
}

/** Finds an executable on PATH; undefined if absent. */
export function findExecutable(name: string, pathEnv = process.env.PATH ?? ''): string | undefined {
  for (const dir of pathEnv.split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface EnsureEtcdOptions {
  /** Run `apt-get install etcd-server` if etcd is missing (only as root). */
  allowInstall?: boolean;
  /** Where progress of an install goes. */
  log?: (line: string) => void;
}

/** Returns the path of the etcd binary, installing Debian's etcd-server first when permitted. */
export function ensureEtcd(opts: EnsureEtcdOptions = {}): string {
  const found = findExecutable('etcd');
  if (found) return found;
  if (!opts.allowInstall) throw new EtcdMissingError();
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    throw new EtcdMissingError('--install-etcd needs root');
  }
  const log = opts.log ?? ((l: string) => process.stderr.write(l + '\n'));
  log('etcd missing: running apt-get install etcd-server');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update', '-qq'], ['install', '-y', '-qq', '--no-install-recommends', 'etcd-server']]) {
    const r = spawnSync('apt-get', args, { stdio: ['ignore', 'inherit', 'inherit'], env });
    if (r.status !== 0) throw new EtcdMissingError(`apt-get ${args.join(' ')} failed with status ${r.status}`);
  }
  const installed = findExecutable('etcd');
  if (!installed) throw new EtcdMissingError('apt-get succeeded but etcd is still not on PATH');
  return installed;
}

/** Reserves n distinct free loopback ports (all held open at once so they differ). */
export async function freePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < n; i++) {
      const s = createServer();
      servers.push(s);
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(0, host, () => resolve());
      });
      const addr = s.address();
      if (addr === null || typeof addr === 'string') throw new Error('no port from listen(0)');
      ports.push(addr.port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

export interface EtcdClusterOptions {
  members?: number;
  /** Parent of the cluster's temp data directory (default os.tmpdir()). */
  dataRoot?: string;
  allowInstall?: boolean;
  /** How long to wait for every member to report healthy. */
  startTimeoutMs?: number;
  /** Extra etcd flags for every member. */
  extraArgs?: string[];
  log?: (line: string) => void;
}

interface Member {
  name: string;
  clientPort: number;
  peerPort: number;
  dataDir: string;
  logFile: string;
  proc?: ChildProcess;
  exited?: { code: number | null; signal: NodeJS.Signals | null };
}

const HOST = '127.0.0.1';
const liveClusters = new Set<EtcdCluster>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Never leave etcd members running behind a crashed or interrupted benchmark.
  process.on('exit', () => {
    for (const c of liveClusters) c.killNow();
  });
}

export class EtcdCluster implements ClusterUnderTest {
  readonly name = 'etcd';
  private readonly opts: EtcdClusterOptions;
  private members: Member[] = [];
  private rootDir: string | undefined;
  private binary: string | undefined;

  constructor(opts: EtcdClusterOptions = {}) {
    this.opts = opts;
  }

  /** The temp directory holding every member's data and log (until stop()). */
  dataDir(): string | undefined {
    return this.rootDir;
  }

  async start(): Promise<void> {
    this.binary = ensureEtcd({ allowInstall: this.opts.allowInstall ?? false, ...(this.opts.log ? { log: this.opts.log } : {}) });
    // Ports are reserved then released before etcd binds them; another process can win that race,
    // so a start that fails on a bind error is retried with fresh ports.
    let lastErr: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await this.startOnce();
        return;
      } catch (err) {
        lastErr = err;
        const bindRace = err instanceof Error && /address already in use/i.test(err.message);
        await this.stop();
        if (!bindRace) throw err;
      }
    }
    throw lastErr;
  }

  private async startOnce(): Promise<void> {
    const n = this.opts.members ?? 3;
    this.rootDir = mkdtempSync(join(this.opts.dataRoot ?? tmpdir(), 'verdant-etcd-'));
    const ports = await freePorts(2 * n);
    this.members = Array.from({ length: n }, (_, i) => ({
      name: `m${i}`,
      clientPort: ports[2 * i]!,
      peerPort: ports[2 * i + 1]!,
      dataDir: join(this.rootDir!, `m${i}`),
      logFile: join(this.rootDir!, `m${i}.log`),
    }));
    const initialCluster = this.members.map((m) => `${m.name}=http://${HOST}:${m.peerPort}`).join(',');
    const token = `verdant-${process.pid}-${Date.now()}`;
    installExitHook();
    liveClusters.add(this);
    for (const m of this.members) {
      const args = [
        `--name=${m.name}`,
        `--data-dir=${m.dataDir}`,
        `--listen-client-urls=http://${HOST}:${m.clientPort}`,
        `--advertise-client-urls=http://${HOST}:${m.clientPort}`,
        `--listen-peer-urls=http://${HOST}:${m.peerPort}`,
        `--initial-advertise-peer-urls=http://${HOST}:${m.peerPort}`,
        `--initial-cluster=${initialCluster}`,
        `--initial-cluster-token=${token}`,
        '--initial-cluster-state=new',
        '--logger=zap',
        '--log-level=warn',
        ...(this.opts.extraArgs ?? []),
      ];
      const fd = openSync(m.logFile, 'a');
      const proc = spawn(this.binary!, args, { stdio: ['ignore', fd, fd] });
      closeSync(fd);
      m.proc = proc;
      proc.once('exit', (code, signal) => {
        m.exited = { code, signal };
      });
    }
    await this.waitHealthy(this.opts.startTimeoutMs ?? 30_000);
  }

  private memberLog(m: Member): string {
    try {
      return readFileSync(m.logFile, 'utf8').split('\n').filter(Boolean).slice(-5).join('\n');
    } catch {
      return '(no log)';
    }
  }

  private async waitHealthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const healthy = new Set<string>();
    while (Date.now() < deadline) {
      for (const m of this.members) {
        if (m.exited) {
          throw new Error(`etcd member ${m.name} exited during start (code ${m.exited.code}, signal ${m.exited.signal}):\n${this.memberLog(m)}`);
        }
        if (healthy.has(m.name)) continue;
        try {
          const res = await fetch(`http://${HOST}:${m.clientPort}/health`, { signal: AbortSignal.timeout(1000) });
          const body = (await res.json()) as { health?: string };
          if (body.health === 'true') healthy.add(m.name);
        } catch {
          // not listening yet
        }
      }
      if (healthy.size === this.members.length) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    const sick = this.members.filter((m) => !healthy.has(m.name)).map((m) => `${m.name}: ${this.memberLog(m)}`);
    throw new Error(`etcd cluster not healthy after ${timeoutMs} ms:\n${sick.join('\n')}`);
  }

  endpoints(): string[] {
    return this.members.map((m) => `${HOST}:${m.clientPort}`);
  }

  targetUrl(): string {
    return `etcd://${this.endpoints().join(',')}`;
  }

  serverPids(): number[] {
    return this.members.map((m) => {
      if (m.proc?.pid === undefined || m.exited) throw new Error(`etcd member ${m.name} is not running`);
      return m.proc.pid;
    });
  }

  async stop(): Promise<void> {
    const waits = this.members.map(async (m) => {
      const p = m.proc;
      if (!p || m.exited || p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise<void>((r) => p.once('exit', () => r()));
      p.kill('SIGTERM');
      // A member stopping with its peers tries to hand over leadership first and can wait
      // seconds for peers that are gone; the data is deleted anyway, so do not wait long.
      const timer = setTimeout(() => p.kill('SIGKILL'), 1000);
      await exited;
      clearTimeout(timer);
    });
    await Promise.all(waits);
    liveClusters.delete(this);
    if (this.rootDir) rmSync(this.rootDir, { recursive: true, force: true });
    this.rootDir = undefined;
    this.members = [];
  }

  /** Synchronous last-resort cleanup from a process 'exit' hook. */
  killNow(): void {
    for (const m of this.members) {
      if (m.proc && !m.exited) m.proc.kill('SIGKILL');
    }
    if (this.rootDir) rmSync(this.rootDir, { recursive: true, force: true });
  }
}
