// The verdant driver (`verdant://HOST:PORT,...`): the client library (runtime/client) underneath.
//
// One KvClient per `connectionsPerEndpoint` (each holds one connection per replica it talks to
// and its own sessions); operations are spread round-robin over them. Writes and linearizable
// reads go to the leader (clients find it and follow redirects), stale reads to the first replica
// of the URL that answers. Each KvClient opens as many sessions as its outstanding writes need
// (a session admits 64 writes in flight), so the generator's concurrency is not capped here.
import { KvClient, KvError } from '../../../runtime/client/index.js';
import type { LoadTarget, ReadConsistency, TargetOptions, TargetSpec } from '../target.js';
import { TargetUnreachableError } from '../target.js';
import { endpointAddress } from '../target-url.js';

export class VerdantTarget implements LoadTarget {
  readonly kind = 'verdant';
  private clients: KvClient[] = [];
  private next = 0;

  constructor(
    private readonly spec: TargetSpec,
    private readonly opts: TargetOptions,
  ) {}

  async connect(): Promise<void> {
    const token = this.opts.token ?? process.env.VERDANT_TOKEN;
    if (!token) throw new TargetUnreachableError(`${this.spec.url}: verdant needs a client token (--token-file FILE or $VERDANT_TOKEN)`);
    const endpoints = this.spec.endpoints.map(endpointAddress);
    const tls = this.opts.tlsCa !== undefined ? { tls: { ca: this.opts.tlsCa } } : {};
    // Every endpoint must answer (as the etcd driver checks each member).
    for (const e of endpoints) {
      try {
        const probe = await KvClient.connect({ endpoints: [e], token, requestTimeoutMs: this.opts.connectTimeoutMs, connectTimeoutMs: this.opts.connectTimeoutMs, ...tls });
        await probe.close();
      } catch (err) {
        throw new TargetUnreachableError(`verdant unreachable: ${e}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    for (let i = 0; i < Math.max(1, this.opts.connectionsPerEndpoint); i++) {
      this.clients.push(
        await KvClient.connect({ endpoints, token, requestTimeoutMs: this.opts.timeoutMs, connectTimeoutMs: this.opts.connectTimeoutMs, maxSessions: 1024, ...tls }),
      );
    }
  }

  private c(): KvClient {
    const c = this.clients[this.next++ % this.clients.length];
    if (!c) throw new KvError('closed', 'verdant target is not connected');
    return c;
  }

  async put(key: Uint8Array, value: Uint8Array): Promise<void> {
    await this.c().put(key, value);
  }

  async get(key: Uint8Array, consistency: ReadConsistency): Promise<Uint8Array | undefined> {
    const r = await this.c().get(key, { consistency });
    return r.entry?.value ?? undefined;
  }

  async delete(key: Uint8Array): Promise<boolean> {
    return (await this.c().delete(key)).deleted;
  }

  async cas(key: Uint8Array, expected: Uint8Array | undefined, value: Uint8Array): Promise<boolean> {
    const r = await this.c().cas(key, expected === undefined ? { kind: 'absent' } : { kind: 'value', value: expected }, value);
    return r.succeeded;
  }

  async scan(start: Uint8Array, end: Uint8Array, limit: number, consistency: ReadConsistency): Promise<number> {
    return (await this.c().scan(start, end, limit, { consistency, keysOnly: true })).entries.length;
  }

  async close(): Promise<void> {
    const cs = this.clients;
    this.clients = [];
    await Promise.all(cs.map((c) => c.close()));
  }
}
