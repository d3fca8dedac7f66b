// The KV client library.
//
//   const kv = await KvClient.connect({ endpoints: ['127.0.0.1:7101', '127.0.0.1:7102'], token });
//   await kv.put('k', 'v');
//   const { entry } = await kv.get('k');                      // linearizable (ReadIndex)
//   const { entry } = await kv.get('k', { consistency: 'stale' });
//   await kv.close();
//
// - Any list of replicas: writes and linearizable reads go to the leader (learned from the first
//   replica that answers); a redirect (not the leader) or a "retry" (leader changed, no leader yet)
//   moves the client on; a dead connection makes it try the next replica, with a short backoff,
//   until the operation's deadline. Stale reads and info go to the first endpoint that answers,
//   so a client can read from a replica of its choice.
// - Pipelining: every operation is an independent request on one connection per replica; any
//   number may be outstanding (the server batches what arrives together into one log entry).
// - Exactly-once writes: writes go through client sessions (runtime/service ClientSession). A
//   retried write carries the same (session, seq), so the state machine applies it once and
//   answers retries from its cache. A session admits `window` outstanding writes; more concurrency
//   opens more sessions (up to maxSessions), beyond that writes wait for a free slot.
// - Timeouts: each operation has a deadline (requestTimeoutMs). A write that misses it rejects with
//   code 'timeout': it was applied at most once, maybe not at all. Its session is then retired
//   (its window would never drain past the unanswered seq). 'unavailable' only when no attempt
//   reached a replica (the write had no effect). A connection silent for silenceTimeoutMs with
//   requests outstanding is dropped and those requests retried elsewhere before their deadline.
import { ByteReader } from '../common/bytes.js';
import { ClientChannel, ClientChannelError } from '../net/index.js';
import {
  ClientSession,
  CommandKind,
  Consistency,
  decodeKvCommandResult,
  decodeKvQueryResult,
  decodeResult,
  encodeCommand,
  encodeKvCommand,
  encodeKvQuery,
  encodeQuery,
  ResultStatus,
  resultStatusName,
  type KvCommand,
  type KvCommandResult,
  type KvCompare,
  type KvEntry,
  type KvQuery,
  type KvQueryResult,
} from '../service/index.js';
import { KvError } from './errors.js';
import { RequestType, ResponseType, requestCodec, responseCodec, type ClientRequest, type ClientResponse, type ReplicaInfo } from './protocol.js';

export type Bytes = Uint8Array | string;
export type ReadConsistency = 'linearizable' | 'stale';

export interface KvClientOptions {
  /** Replicas' client addresses, `host:port` (any subset of the cluster; the leader is found). */
  readonly endpoints: readonly (string | { readonly host: string; readonly port: number })[];
  /** Client token (16..256 bytes). */
  readonly token: string;
  /** Deadline of one operation, retries included (default 10 s). */
  readonly requestTimeoutMs?: number;
  /** Deadline of one connection attempt (default 2 s). */
  readonly connectTimeoutMs?: number;
  /**
   * A connection with requests outstanding that has received nothing for this long is taken for
   * dead (the replica's host dropped off the network) and its requests are retried elsewhere
   * (writes with their session seq: still applied at most once). Default: a third of
   * requestTimeoutMs, at least 1 s. 0: off (such requests wait for their deadline).
   */
  readonly silenceTimeoutMs?: number;
  /** Sessions this client may open for concurrent writes (default 8). */
  readonly maxSessions?: number;
  /**
   * false: writes carry no session (no deduplication: a write retried after a lost answer may
   * apply twice). For one-shot tools that cannot afford the extra round trip. Default true.
   */
  readonly sessions?: boolean;
  /**
   * The replicas serve their client port over TLS (config tls.clientPort): verify each replica's
   * certificate against this CA (PEM) and the host dialled (endpoints and redirect addresses).
   */
  readonly tls?: { readonly ca: string | Buffer };
}

interface Target {
  readonly key: string;
  readonly host: string;
  readonly port: number;
}

type Channel = ClientChannel<ClientRequest, ClientResponse>;

interface SessionSlot {
  readonly s: ClientSession;
  dead: boolean;
}

const enc = new TextEncoder();
const toBytes = (b: Bytes): Uint8Array => (typeof b === 'string' ? enc.encode(b) : b);

function parseTarget(e: string | { host: string; port: number }): Target {
  if (typeof e !== 'string') return { key: `${e.host}:${e.port}`, host: e.host, port: e.port };
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(e.trim());
  if (!m) throw new KvError('invalid', `endpoint ${JSON.stringify(e)} is not host:port`);
  const host = (m[1] ?? m[2])!;
  return { key: e.trim(), host, port: Number(m[3]) };
}

export interface ClientStats {
  requests: number;
  redirects: number;
  retries: number;
  reconnects: number;
  sessionsOpened: number;
}

export class KvClient {
  private readonly targets: Target[];
  private readonly channels = new Map<string, Promise<Channel>>();
  private leader: Target | null = null;
  private rr = 0;
  /** Where requests that need no leader go (stale reads, info): the first endpoint that answers. */
  private home = 0;
  private window = 64;
  private readonly sessions: SessionSlot[] = [];
  /** Sessions being opened right now (several at once when many writes wait). */
  private opening = 0;
  private readonly slotWaiters: (() => void)[] = [];
  private closed = false;
  private nonce = Math.floor(Math.random() * 2 ** 40) + 1;
  readonly stats: ClientStats = { requests: 0, redirects: 0, retries: 0, reconnects: 0, sessionsOpened: 0 };

  private constructor(private readonly opts: KvClientOptions) {
    if (opts.endpoints.length === 0) throw new KvError('invalid', 'at least one endpoint is needed');
    this.targets = opts.endpoints.map(parseTarget);
  }

  /** Connects to the first reachable replica and learns the leader and the session window. */
  static async connect(opts: KvClientOptions): Promise<KvClient> {
    const c = new KvClient(opts);
    await c.info();
    return c;
  }

  // ---------------------------------------------------------------- operations

  async put(key: Bytes, value: Bytes, o: { prevKv?: boolean } = {}): Promise<{ revision: number; prev: KvEntry | null }> {
    const r = await this.command({ op: 'put', key: toBytes(key), value: toBytes(value), ...(o.prevKv ? { prevKv: true } : {}) });
    if (r.op !== 'put') throw new KvError('invalid', `unexpected ${r.op} result for put`);
    return { revision: r.revision, prev: r.prev };
  }

  async delete(key: Bytes, o: { prevKv?: boolean } = {}): Promise<{ revision: number; deleted: boolean; prev: KvEntry | null }> {
    const r = await this.command({ op: 'delete', key: toBytes(key), ...(o.prevKv ? { prevKv: true } : {}) });
    if (r.op !== 'delete') throw new KvError('invalid', `unexpected ${r.op} result for delete`);
    return { revision: r.revision, deleted: r.deleted, prev: r.prev };
  }

  /**
   * Compare-and-set: if `compare` holds, set `value` (or delete the key when value is null).
   * compare: { kind: 'absent' } | { kind: 'value', value } | { kind: 'mod-revision', revision }.
   */
  async cas(key: Bytes, compare: KvCompare | { kind: 'value'; value: Bytes }, value: Bytes | null): Promise<{ succeeded: boolean; revision: number; current: KvEntry | null }> {
    const cmp: KvCompare = compare.kind === 'value' ? { kind: 'value', value: toBytes(compare.value) } : compare;
    const r = await this.command({ op: 'cas', key: toBytes(key), compare: cmp, value: value === null ? null : toBytes(value) });
    if (r.op !== 'cas') throw new KvError('invalid', `unexpected ${r.op} result for cas`);
    return { succeeded: r.succeeded, revision: r.revision, current: r.current };
  }

  async get(key: Bytes, o: { consistency?: ReadConsistency } = {}): Promise<{ revision: number; entry: KvEntry | null }> {
    const r = await this.query({ op: 'get', key: toBytes(key) }, o.consistency ?? 'linearizable');
    if (r.op !== 'get') throw new KvError('invalid', `unexpected ${r.op} result for get`);
    return { revision: r.revision, entry: r.entry };
  }

  /** Keys in [start, end) (end null: no bound), at most `limit`; `more` says whether some remain. */
  async scan(start: Bytes, end: Bytes | null, limit: number, o: { consistency?: ReadConsistency; keysOnly?: boolean } = {}): Promise<{ revision: number; entries: KvEntry[]; more: boolean }> {
    const r = await this.query({ op: 'scan', start: toBytes(start), end: end === null ? null : toBytes(end), limit, ...(o.keysOnly ? { keysOnly: true } : {}) }, o.consistency ?? 'linearizable');
    if (r.op !== 'scan') throw new KvError('invalid', `unexpected ${r.op} result for scan`);
    return { revision: r.revision, entries: r.entries, more: r.more };
  }

  /** Asks any replica who it is and who leads; updates the client's leader guess. */
  async info(): Promise<ReplicaInfo> {
    const deadline = Date.now() + this.timeoutMs();
    const res = await this.exec(() => ({ type: RequestType.Info }), false, deadline);
    if (res.type !== ResponseType.Info) throw new KvError('invalid', 'unexpected answer to info');
    this.window = res.window;
    if (res.leaderAddress) this.leader = this.targetFor(res.leaderAddress);
    return res;
  }

  /** The replica currently believed to lead (host:port), or null. */
  get leaderAddress(): string | null {
    return this.leader?.key ?? null;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.channels.values()) p.then((ch) => ch.close(), () => undefined);
    this.channels.clear();
    for (const w of this.slotWaiters.splice(0)) w();
  }

  // ---------------------------------------------------------------- writes and sessions

  private timeoutMs(): number {
    return this.opts.requestTimeoutMs ?? 10_000;
  }

  private async command(cmd: KvCommand): Promise<KvCommandResult> {
    let body: Uint8Array;
    try {
      body = encodeKvCommand(cmd);
    } catch (e) {
      throw new KvError('invalid', (e as Error).message);
    }
    const deadline = Date.now() + this.timeoutMs();
    if (this.opts.sessions === false) {
      const command = encodeCommand({ kind: CommandKind.Service, client: 0, seq: this.nonce++, body });
      const res = await this.execWrite(() => command, deadline);
      return decodeKvCommandResult(this.okBody(res, 'write'));
    }
    for (let fresh = 0; ; fresh++) {
      const { slot, seq, command } = await this.acquireSlot(deadline, body);
      let attempts = 0;
      let res: Uint8Array;
      try {
        res = await this.execWrite(() => (attempts++ === 0 ? command : slot.s.retry(seq, body)), deadline);
      } catch (e) {
        // Unanswered: the seq stays outstanding forever, so this session's window can never
        // move past it. Retire the session (the server expires it).
        this.retire(slot);
        throw e;
      }
      const d = decodeResult(res);
      if (d.status === ResultStatus.UnknownSession) {
        this.retire(slot);
        // Not applied. If this was the first attempt nothing happened at all: redo it in a new
        // session. After a retry an earlier attempt may have been applied before the session went.
        if (attempts <= 1 && fresh < 3) continue;
        throw new KvError('outcome-unknown', 'the session expired while the write was being retried; it may have been applied once');
      }
      slot.s.answered(seq);
      this.wakeSlotWaiter();
      if (d.status === ResultStatus.Ok) return decodeKvCommandResult(d.body);
      if (d.status === ResultStatus.AppliedResultDropped) throw new KvError('outcome-unknown', 'the write was applied once, but its result was too large to keep for the retry');
      throw new KvError('invalid', `write failed: ${resultStatusName(d.status)}${d.status === ResultStatus.Malformed ? `: ${d.message}` : ''}`);
    }
  }

  private retire(slot: SessionSlot): void {
    if (slot.dead) return;
    slot.dead = true;
    const i = this.sessions.indexOf(slot);
    if (i >= 0) this.sessions.splice(i, 1);
    this.wakeSlotWaiter();
  }

  private wakeSlotWaiter(): void {
    const w = this.slotWaiters.shift();
    if (w) w();
  }

  /** Numbers the write in a session with room (synchronously with the check, so no race). */
  private async acquireSlot(deadline: number, body: Uint8Array): Promise<{ slot: SessionSlot; seq: number; command: Uint8Array }> {
    const max = this.opts.maxSessions ?? 8;
    for (;;) {
      if (this.closed) throw new KvError('closed', 'the client is closed');
      for (const slot of this.sessions) {
        if (!slot.dead && slot.s.canSend()) return { slot, ...slot.s.next(body) };
      }
      // Open another session when the ones being opened will not be enough for the writes waiting
      // (each admits `window`). The writer that opens it waits for it, so an error reaches it.
      if (this.sessions.length + this.opening < max && this.opening * this.window <= this.slotWaiters.length) {
        this.opening++;
        try {
          await this.openSession(deadline);
        } finally {
          this.opening--;
          for (const w of this.slotWaiters.splice(0)) w();
        }
        continue;
      }
      if (Date.now() >= deadline) throw new KvError('timeout', 'no session slot became free before the deadline (too many writes outstanding)');
      await new Promise<void>((resolve) => {
        this.slotWaiters.push(resolve);
        setTimeout(resolve, Math.max(1, deadline - Date.now())).unref();
      });
    }
  }

  private async openSession(deadline: number): Promise<void> {
    const command = encodeCommand({ kind: CommandKind.OpenSession, client: 0, seq: this.nonce++ });
    const res = await this.execWrite(() => command, deadline);
    const id = new ByteReader(this.okBody(res, 'open session'), 'open session result').varint('client id');
    this.sessions.push({ s: new ClientSession(id, this.window), dead: false });
    this.stats.sessionsOpened++;
  }

  private okBody(res: Uint8Array, what: string): Uint8Array {
    const d = decodeResult(res);
    if (d.status === ResultStatus.Ok) return d.body;
    throw new KvError('invalid', `${what} failed: ${resultStatusName(d.status)}${d.status === ResultStatus.Malformed ? `: ${d.message}` : ''}`);
  }

  private async execWrite(command: () => Uint8Array, deadline: number): Promise<Uint8Array> {
    // Re-built per attempt: a retry carries the session's latest acknowledgement.
    const res = await this.exec(() => ({ type: RequestType.Write, command: command() }), true, deadline);
    if (res.type !== ResponseType.Ok) throw new KvError('invalid', 'unexpected answer to a write');
    return res.result;
  }

  // ---------------------------------------------------------------- reads

  private async query(q: KvQuery, consistency: ReadConsistency): Promise<KvQueryResult> {
    let query: Uint8Array;
    try {
      query = encodeQuery(consistency === 'stale' ? Consistency.Stale : Consistency.Linearizable, encodeKvQuery(q));
    } catch (e) {
      throw new KvError('invalid', (e as Error).message);
    }
    const req: ClientRequest = { type: RequestType.Read, query };
    const res = await this.exec(() => req, consistency === 'linearizable', Date.now() + this.timeoutMs());
    if (res.type !== ResponseType.Ok) throw new KvError('invalid', 'unexpected answer to a read');
    return decodeKvQueryResult(this.okBody(res.result, 'read'));
  }

  // ---------------------------------------------------------------- transport, leader, retries

  private targetFor(address: string): Target {
    return this.targets.find((t) => t.key === address) ?? parseTarget(address);
  }

  private nextTarget(): Target {
    const t = this.targets[this.rr % this.targets.length]!;
    this.rr++;
    return t;
  }

  private channel(t: Target, deadline: number): Promise<Channel> {
    let p = this.channels.get(t.key);
    if (p) return p;
    this.stats.reconnects++;
    p = ClientChannel.connect<ClientRequest, ClientResponse>({
      host: t.host,
      port: t.port,
      token: this.opts.token,
      codecs: { request: requestCodec, response: responseCodec },
      connectTimeoutMs: Math.max(50, Math.min(this.opts.connectTimeoutMs ?? 2000, deadline - Date.now())),
      requestTimeoutMs: this.timeoutMs(),
      silenceTimeoutMs: this.opts.silenceTimeoutMs ?? Math.max(1000, Math.round(this.timeoutMs() / 3)),
      ...(this.opts.tls ? { tls: { ca: this.opts.tls.ca } } : {}),
      onClose: () => {
        if (this.channels.get(t.key) === p) this.channels.delete(t.key);
      },
    });
    this.channels.set(t.key, p);
    p.catch(() => {
      if (this.channels.get(t.key) === p) this.channels.delete(t.key);
    });
    return p;
  }

  /**
   * Sends the request `build` makes until a final answer: to the leader when `leader` (writes, linearizable reads),
   * else to whichever replica this client talks to. Follows redirects, retries elsewhere on
   * connection loss and transient refusals, gives up at the deadline.
   */
  private async exec(build: () => ClientRequest, leader: boolean, deadline: number): Promise<ClientResponse> {
    let backoff = 10;
    let lastError = 'no attempt';
    /** An attempt reached a replica without a definite "not done" (a write may have been applied). */
    let maybeDone = false;
    for (let attempt = 0; ; attempt++) {
      if (this.closed) throw new KvError('closed', 'the client is closed');
      const left = deadline - Date.now();
      if (left <= 0) {
        if (maybeDone || attempt === 0 || !lastError.startsWith('unreachable')) throw new KvError('timeout', `no answer before the deadline${maybeDone ? ' (an attempt was sent: a write may have been applied once)' : ''} (last: ${lastError})`);
        throw new KvError('unavailable', `no replica reachable before the deadline (last: ${lastError})`);
      }
      const target = leader ? (this.leader ?? this.nextTarget()) : this.targets[this.home % this.targets.length]!;
      let ch: Channel;
      try {
        ch = await this.channel(target, deadline);
      } catch (e) {
        if (e instanceof ClientChannelError && e.code === 'refused') throw new KvError('refused', e.message);
        lastError = `unreachable ${target.key}: ${(e as Error).message}`;
        if (this.leader === target) this.leader = null;
        if (!leader) this.home++;
        if (attempt % this.targets.length === this.targets.length - 1) await sleep(Math.min(backoff, left), (backoff = Math.min(backoff * 2, 500)));
        continue;
      }
      let res: ClientResponse;
      try {
        this.stats.requests++;
        res = await ch.request(build(), Math.max(1, deadline - Date.now()));
      } catch (e) {
        if (!(e instanceof ClientChannelError)) throw e;
        if (e.code === 'refused') throw new KvError('refused', e.message);
        if (e.code === 'too-large' || e.code === 'encode') throw new KvError('invalid', e.message);
        if (e.code === 'remote') throw new KvError('invalid', e.message);
        // closed / timeout / queue-full: the replica may be gone or partitioned; try another.
        lastError = `${e.code} from ${target.key}: ${e.message}`;
        if (e.code !== 'queue-full') maybeDone = true;
        if (e.code !== 'queue-full') {
          this.channels.delete(target.key);
          ch.close();
        }
        if (this.leader === target) this.leader = null;
        if (!leader) this.home++;
        this.stats.retries++;
        await sleep(Math.min(backoff, Math.max(0, deadline - Date.now())), (backoff = Math.min(backoff * 2, 500)));
        continue;
      }
      switch (res.type) {
        case ResponseType.Redirect:
          this.stats.redirects++;
          this.leader = this.targetFor(res.address);
          lastError = `redirected to ${res.address}`;
          continue;
        case ResponseType.Retry:
          // Some retries come after the write was proposed (the replica's own deadline passed).
          maybeDone = true;
          this.stats.retries++;
          lastError = `retry: ${res.reason}`;
          this.leader = res.address ? this.targetFor(res.address) : leader ? null : this.leader;
          if (!res.address || res.address === target.key) {
            await sleep(Math.min(backoff, Math.max(0, deadline - Date.now())), (backoff = Math.min(backoff * 2, 500)));
          }
          continue;
        case ResponseType.Error:
          throw new KvError('invalid', res.message);
        default:
          if (!this.leader && leader) this.leader = target;
          return res;
      }
    }
  }
}

function sleep(ms: number, _next?: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
