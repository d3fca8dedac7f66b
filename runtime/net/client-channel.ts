// The client side of the client port: one authenticated connection that pipelines requests.
//
//   const ch = await ClientChannel.connect({ host, port, token, codecs });
//   const [a, b] = await Promise.all([ch.request(x), ch.request(y)]);   // answered in any order
//   ch.close();
//
// Requests are batched into one socket.write per event-loop turn. Every request has a deadline;
// one sweep timer (not a timer per request) rejects the late ones. When the connection drops,
// every outstanding request rejects with code 'closed' so the caller (the client library, which
// owns leader discovery and retries) can retry elsewhere.
import net from 'node:net';
import tls from 'node:tls';
import { ByteReader, ByteWriter, DecodeError } from '../common/bytes.js';
import { encodeMessageInto } from './codec.js';
import type { ClientCodecs } from './client-port.js';
import { readClientWelcome, writeClientHello, type ClientWelcome } from './client-wire.js';
import { DEFAULT_MAX_FRAME_BYTES, FrameDecoder, FrameKind, HANDSHAKE_MAX_FRAME_BYTES, beginFrame, endFrame } from './frame.js';
import { CLIENT_PROTOCOL_VERSION, readReject, type RefuseReason } from './handshake.js';
import { SendQueue } from './send-queue.js';

export type ClientErrorCode = 'refused' | 'connect' | 'closed' | 'timeout' | 'remote' | 'too-large' | 'queue-full' | 'encode';

export class ClientChannelError extends Error {
  readonly code: ClientErrorCode;
  /** For 'refused': why the server refused the connection. */
  readonly reason: RefuseReason | undefined;
  constructor(code: ClientErrorCode, message: string, reason?: RefuseReason) {
    super(message);
    this.name = 'ClientChannelError';
    this.code = code;
    this.reason = reason;
  }
}

export interface ClientChannelOptions<Req, Res> {
  readonly host: string;
  readonly port: number;
  readonly token: string | Uint8Array;
  readonly codecs: ClientCodecs<Req, Res>;
  /** Default deadline of a request (ms). */
  readonly requestTimeoutMs?: number;
  /** Deadline for connect + hello/welcome (ms). */
  readonly connectTimeoutMs?: number;
  /**
   * With requests outstanding and nothing received for this long (ms), the connection is taken
   * for dead (a silent peer: its host dropped off the network, a partition): it is closed and the
   * outstanding requests reject with 'closed', so the caller can retry elsewhere before their
   * deadlines. Default: off (requests wait for their own deadlines).
   */
  readonly silenceTimeoutMs?: number;
  readonly maxFrameBytes?: number;
  /** Bound on queued request bytes; beyond it request() rejects with 'queue-full'. */
  readonly maxQueueBytes?: number;
  /** Verify the server's TLS certificate against this CA. */
  readonly tls?: { readonly ca: string | Buffer; readonly servername?: string };
  /** Called once when the connection ends (error is undefined after close()). */
  readonly onClose?: (error: ClientChannelError | undefined) => void;
}

interface Pending<Res> {
  resolve(res: Res): void;
  reject(e: Error): void;
  deadline: number;
}

export class ClientChannel<Req, Res> {
  private readonly pending = new Map<number, Pending<Res>>();
  private readonly reader = new ByteReader();
  private nextId = 1;
  private sweepTimer: NodeJS.Timeout | null = null;
  private closedWith: ClientChannelError | null = null;
  /** Last time something arrived, or the channel went from idle to waiting (the silence clock). */
  private heardAt = Date.now();

  private constructor(
    private readonly socket: net.Socket,
    private readonly queue: SendQueue,
    private readonly decoder: FrameDecoder,
    /** What the server said in its welcome (its replica id, frame limit). */
    readonly welcome: ClientWelcome,
    private readonly opts: ClientChannelOptions<Req, Res>,
  ) {}

  static connect<Req, Res>(opts: ClientChannelOptions<Req, Res>): Promise<ClientChannel<Req, Res>> {
    const connectTimeoutMs = opts.connectTimeoutMs ?? 5_000;
    return new Promise((resolve, reject) => {
      const sock: net.Socket = opts.tls
        ? tls.connect({ host: opts.host, port: opts.port, ca: opts.tls.ca, servername: opts.tls.servername, minVersion: 'TLSv1.3' })
        : net.connect({ host: opts.host, port: opts.port });
      sock.setNoDelay(true);
      const decoder = new FrameDecoder(HANDSHAKE_MAX_FRAME_BYTES);
      let settled = false;
      const fail = (e: ClientChannelError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        sock.destroy();
        reject(e);
      };
      const timer = setTimeout(() => fail(new ClientChannelError('timeout', `no welcome from ${opts.host}:${opts.port} within ${connectTimeoutMs} ms`)), connectTimeoutMs);
      sock.once(opts.tls ? 'secureConnect' : 'connect', () => {
        const w = new ByteWriter(300);
        const start = beginFrame(w, FrameKind.ClientHello);
        writeClientHello(w, CLIENT_PROTOCOL_VERSION, typeof opts.token === 'string' ? Buffer.from(opts.token) : opts.token);
        endFrame(w, start);
        sock.write(w.toBytes());
      });
      const onHandshakeFrame = (kind: number, body: Buffer): boolean => {
        try {
          if (kind === FrameKind.ClientReject) {
            const r = readReject(body);
            fail(new ClientChannelError('refused', `${opts.host}:${opts.port} refused the connection: ${r.reason}`, r.reason));
            return false;
          }
          if (kind !== FrameKind.ClientWelcome) {
            fail(new ClientChannelError('refused', `unexpected frame kind 0x${kind.toString(16)} during handshake`, 'malformed'));
            return false;
          }
          const welcome = readClientWelcome(body);
          settled = true;
          clearTimeout(timer);
          sock.off('data', onHandshakeData);
          sock.off('close', onHandshakeClose);
          decoder.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
          const queue = new SendQueue(sock, {
            maxQueueBytes: opts.maxQueueBytes ?? 64 * 1024 * 1024,
            congestionBytes: opts.maxQueueBytes ?? 64 * 1024 * 1024,
            maxFrameBytes: Math.min(welcome.maxFrameBytes, opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES),
            flushBytes: 256 * 1024,
            batching: true,
          });
          const ch = new ClientChannel(sock, queue, decoder, welcome, opts);
          ch.attach();
          resolve(ch);
          // Stop here: whatever followed the welcome stays in the decoder for attach()'s handler.
          return false;
        } catch (e) {
          if (e instanceof DecodeError) {
            fail(new ClientChannelError('refused', `malformed handshake reply: ${e.message}`, 'malformed'));
            return false;
          }
          throw e;
        }
      };
      const onHandshakeData = (chunk: Buffer) => {
        const err = decoder.push(chunk, onHandshakeFrame);
        if (err) fail(new ClientChannelError('refused', `bad framing from server (${err.code})`, 'malformed'));
      };
      // A TLS port closes a plaintext hello without a word: say so, it is the likely cause.
      const onHandshakeClose = () => fail(new ClientChannelError('connect', `connection to ${opts.host}:${opts.port} closed before the welcome${opts.tls ? '' : ' (if that port uses TLS, give its CA)'}`));
      sock.on('data', onHandshakeData);
      sock.on('error', (e) => fail(new ClientChannelError(opts.tls && /certificate|SSL|TLS/i.test(e.message) ? 'refused' : 'connect', `cannot connect to ${opts.host}:${opts.port}: ${e.message}`, opts.tls && /certificate|SSL|TLS/i.test(e.message) ? 'tls-failed' : undefined)));
      sock.on('close', onHandshakeClose);
    });
  }

  private attach(): void {
    const sock = this.socket;
    const onData = (chunk: Buffer) => {
      this.heardAt = Date.now();
      const err = this.decoder.push(chunk, this.onFrame);
      if (err) this.shutdown(new ClientChannelError('closed', `bad framing from server (${err.code}); connection closed`));
    };
    sock.on('data', onData);
    sock.on('close', () => this.shutdown(new ClientChannelError('closed', `connection to ${this.opts.host}:${this.opts.port} closed`)));
  }

  private readonly onFrame = (kind: number, body: Buffer): boolean => {
    if (kind !== FrameKind.Response && kind !== FrameKind.ErrorResponse) {
      this.shutdown(new ClientChannelError('closed', `unexpected frame kind 0x${kind.toString(16)} from server`));
      return false;
    }
    const r = this.reader;
    r.reset(body);
    let id: number;
    try {
      id = r.varintMax(0xffff_ffff, 'response id');
    } catch (e) {
      this.shutdown(new ClientChannelError('closed', `malformed response frame: ${(e as Error).message}`));
      return false;
    }
    if (kind === FrameKind.ErrorResponse && id === 0) {
      let msg = 'connection error';
      try {
        msg = r.string();
      } catch {}
      this.shutdown(new ClientChannelError('remote', msg));
      return false;
    }
    const p = this.pending.get(id);
    if (!p) return true; // Timed out earlier: the late answer has nobody waiting.
    this.pending.delete(id);
    if (kind === FrameKind.ErrorResponse) {
      let msg: string;
      try {
        msg = r.string();
      } catch (e) {
        msg = `malformed error response: ${(e as Error).message}`;
      }
      p.reject(new ClientChannelError('remote', msg));
      return true;
    }
    let res: Res;
    try {
      res = this.opts.codecs.response.decode(body.subarray(r.pos));
    } catch (e) {
      p.reject(new ClientChannelError('remote', `malformed response: ${(e as Error).message}`));
      return true;
    }
    p.resolve(res);
    return true;
  };

  /** Unanswered requests. */
  get inFlight(): number {
    return this.pending.size;
  }

  get isOpen(): boolean {
    return this.closedWith === null;
  }

  /** Queued request bytes not yet written to the kernel. */
  get queuedBytes(): number {
    return this.queue.queuedBytes;
  }

  /** Sends `req`; resolves with its response, whatever order the server answers in. */
  request(req: Req, timeoutMs = this.opts.requestTimeoutMs ?? 10_000): Promise<Res> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    let id = this.nextId;
    while (this.pending.has(id)) id = id === 0xffff_ffff ? 1 : id + 1;
    this.nextId = id === 0xffff_ffff ? 1 : id + 1;
    const w = this.queue.begin(FrameKind.Request);
    try {
      w.varint(id);
      encodeMessageInto(this.opts.codecs.request, req, w);
    } catch (e) {
      this.queue.abort();
      return Promise.reject(new ClientChannelError('encode', `request codec failed: ${(e as Error).message}`));
    }
    const r = this.queue.commit();
    if (r === 'too-large') return Promise.reject(new ClientChannelError('too-large', 'request exceeds the maximum frame size'));
    if (r === 'full') return Promise.reject(new ClientChannelError('queue-full', 'too many request bytes queued; the server is not keeping up'));
    return new Promise<Res>((resolve, reject) => {
      if (this.pending.size === 0) this.heardAt = Date.now();
      this.pending.set(id, { resolve, reject, deadline: Date.now() + timeoutMs });
      if (this.sweepTimer === null) this.armSweep();
    });
  }

  private armSweep(): void {
    this.sweepTimer = setTimeout(() => {
      this.sweepTimer = null;
      const now = Date.now();
      const silence = this.opts.silenceTimeoutMs;
      if (silence !== undefined && silence > 0 && this.pending.size > 0 && now - this.heardAt >= silence) {
        this.shutdown(new ClientChannelError('closed', `nothing from ${this.opts.host}:${this.opts.port} for ${now - this.heardAt} ms with ${this.pending.size} request(s) outstanding; connection taken for dead`));
        return;
      }
      for (const [id, p] of this.pending) {
        if (p.deadline <= now) {
          this.pending.delete(id);
          p.reject(new ClientChannelError('timeout', `request ${id} timed out`));
        }
      }
      if (this.pending.size > 0 && !this.closedWith) this.armSweep();
    }, 25);
  }

  private shutdown(err: ClientChannelError | undefined): void {
    if (this.closedWith) return;
    this.closedWith = err ?? new ClientChannelError('closed', 'channel closed');
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    this.sweepTimer = null;
    this.queue.close();
    this.socket.destroy();
    for (const p of this.pending.values()) p.reject(this.closedWith);
    this.pending.clear();
    this.opts.onClose?.(err);
  }

  /** Closes the connection; outstanding requests reject with code 'closed'. */
  close(): void {
    this.shutdown(undefined);
  }
}
