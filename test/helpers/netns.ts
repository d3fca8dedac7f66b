// Two Linux network namespaces joined by a veth pair: two "hosts" with their own IP stacks, for
// multi-host tests on one machine. Needs root and iproute2 (`ip`).
//
//   const pair = await createNetnsPair();          // a: 10.77.0.1, b: 10.77.0.2
//   const child = pair.b.fork(script, args);        // a node child process inside namespace b
//   pair.a.setLink(false); ... pair.a.setLink(true) // pull and replug the cable
//   await pair.cleanup();                           // kills children, deletes both namespaces
//
// Cleanup is reliable: cleanup() is idempotent, an 'exit' hook removes whatever a crashed test left,
// and every create first sweeps namespaces left by processes that no longer exist (names carry the
// creating pid). Namespaces are private IP stacks, so every pair can use the same addresses.
// This kernel has no sch_netem and no iptables binary: setLink() is the partition primitive here.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';

const PREFIX = 'vdt-';
let counter = 0;
const live = new Set<NetnsPair>();

export interface Netns {
  readonly name: string;
  /** This namespace's address on the veth link. */
  readonly ip: string;
  readonly dev: string;
  /** Runs a command inside the namespace and returns its stdout. */
  run(cmd: string, args: readonly string[]): string;
  /** Starts `node script ...args` inside the namespace with an IPC channel (like child_process.fork). */
  fork(script: string, args: readonly string[]): ChildProcess;
  /** Brings the veth end up or down (down: every packet between the namespaces is lost). */
  setLink(up: boolean): void;
}

export interface NetnsPair {
  readonly a: Netns;
  readonly b: Netns;
  cleanup(): Promise<void>;
}

function ip(args: readonly string[]): string {
  return execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

/** Why namespaces cannot be used here, or null when they can. */
export function netnsUnavailableReason(): string | null {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  if (process.getuid?.() !== 0) return 'not running as root';
  try {
    ip(['netns', 'list']);
  } catch (e) {
    return `ip netns does not work: ${(e as Error).message}`;
  }
  return null;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Deletes namespaces this helper created in processes that have since died. */
export function sweepStaleNetns(): string[] {
  const removed: string[] = [];
  for (const line of ip(['netns', 'list']).split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = /^vdt-(\d+)-\d+-[ab]$/.exec(name);
    if (!m || pidAlive(Number(m[1]))) continue;
    try {
      ip(['netns', 'del', name]);
      removed.push(name);
    } catch {
      // Someone else removed it first.
    }
  }
  return removed;
}

function deleteNamespaces(names: readonly string[]): void {
  for (const n of names) {
    try {
      ip(['netns', 'del', n]);
    } catch {
      // Already gone.
    }
  }
}

process.once('exit', () => {
  for (const p of live) deleteNamespaces([p.a.name, p.b.name]);
});

function makeNetns(name: string, dev: string, addr: string, children: Set<ChildProcess>): Netns {
  return {
    name,
    ip: addr,
    dev,
    run: (cmd, args) => ip(['netns', 'exec', name, cmd, ...args]),
    fork(script, args) {
      const child = spawn('ip', ['netns', 'exec', name, process.execPath, script, ...args], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      children.add(child);
      child.once('exit', () => children.delete(child));
      return child;
    },
    setLink(up) {
      ip(['-n', name, 'link', 'set', dev, up ? 'up' : 'down']);
    },
  };
}

export async function createNetnsPair(): Promise<NetnsPair> {
  const why = netnsUnavailableReason();
  if (why) throw new Error(`network namespaces unavailable: ${why}`);
  // Concurrent `ip netns add` calls from several processes can race on the /run/netns mount
  // (seen here as "Peer netns reference is invalid"); a fresh attempt succeeds.
  for (let attempt = 1; ; attempt++) {
    try {
      return createOnce();
    } catch (e) {
      if (attempt >= 3) throw e;
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 200));
    }
  }
}

function createOnce(): NetnsPair {
  sweepStaleNetns();
  const base = `${PREFIX}${process.pid}-${counter++}`;
  const nameA = `${base}-a`;
  const nameB = `${base}-b`;
  const children = new Set<ChildProcess>();
  try {
    ip(['netns', 'add', nameA]);
    ip(['netns', 'add', nameB]);
    // Create both ends directly inside their namespaces: no name can clash in the root namespace.
    ip(['link', 'add', 'veth0', 'netns', nameA, 'type', 'veth', 'peer', 'name', 'veth0', 'netns', nameB]);
    ip(['-n', nameA, 'addr', 'add', '10.77.0.1/30', 'dev', 'veth0']);
    ip(['-n', nameB, 'addr', 'add', '10.77.0.2/30', 'dev', 'veth0']);
    for (const n of [nameA, nameB]) {
      ip(['-n', n, 'link', 'set', 'lo', 'up']);
      ip(['-n', n, 'link', 'set', 'veth0', 'up']);
    }
  } catch (e) {
    deleteNamespaces([nameA, nameB]);
    throw new Error(`cannot create namespaces ${nameA}/${nameB}: ${(e as Error).message}`);
  }
  let cleaned = false;
  const pair: NetnsPair = {
    a: makeNetns(nameA, 'veth0', '10.77.0.1', children),
    b: makeNetns(nameB, 'veth0', '10.77.0.2', children),
    async cleanup() {
      if (cleaned) return;
      cleaned = true;
      await Promise.all(
        [...children].map(
          (c) =>
            new Promise<void>((resolve) => {
              if (c.exitCode !== null || c.signalCode !== null) return resolve();
              c.once('exit', () => resolve());
              c.kill('SIGKILL');
            }),
        ),
      );
      deleteNamespaces([nameA, nameB]);
      live.delete(pair);
    },
  };
  live.add(pair);
  return pair;
}
