// A fault-injecting TCP proxy for replica tests: partitions and heals at runtime, from the test.
//
// One listening port per route. A route is one direction of replica traffic: peer connections
// are one-directional for data (X sends to Y only on the connection X dialed), so configuring
// replica X to dial Y at addressOf(X, Y) routes exactly X -> Y through the proxy, and a fault on
// that route cuts X -> Y without touching Y -> X. Client routes work the same way.
//
// Faults (per route, changeable at any time):
//   pass       forward bytes as they come;
//   delay ms   forward every chunk `ms` later, in order;
//   blackhole  forward nothing and close nothing: reading stops (TCP backpressure fills the
//              sender's buffers, as in a real partition), new connections are accepted but held.
//              Healing releases everything in order; closes that happened meanwhile propagate then.
//              Bytes are never discarded mid-stream, so framing survives a heal;
//   drop       reset every connection and every new one at once: the target looks down.
//
//   const proxy = await FaultProxy.start([{ from: 1, to: 2, target: b.address }, ...]);
//   proxy.partition([1], [2, 3]); ... proxy.heal();
import net from 'node:net';

export type LinkFault =
  | { readonly kind: 'pass' }
  | { readonly kind: 'delay'; readonly ms: number }
  | { readonly kind: 'blackhole' }
  | { readonly kind: 'drop' };

export const PASS: LinkFault = { kind: 'pass' };
export const BLACKHOLE: LinkFault = { kind: 'blackhole' };
export const DROP: LinkFault = { kind: 'drop' };
export const delay = (ms: number): LinkFault => ({ kind: 'delay', ms });

export type Endpoint = number | string;

export interface ProxyRoute {
  readonly from: Endpoint;
  readonly to: Endpoint;
  readonly target: { readonly host: string; readonly port: number };
}

export interface RouteStats {
  readonly from: Endpoint;
  readonly to: Endpoint;
  readonly fault: LinkFault;
  readonly listen: { readonly host: string; readonly port: number };
  readonly accepted: number;
  readonly active: number;
  readonly resets: number;
  /** Bytes delivered from the dialer to the target and back. */
  readonly bytesForward: number;
  readonly bytesBackward: number;
}

const HIGH_WATER = 8 * 1024 * 1024;

/** One direction of one proxied connection: an ordered FIFO between two sockets. */
class Pipe {
  private readonly fifo: { at: number; chunk: Buffer }[] = [];
  private fifoBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private sinkBlocked = false;
  private paused = false;
  sourceEnded = false;
  finished = false;

  constructor(
    private readonly source: net.Socket,
    private sink: net.Socket | null,
    private readonly route: Route,
    private readonly countBytes: (n: number) => void,
  ) {}

  setSink(s: net.Socket): void {
    this.sink = s;
    this.pump();
  }

  push(chunk: Buffer): void {
    const f = this.route.fault;
    this.fifo.push({ at: f.kind === 'delay' ? Date.now() + f.ms : 0, chunk });
    this.fifoBytes += chunk.length;
    this.pump();
  }

  pump(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const sink = this.sink;
    const holding = this.route.fault.kind === 'blackhole' || sink === null || sink.connecting;
    if (!holding) {
      const now = Date.now();
      while (this.fifo.length > 0 && !this.sinkBlocked) {
        const head = this.fifo[0]!;
        if (head.at > now) {
          this.timer = setTimeout(() => this.pump(), head.at - now);
          break;
        }
        this.fifo.shift();
        this.fifoBytes -= head.chunk.length;
        this.countBytes(head.chunk.length);
        if (!sink!.write(head.chunk)) {
          this.sinkBlocked = true;
          sink!.once('drain', () => {
            this.sinkBlocked = false;
            this.pump();
          });
        }
      }
      if (this.fifo.length === 0 && this.sourceEnded && !this.finished) {
        this.finished = true;
        sink!.end();
      }
    }
    this.updateFlow();
  }

  private updateFlow(): void {
    const shouldPause = this.route.fault.kind === 'blackhole' || this.fifoBytes > HIGH_WATER || this.sinkBlocked;
    if (shouldPause && !this.paused) {
      this.paused = true;
      this.source.pause();
    } else if (!shouldPause && this.paused) {
      this.paused = false;
      this.source.resume();
    }
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.fifo.length = 0;
    this.fifoBytes = 0;
  }
}

class ProxiedConnection {
  up: net.Socket | null = null;
  readonly forward: Pipe;
  backward: Pipe | null = null;
  private dead = false;

  constructor(
    readonly down: net.Socket,
    private readonly route: Route,
  ) {
    down.setNoDelay(true);
    this.forward = new Pipe(down, null, route, (n) => (route.bytesForward += n));
    down.on('data', (c: Buffer) => this.forward.push(c));
    down.on('end', () => {
      this.forward.sourceEnded = true;
      this.forward.pump();
    });
    down.on('error', () => {});
    down.on('close', () => this.downClosed());
    if (route.fault.kind !== 'blackhole') this.connectUp();
    else this.forward.pump();
  }

  connectUp(): void {
    if (this.up || this.dead) return;
    const up = net.connect({ host: this.route.target.host, port: this.route.target.port });
    up.setNoDelay(true);
    this.up = up;
    this.backward = new Pipe(up, this.down, this.route, (n) => (this.route.bytesBackward += n));
    up.on('connect', () => this.forward.setSink(up));
    up.on('data', (c: Buffer) => this.backward!.push(c));
    up.on('end', () => {
      this.backward!.sourceEnded = true;
      this.backward!.pump();
    });
    up.on('error', () => {});
    up.on('close', () => this.upClosed());
  }

  private downClosed(): void {
    // While blackholed a close is news that has not crossed the partition yet; it propagates on heal.
    this.forward.sourceEnded = true;
    if (this.route.fault.kind !== 'blackhole') this.finish();
  }

  private upClosed(): void {
    if (this.backward) this.backward.sourceEnded = true;
    if (this.route.fault.kind !== 'blackhole') this.finish();
  }

  /** Ends the connection once both pipes have delivered what they hold. */
  private finish(): void {
    if (this.dead) return;
    this.forward.pump();
    this.backward?.pump();
    if (this.down.destroyed && (this.up === null || this.up.destroyed)) this.destroy();
    else if (this.down.destroyed) this.up?.end();
    else if (this.up?.destroyed) this.down.end();
  }

  /** The route's fault changed. */
  refresh(): void {
    if (this.dead) return;
    if (this.route.fault.kind === 'drop') {
      this.reset();
      return;
    }
    if (this.route.fault.kind !== 'blackhole') {
      if (!this.up && this.down.destroyed) {
        // The dialer gave up while held: nothing left to deliver.
        this.destroy();
        return;
      }
      if (!this.up) this.connectUp();
      if (this.down.destroyed || this.up?.destroyed) {
        this.finish();
        return;
      }
    }
    this.forward.pump();
    this.backward?.pump();
  }

  reset(): void {
    if (this.dead) return;
    this.route.resets++;
    this.down.resetAndDestroy();
    if (this.up && !this.up.connecting) this.up.resetAndDestroy();
    else this.up?.destroy();
    this.destroy();
  }

  destroy(): void {
    if (this.dead) return;
    this.dead = true;
    this.forward.dispose();
    this.backward?.dispose();
    this.down.destroy();
    this.up?.destroy();
    this.route.conns.delete(this);
  }
}

class Route {
  fault: LinkFault = PASS;
  accepted = 0;
  resets = 0;
  bytesForward = 0;
  bytesBackward = 0;
  readonly conns = new Set<ProxiedConnection>();
  readonly server: net.Server;
  listen = { host: '', port: 0 };

  constructor(
    readonly from: Endpoint,
    readonly to: Endpoint,
    public target: { host: string; port: number },
  ) {
    this.server = net.createServer((sock) => {
      this.accepted++;
      if (this.fault.kind === 'drop') {
        this.resets++;
        sock.on('error', () => {});
        sock.resetAndDestroy();
        return;
      }
      this.conns.add(new ProxiedConnection(sock, this));
    });
  }

  setFault(f: LinkFault): void {
    this.fault = f;
    for (const c of [...this.conns]) c.refresh();
  }
}

const key = (from: Endpoint, to: Endpoint) => `${from}->${to}`;

export class FaultProxy {
  private readonly routes = new Map<string, Route>();

  private constructor() {}

  /** Starts one listener per route on `host` (default 127.0.0.1), ephemeral ports. */
  static async start(routes: readonly ProxyRoute[], host = '127.0.0.1'): Promise<FaultProxy> {
    const p = new FaultProxy();
    for (const r of routes) await p.addRoute(r, host);
    return p;
  }

  /** Adds a route (e.g. for a replica started later); returns the address to dial. */
  async addRoute(r: ProxyRoute, host = '127.0.0.1'): Promise<{ host: string; port: number }> {
    const k = key(r.from, r.to);
    if (this.routes.has(k)) throw new Error(`route ${k} already exists`);
    const route = new Route(r.from, r.to, { host: r.target.host, port: r.target.port });
    await new Promise<void>((resolve, reject) => {
      route.server.once('error', reject);
      route.server.listen({ host, port: 0 }, () => {
        route.server.off('error', reject);
        const a = route.server.address() as net.AddressInfo;
        route.listen = { host: a.address, port: a.port };
        resolve();
      });
    });
    this.routes.set(k, route);
    return route.listen;
  }

  private route(from: Endpoint, to: Endpoint): Route {
    const r = this.routes.get(key(from, to));
    if (!r) throw new Error(`no proxy route ${key(from, to)}`);
    return r;
  }

  /** Where `from` must connect to reach `to` through the proxy. */
  addressOf(from: Endpoint, to: Endpoint): { host: string; port: number } {
    return this.route(from, to).listen;
  }

  /** Points a route at a new target (a restarted replica on a new port). New connections only. */
  retarget(from: Endpoint, to: Endpoint, target: { host: string; port: number }): void {
    const r = this.route(from, to);
    r.target = { host: target.host, port: target.port };
  }

  set(from: Endpoint, to: Endpoint, fault: LinkFault): void {
    this.route(from, to).setFault(fault);
  }

  faultOf(from: Endpoint, to: Endpoint): LinkFault {
    return this.route(from, to).fault;
  }

  /** Applies `fault` to every route between the two sides, both directions. */
  partition(sideA: readonly Endpoint[], sideB: readonly Endpoint[], fault: LinkFault = BLACKHOLE): void {
    const a = new Set(sideA.map(String));
    const b = new Set(sideB.map(String));
    for (const r of this.routes.values()) {
      const f = String(r.from);
      const t = String(r.to);
      if ((a.has(f) && b.has(t)) || (b.has(f) && a.has(t))) r.setFault(fault);
    }
  }

  /** Cuts `node` off from everyone (every route from or to it). */
  isolate(node: Endpoint, fault: LinkFault = BLACKHOLE): void {
    for (const r of this.routes.values()) {
      if (String(r.from) === String(node) || String(r.to) === String(node)) r.setFault(fault);
    }
  }

  /** Every route back to pass; held traffic is released in order. */
  heal(): void {
    for (const r of this.routes.values()) r.setFault(PASS);
  }

  stats(): RouteStats[] {
    return [...this.routes.values()].map((r) => ({
      from: r.from,
      to: r.to,
      fault: r.fault,
      listen: r.listen,
      accepted: r.accepted,
      active: r.conns.size,
      resets: r.resets,
      bytesForward: r.bytesForward,
      bytesBackward: r.bytesBackward,
    }));
  }

  async close(): Promise<void> {
    await Promise.all(
      [...this.routes.values()].map(
        (r) =>
          new Promise<void>((resolve) => {
            for (const c of [...r.conns]) c.destroy();
            r.server.close(() => resolve());
          }),
      ),
    );
    this.routes.clear();
  }
}
