// A minimal gRPC unary client on node:http2. gRPC framing is small and fixed (a 5-byte length
// prefix per message, status in trailers), and skipping @grpc/grpc-js's per-call machinery halves
// the client CPU per request, which on a 2-core machine is CPU the server under test gets back
// (docs/load.md, "etcd client"). Messages are encoded by protobufjs, not by hand.
import * as http2 from 'node:http2';

/** gRPC status codes by number (grpc/doc/statuscodes.md). */
const STATUS_NAMES = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS',
  'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE',
  'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
] as const;

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s; // grpc-message is percent-encoded; a malformed one is still worth showing
  }
}

export class GrpcError extends Error {
  /** gRPC status name (e.g. 'UNAVAILABLE') or a transport error code. */
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'GrpcError';
    this.code = code;
  }
}

interface Pending {
  stream: http2.ClientHttp2Stream;
  deadline: number;
  reject: (err: Error) => void;
}

const { HTTP2_HEADER_METHOD, HTTP2_HEADER_PATH, HTTP2_HEADER_CONTENT_TYPE, HTTP2_HEADER_TE } = http2.constants;

/** One HTTP/2 connection to one server, reconnected lazily after it closes. */
export class GrpcH2Channel {
  readonly authority: string;
  private session: http2.ClientHttp2Session | undefined;
  private readonly pending = new Set<Pending>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(authority: string) {
    this.authority = authority;
  }

  private getSession(): http2.ClientHttp2Session {
    const s = this.session;
    if (s && !s.closed && !s.destroyed) return s;
    const session = http2.connect(`http://${this.authority}`, {
      // Large windows so 1 KB values never wait for WINDOW_UPDATE round trips.
      settings: { initialWindowSize: 4 * 1024 * 1024 },
    });
    session.on('connect', () => session.setLocalWindowSize(16 * 1024 * 1024));
    session.on('error', () => {
      // Streams on this session fail with their own errors; the next call reconnects.
    });
    this.session = session;
    return session;
  }

  /** Sends one request message; resolves the response message (without the 5-byte prefix). */
  unary(path: string, message: Uint8Array, timeoutMs: number): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      let stream: http2.ClientHttp2Stream;
      try {
        stream = this.getSession().request({
          [HTTP2_HEADER_METHOD]: 'POST',
          [HTTP2_HEADER_PATH]: path,
          [HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
          [HTTP2_HEADER_TE]: 'trailers',
          'grpc-timeout': `${Math.max(1, Math.ceil(timeoutMs))}m`,
        });
      } catch (err) {
        reject(new GrpcError('UNAVAILABLE', `${this.authority}: ${(err as Error).message}`));
        return;
      }
      const p: Pending = { stream, deadline: Date.now() + timeoutMs, reject };
      this.pending.add(p);
      this.ensureSweeper();
      const chunks: Buffer[] = [];
      let status: string | undefined;
      let grpcMessage: string | undefined;
      const readStatus = (h: http2.IncomingHttpHeaders) => {
        const s = h['grpc-status'];
        if (s !== undefined) {
          status = String(s);
          const m = h['grpc-message'];
          grpcMessage = m === undefined ? undefined : safeDecode(String(m));
        }
      };
      stream.on('response', (headers) => {
        const httpStatus = headers[':status'];
        if (httpStatus !== undefined && httpStatus !== 200) {
          status = status ?? '2';
          grpcMessage = `HTTP status ${httpStatus}`;
        }
        readStatus(headers); // trailers-only responses carry the status here
      });
      stream.on('trailers', readStatus);
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', (err: NodeJS.ErrnoException) => {
        if (!this.pending.delete(p)) return;
        reject(new GrpcError(err.code ?? 'UNAVAILABLE', `${this.authority}: ${err.message}`));
      });
      stream.on('close', () => {
        if (!this.pending.delete(p)) return;
        if (status === undefined) {
          reject(new GrpcError('UNAVAILABLE', `${this.authority}: stream closed without a gRPC status`));
          return;
        }
        if (status !== '0') {
          const name = STATUS_NAMES[Number(status)] ?? `STATUS_${status}`;
          reject(new GrpcError(name, `${this.authority}: ${name}: ${grpcMessage ?? ''}`));
          return;
        }
        const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
        if (body.length < 5) {
          reject(new GrpcError('INTERNAL', `${this.authority}: response without a message`));
          return;
        }
        if (body[0] !== 0) {
          reject(new GrpcError('INTERNAL', `${this.authority}: compressed response, but no encoding was offered`));
          return;
        }
        const len = body.readUInt32BE(1);
        resolve(body.subarray(5, 5 + len));
      });
      const frame = Buffer.allocUnsafe(5 + message.length);
      frame[0] = 0;
      frame.writeUInt32BE(message.length, 1);
      frame.set(message, 5);
      stream.end(frame);
    });
  }

  // One coarse timer per channel rather than one per call: deadlines are seconds, so a 100 ms
  // sweep is precise enough and costs nothing per request.
  private ensureSweeper(): void {
    if (this.sweeper) return;
    this.sweeper = setInterval(() => {
      const now = Date.now();
      for (const p of this.pending) {
        if (p.deadline <= now) {
          this.pending.delete(p);
          p.stream.close(http2.constants.NGHTTP2_CANCEL);
          p.reject(new GrpcError('DEADLINE_EXCEEDED', `${this.authority}: deadline exceeded`));
        }
      }
      if (this.pending.size === 0) {
        clearInterval(this.sweeper);
        this.sweeper = undefined;
      }
    }, 100);
    this.sweeper.unref();
  }

  close(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    for (const p of this.pending) p.reject(new GrpcError('CANCELLED', `${this.authority}: channel closed`));
    this.pending.clear();
    this.session?.destroy();
    this.session = undefined;
  }
}
