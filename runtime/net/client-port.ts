// The server side of the client port: token-authenticated, framed, pipelined request/response.
//
//   const port = await ClientPortServer.start({ token, codecs, onRequest(session, id, req) {
//     ... later, in any order: session.respond(id, res) or session.fail(id, 'message')
//   }});
//
// The request/response schema is the replica's business (pluggable codecs); this module only
// authenticates the connection, frames, correlates and bounds it:
//   - the first frame must be a ClientHello whose token matches (SHA-256 + timingSafeEqual, so
//     neither content nor length leaks through timing); anything else is refused and counted;
//   - at most `maxInFlight` unanswered requests per connection: beyond that the server stops
//     reading the socket until answers go out, which pushes back on the client through TCP;
//   - responses go through a bounded, coalescing SendQueue; a client that stops reading until that
//     queue is full is disconnected (dropping a response silently would leave it waiting forever).
import net from 'node:net';
import tls from 'node:tls';
import type { MessageCodec } from '../protocols/api.js';
import { ByteReader, ByteWriter, DecodeError } from '../common/bytes.js';
import { encodeMessageInto } from './codec.js';
import { readClientHello, writeClientWelcome } from './client-wire.js';
import { DEFAULT_MAX_FRAME_BYTES, FrameDecoder, FrameKind, HANDSHAKE_MAX_FRAME_BYTES, beginFrame, endFrame } from './frame.js';
import { CLIENT_PROTOCOL_VERSION, tokenDigest, tokenMatches, writeReject, type RefuseReason } from './handshake.js';
import { RateLimitedLog, stderrLogger, type NetLogger } from './logger.js';
import { SendQueue } from './send-queue.js';
import { listenOn } from './listen.js';

export interface ClientCodecs<Req, Res> {
  readonly request: MessageCodec<Req>;
  readonly response: MessageCodec<Res>;
}

export interface ClientPortLimits {
  readonly maxFrameBytes: number;
  /** Per-connection bound on queued response bytes; a client that lets it fill is disconnected. */
  readonly maxQueueBytes: number;
  /** Unanswered requests per connection before the server stops reading from it. */
  readonly maxInFlight: number;
  readonly handshakeTimeoutMs: number;
  /** Authenticated and pending connections together. */
  readonly maxConnections: number;
  readonly flushBytes: number;
}

export const DEFAULT_CLIENT_PORT_LIMITS: ClientPortLimits = {
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  maxQueueBytes: 64 * 1024 * 1024,
  maxInFlight: 4096,
  handshakeTimeoutMs: 5_000,
  maxConnections: 4096,
  flushBytes: 256 * 1024,
};

export interface ClientPortOptions<Req, Res> {
  /** Accepted token(s); several allow rotation. A string is taken as its UTF-8 bytes. */
  readonly token: string | Uint8Array | readonly (string | Uint8Array)[];
  readonly codecs: ClientCodecs<Req, Res>;
  /** Defaults to 127.0.0.1 and an ephemeral port. */
  readonly listen?: { readonly host?: string; readonly port?: number };
  /** Sent to clients in the welcome frame (0 when not a replica). */
  readonly replicaId?: number;
  readonly onRequest: (session: ClientSession<Res>, id: number, req: Req) => void;
  readonly onSession?: (session: ClientSession<Res>, open: boolean) => void;
  readonly limits?: Partial<ClientPortLimits>;
  /** Server-authenticated TLS for the client port (clients then need the CA). */
  readonly tls?: { readonly key: string | Buffer; readonly cert: string | Buffer };
  readonly log?: NetLogger;
}

export interface ClientPortStats {
  readonly active: number;
  readonly accepted: number;
  readonly refused: Readonly<Partial<Record<RefuseReason, number>>>;
  readonly requests: number;
  readonly responses: number;
  readonly errorResponses: number;
  /** Requests whose payload the request codec could not decode (answered with an error). */
  readonly malformedRequests: number;
  /** Connections closed for a framing error (oversize or zero length). */
  readonly framingErrors: number;
  /** Connections closed because the client stopped reading responses. */
  readonly slowClientsClosed: number;
  /** respond()/fail() calls for a connection that was already gone. */
  readonly lateResponses: number;
  /** Times reading from a connection paused because of maxInFlight. */
  readonly readPauses: number;
}

type MutableStats = { -readonly [K in keyof ClientPortStats]: ClientPortStats[K] } & { refused: Partial<Record<RefuseReason, number>> };

let nextSessionId = 1;

/** One authenticated client connection, as seen by the request handler. */
export class ClientSession<Res> {
  readonly sessionId = nextSessionId++;
  readonly remote: string;
  /** Requests received and not yet answered. */
  inFlight = 0;
  private queue: SendQueue | null = null;
  private paused = false;
  private open = false;

  constructor(
    private readonly socket: net.Socket,
    private readonly server: ClientPortServer<unknown, Res>,
  ) {
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`;
  }

  get isOpen(): boolean {
    return this.open;
  }

  /** @internal */
  activate(queue: SendQueue): void {
    this.queue = queue;
    this.open = true;
  }

  /** @internal */
  deactivate(): void {
    this.open = false;
    this.queue?.close();
    this.queue = null;
  }

  /** @internal Called for each request: counts it and stops reading when too many are open. */
  requestArrived(maxInFlight: number, stats: MutableStats): void {
    this.inFlight++;
    if (!this.paused && this.inFlight >= maxInFlight) {
      this.paused = true;
      stats.readPauses++;
      this.socket.pause();
    }
  }

  /** @internal True while reading is stopped at maxInFlight. */
  get readingPaused(): boolean {
    return this.paused;
  }

  /** @internal Restarts reading (socket and the frames already received but not yet handled). */
  resumeReading: () => void = () => {};

  private answered(): void {
    if (this.inFlight > 0) this.inFlight--;
    if (this.paused && this.inFlight <= this.server.limits.maxInFlight / 2) {
      this.paused = false;
      this.resumeReading();
    }
  }

  /** Sends the response to request `id`. Returns false if the connection is gone. */
  respond(id: number, res: Res): boolean {
    return this.send(FrameKind.Response, id, res, null);
  }

  /** Answers request `id` with an error message (the client's promise rejects with it). */
  fail(id: number, message: string): boolean {
    return this.send(FrameKind.ErrorResponse, id, undefined, message);
  }

  private send(kind: number, id: number, res: Res | undefined, message: string | null): boolean {
    const stats = this.server.mutableStats;
    const q = this.queue;
    if (!this.open || q === null) {
      stats.lateResponses++;
      return false;
    }
    const w = q.begin(kind);
    try {
      w.varint(id);
      if (message !== null) w.string(message);
      else encodeMessageInto(this.server.codecs.response, res as Res, w);
    } catch (e) {
      q.abort();
      this.server.logger.log.error({ remote: this.remote, error: (e as Error).message }, 'response codec failed; answering with an error');
      if (message === null) return this.send(FrameKind.ErrorResponse, id, undefined, 'internal error: response could not be encoded');
      return false;
    }
    const r = q.commit();
    if (r === 'too-large') {
      return this.send(FrameKind.ErrorResponse, id, undefined, 'response exceeds the maximum frame size');
    }
    if (r === 'full') {
      stats.slowClientsClosed++;
      this.server.logger.warn(`slow:${this.remote}`, { remote: this.remote, queuedBytes: q.queuedBytes }, 'client stopped reading responses; closing its connection');
      this.close();
      return false;
    }
    if (kind === FrameKind.Response) stats.responses++;
    else stats.errorResponses++;
    this.answered();
    return true;
  }

  close(): void {
    this.socket.destroy();
  }
}

export class ClientPortServer<Req, Res> {
  readonly limits: ClientPortLimits;
  readonly codecs: ClientCodecs<Req, Res>;
  /** @internal */
  readonly logger: RateLimitedLog;
  /** @internal */
  readonly mutableStats: MutableStats = {
    active: 0,
    accepted: 0,
    refused: {},
    requests: 0,
    responses: 0,
    errorResponses: 0,
    malformedRequests: 0,
    framingErrors: 0,
    slowClientsClosed: 0,
    lateResponses: 0,
    readPauses: 0,
  };
  private readonly digests: Buffer[];
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private bound: { host: string; port: number } | null = null;

  static async start<Req, Res>(opts: ClientPortOptions<Req, Res>): Promise<ClientPortServer<Req, Res>> {
    const s = new ClientPortServer(opts);
    await s.listen();
    return s;
  }

  private constructor(private readonly opts: ClientPortOptions<Req, Res>) {
    this.limits = { ...DEFAULT_CLIENT_PORT_LIMITS, ...opts.limits };
    this.codecs = opts.codecs;
    this.logger = new RateLimitedLog(opts.log ?? stderrLogger);
    const tokens = Array.isArray(opts.token) ? opts.token : [opts.token as string | Uint8Array];
    if (tokens.length === 0) throw new RangeError('client port needs at least one token');
    for (const t of tokens) {
      const n = typeof t === 'string' ? Buffer.byteLength(t) : t.length;
      if (n < 16 || n > 256) throw new RangeError(`client tokens must be 16..256 bytes, got ${n}`);
    }
    this.digests = tokens.map((t) => tokenDigest(t));
    const onSocket = (sock: net.Socket) => this.accept(sock);
    this.server = opts.tls ? tls.createServer({ key: opts.tls.key, cert: opts.tls.cert, minVersion: 'TLSv1.3' }, onSocket) : net.createServer(onSocket);
    if (opts.tls) {
      (this.server as tls.Server).on('tlsClientError', (err, sock) => {
        this.countRefused('tls-failed', `${sock.remoteAddress}:${sock.remotePort}`, err.message);
      });
    }
  }

  private async listen(): Promise<void> {
    this.bound = await listenOn(this.server, this.opts.listen, 'for clients', (e) => this.logger.log.error({ error: e.message }, 'client listener error'));
  }

  get address(): { host: string; port: number } {
    if (!this.bound) throw new Error('client port is not listening');
    return this.bound;
  }

  stats(): ClientPortStats {
    return { ...this.mutableStats, refused: { ...this.mutableStats.refused } };
  }

  private countRefused(reason: RefuseReason, remote: string, detail: string): void {
    this.mutableStats.refused[reason] = (this.mutableStats.refused[reason] ?? 0) + 1;
    this.logger.warn(`refused:${reason}`, { remote, reason, detail }, 'refused a client connection');
  }

  private accept(sock: net.Socket): void {
    const remote = `${sock.remoteAddress}:${sock.remotePort}`;
    if (this.sockets.size >= this.limits.maxConnections) {
      this.countRefused('busy', remote, `${this.sockets.size} connections open`);
      sock.destroy();
      return;
    }
    this.sockets.add(sock);
    sock.setNoDelay(true);
    const stats = this.mutableStats;
    const limits = this.limits;
    const session = new ClientSession<Res>(sock, this as unknown as ClientPortServer<unknown, Res>);
    const decoder = new FrameDecoder(HANDSHAKE_MAX_FRAME_BYTES);
    const reader = new ByteReader();
    let authed = false;
    let done = false;
    const timer = setTimeout(() => refuse('timeout', `no hello within ${limits.handshakeTimeoutMs} ms`), limits.handshakeTimeoutMs);

    const refuse = (reason: RefuseReason, detail: string): false => {
      if (done) return false;
      done = true;
      clearTimeout(timer);
      this.countRefused(reason, remote, detail);
      const w = new ByteWriter(16);
      const start = beginFrame(w, FrameKind.ClientReject);
      writeReject(w, reason, CLIENT_PROTOCOL_VERSION, CLIENT_PROTOCOL_VERSION);
      endFrame(w, start);
      sock.end(w.toBytes());
      setTimeout(() => sock.destroy(), 1_000).unref();
      return false;
    };

    const onHello = (kind: number, body: Buffer): boolean => {
      if (kind !== FrameKind.ClientHello) return refuse('malformed', `expected hello, got frame kind 0x${kind.toString(16)}`);
      let hello;
      try {
        hello = readClientHello(body);
      } catch (e) {
        return refuse('malformed', (e as Error).message);
      }
      if (!hello.magicOk) return refuse('bad-magic', 'not a verdant client');
      if (hello.version !== CLIENT_PROTOCOL_VERSION) return refuse('bad-version', `version ${hello.version}`);
      // Compare against every accepted token so the time taken does not depend on which matched.
      let ok = false;
      for (const d of this.digests) ok = tokenMatches(d, hello.token) || ok;
      if (!ok) return refuse('bad-token', 'wrong client token');
      clearTimeout(timer);
      authed = true;
      decoder.maxFrameBytes = limits.maxFrameBytes;
      const queue = new SendQueue(sock, {
        maxQueueBytes: limits.maxQueueBytes,
        congestionBytes: limits.maxQueueBytes,
        maxFrameBytes: limits.maxFrameBytes,
        flushBytes: limits.flushBytes,
        batching: true,
      });
      const w = queue.begin(FrameKind.ClientWelcome);
      writeClientWelcome(w, { version: CLIENT_PROTOCOL_VERSION, replicaId: this.opts.replicaId ?? 0, maxFrameBytes: limits.maxFrameBytes });
      queue.commit();
      session.activate(queue);
      stats.accepted++;
      stats.active++;
      this.opts.onSession?.(session, true);
      return true;
    };

    const onRequest = (kind: number, body: Buffer): boolean => {
      if (kind !== FrameKind.Request) {
        stats.framingErrors++;
        this.logger.warn(`client-kind:${remote}`, { remote, kind }, 'closing client connection: unexpected frame kind');
        sock.destroy();
        return false;
      }
      reader.reset(body);
      let id: number;
      try {
        id = reader.varintMax(0xffff_ffff, 'request id');
      } catch (e) {
        // Without an id nothing can be answered: the client library is broken; hang up on it.
        stats.malformedRequests++;
        this.logger.warn(`client-frame:${remote}`, { remote, error: (e as Error).message }, 'closing client connection: request frame without a valid id');
        sock.destroy();
        return false;
      }
      stats.requests++;
      session.requestArrived(limits.maxInFlight, stats);
      let req: Req;
      try {
        req = this.codecs.request.decode(body.subarray(reader.pos));
      } catch (e) {
        stats.malformedRequests++;
        session.fail(id, `malformed request: ${(e as Error).message}`);
        return true;
      }
      try {
        this.opts.onRequest(session, id, req);
      } catch (e) {
        this.logger.log.error({ remote, error: (e as Error).stack ?? String(e) }, 'client request handler threw');
        session.fail(id, 'internal error');
      }
      // At the in-flight limit, stop even within this chunk; the rest waits in the decoder.
      return !session.readingPaused;
    };

    const onFrame = (kind: number, body: Buffer): boolean => (authed ? onRequest(kind, body) : onHello(kind, body));

    const afterPush = (err: ReturnType<FrameDecoder['push']>): void => {
      if (err) {
        const detail = err.code === 'oversize' ? `frame of ${err.length} bytes exceeds limit ${err.limit}` : 'zero-length frame';
        if (!authed) {
          refuse('malformed', detail);
        } else {
          stats.framingErrors++;
          this.logger.warn(`client-framing:${remote}`, { remote, error: err.code }, `closing client connection: ${detail}`);
          sock.destroy();
        }
      }
    };
    sock.on('data', (chunk: Buffer) => {
      if (done && !authed) return;
      afterPush(decoder.push(chunk, onFrame));
    });
    session.resumeReading = () => {
      if (sock.destroyed) return;
      sock.resume();
      afterPush(decoder.resume(onFrame));
    };
    sock.on('error', () => {});
    sock.on('close', () => {
      clearTimeout(timer);
      this.sockets.delete(sock);
      if (authed) {
        stats.active--;
        session.deactivate();
        this.opts.onSession?.(session, false);
      }
    });
  }

  /** Stops accepting and closes every client connection. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}
