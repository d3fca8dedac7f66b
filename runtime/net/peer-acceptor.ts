// The inbound half of a peer link: one accepted connection. Runs the acceptor side of the
// handshake under a small frame limit and a deadline, then decodes the peer's messages, checks
// their envelope against the authenticated identity and hands them to the transport.
import type net from 'node:net';
import type tls from 'node:tls';
import type { Envelope, NodeId } from '../protocols/api.js';
import { ByteWriter, DecodeError } from '../common/bytes.js';
import { FRAME_HEADER_BYTES, FrameDecoder, FrameKind, HANDSHAKE_MAX_FRAME_BYTES, beginFrame, endFrame } from './frame.js';
import {
  PEER_PROTOCOL_VERSION,
  freshNonce,
  peerProof,
  proofMatches,
  readPeerHello,
  readProof,
  writeReject,
  type RefuseReason,
  type Transcript,
} from './handshake.js';
import { certCommonNameFor, type PeerContext } from './peer-context.js';

const Phase = { Hello: 0, Auth: 1, Open: 2, Closed: 3 } as const;
type Phase = (typeof Phase)[keyof typeof Phase];

const PING_FRAME = Buffer.from([0, 0, 0, 1, FrameKind.Ping]);

export interface InboundHost<M extends Envelope> {
  readonly ctx: PeerContext<M>;
  authenticated(conn: InboundConnection<M>): void;
  closed(conn: InboundConnection<M>): void;
}

export class InboundConnection<M extends Envelope> {
  /** The authenticated peer id once open; 0 before. */
  peer: NodeId = 0;
  private phase: Phase = Phase.Hello;
  private readonly decoder = new FrameDecoder(HANDSHAKE_MAX_FRAME_BYTES);
  private timer: NodeJS.Timeout | null;
  private transcript: Transcript | null = null;
  private lastRecvAt = Date.now();
  private lastSendAt = Date.now();
  readonly remote: string;
  /** True once this replica refused the handshake (as opposed to the remote hanging up). */
  wasRefused = false;

  constructor(
    readonly socket: net.Socket,
    private readonly host: InboundHost<M>,
  ) {
    const ctx = host.ctx;
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.setNoDelay(true);
    this.timer = setTimeout(() => this.refuse('timeout', `no handshake within ${ctx.limits.handshakeTimeoutMs} ms`), ctx.limits.handshakeTimeoutMs);
    socket.on('data', (chunk: Buffer) => {
      this.lastRecvAt = Date.now();
      const err = this.decoder.push(chunk, this.onFrame);
      if (err) {
        ctx.framing[err.code]++;
        const detail = err.code === 'oversize' ? `frame of ${err.length} bytes exceeds limit ${err.limit}` : 'zero-length frame';
        if (this.phase === Phase.Open) {
          ctx.log.warn(`framing:${this.peer}`, { peer: this.peer, remote: this.remote, error: err.code }, `closing peer connection: ${detail}`);
          this.close();
        } else {
          this.refuse('malformed', detail);
        }
      }
    });
    socket.on('error', () => {
      // 'close' follows; resets and aborts from the remote side are routine.
    });
    socket.on('close', () => {
      this.clearTimer();
      this.phase = Phase.Closed;
      host.closed(this);
    });
  }

  get isOpen(): boolean {
    return this.phase === Phase.Open;
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private readonly onFrame = (kind: number, body: Buffer): boolean => {
    if (this.phase === Phase.Open) {
      if (kind === FrameKind.PeerMessage) {
        this.receive(body);
        return true;
      }
      if (kind === FrameKind.Ping) return true;
      this.host.ctx.framing.unexpectedKind++;
      this.host.ctx.log.warn(`framing:${this.peer}`, { peer: this.peer, kind }, 'closing peer connection: unexpected frame kind');
      this.close();
      return false;
    }
    try {
      if (this.phase === Phase.Hello) {
        if (kind !== FrameKind.PeerHello) return this.refuse('malformed', `expected hello, got frame kind 0x${kind.toString(16)}`);
        return this.onHello(body);
      }
      if (this.phase === Phase.Auth) {
        if (kind !== FrameKind.PeerAuth) return this.refuse('malformed', `expected auth, got frame kind 0x${kind.toString(16)}`);
        return this.onAuth(body);
      }
      return false;
    } catch (e) {
      if (e instanceof DecodeError) return this.refuse('malformed', e.message);
      throw e;
    }
  };

  private onHello(body: Buffer): boolean {
    const ctx = this.host.ctx;
    const h = readPeerHello(body);
    if (!h.magicOk) return this.refuse('bad-magic', 'not a verdant peer');
    if (h.version !== PEER_PROTOCOL_VERSION) return this.refuse('bad-version', `version ${h.version}, we speak ${PEER_PROTOCOL_VERSION}`);
    if (h.clusterId !== ctx.clusterId) return this.refuse('wrong-cluster', `cluster id ${JSON.stringify(h.clusterId)}`);
    if (h.from === ctx.id || !ctx.isKnownPeer(h.from)) return this.refuse('unknown-replica', `replica id ${h.from} is not a peer`);
    if (h.to !== ctx.id) return this.refuse('wrong-target', `dialer wanted replica ${h.to}, this is ${ctx.id}`);
    if (ctx.tls) {
      const cn = (this.socket as tls.TLSSocket).getPeerCertificate().subject?.CN;
      if (cn !== certCommonNameFor(h.from)) return this.refuse('cert-mismatch', `certificate CN ${JSON.stringify(cn)} claims to be replica ${h.from}`);
    }
    const nonce = freshNonce();
    this.transcript = {
      version: h.version,
      clusterId: ctx.clusterId,
      dialer: h.from,
      acceptor: ctx.id,
      dialerNonce: h.nonce,
      acceptorNonce: nonce,
    };
    const w = new ByteWriter(64);
    const start = beginFrame(w, FrameKind.PeerChallenge);
    w.u16(PEER_PROTOCOL_VERSION);
    w.raw(nonce);
    endFrame(w, start);
    this.socket.write(w.toBytes());
    this.phase = Phase.Auth;
    return true;
  }

  private onAuth(body: Buffer): boolean {
    const ctx = this.host.ctx;
    const t = this.transcript!;
    const proof = readProof(body);
    if (!proofMatches(peerProof(ctx.secret, 'dialer', t), proof)) {
      return this.refuse('auth-failed', `replica ${t.dialer} failed to prove the cluster secret`);
    }
    const w = new ByteWriter(64);
    const start = beginFrame(w, FrameKind.PeerAccept);
    w.raw(peerProof(ctx.secret, 'acceptor', t));
    w.u32(ctx.limits.maxFrameBytes);
    endFrame(w, start);
    this.socket.write(w.toBytes());
    this.lastSendAt = Date.now();
    this.clearTimer();
    this.peer = t.dialer;
    this.phase = Phase.Open;
    this.decoder.maxFrameBytes = ctx.limits.maxFrameBytes;
    this.host.authenticated(this);
    return true;
  }

  private receive(body: Buffer): void {
    const ctx = this.host.ctx;
    const peer = this.peer;
    let msg: M;
    try {
      msg = ctx.codec.decode(body);
    } catch (e) {
      ctx.rejected.malformed++;
      ctx.log.warn(`malformed:${peer}`, { peer, bytes: body.length, error: (e as Error).message }, 'dropped a malformed message from peer');
      return;
    }
    if (msg === null || typeof msg !== 'object' || msg.from !== peer) {
      ctx.rejected.spoofed++;
      ctx.log.warn(`spoofed:${peer}`, { peer, claimedFrom: (msg as Partial<Envelope> | null)?.from }, 'dropped a message whose sender is not the authenticated peer');
      return;
    }
    if (msg.to !== ctx.id) {
      ctx.rejected.misaddressed++;
      ctx.log.warn(`misaddressed:${peer}`, { peer, to: msg.to }, 'dropped a message addressed to another replica');
      return;
    }
    const c = ctx.countersOf(peer);
    if (c) {
      c.receivedMessages++;
      c.receivedBytes += body.length + 1 + FRAME_HEADER_BYTES;
    }
    try {
      ctx.deliver(msg, peer);
    } catch (e) {
      ctx.rejected.handlerErrors++;
      ctx.log.log.error({ peer, error: (e as Error).stack ?? String(e) }, 'peer message handler threw');
    }
  }

  /** Counts and logs the refusal, sends a reject frame, and closes. */
  private refuse(reason: RefuseReason, detail: string): false {
    if (this.phase === Phase.Closed) return false;
    const ctx = this.host.ctx;
    ctx.refused[reason]++;
    this.wasRefused = true;
    ctx.log.warn(`refused:${reason}`, { remote: this.remote, reason, detail }, 'refused a peer handshake');
    this.clearTimer();
    this.phase = Phase.Closed;
    const w = new ByteWriter(16);
    const start = beginFrame(w, FrameKind.PeerReject);
    writeReject(w, reason, PEER_PROTOCOL_VERSION, PEER_PROTOCOL_VERSION);
    endFrame(w, start);
    // end() lets the reject frame reach the dialer; destroy anyway if it never closes its side.
    const s = this.socket;
    s.end(w.toBytes());
    setTimeout(() => s.destroy(), 1_000).unref();
    return false;
  }

  housekeeping(now: number): void {
    if (this.phase !== Phase.Open) return;
    if (now - this.lastRecvAt > this.host.ctx.limits.idleTimeoutMs) {
      this.host.ctx.framing.idleTimeouts++;
      this.host.ctx.log.warn(`idle:${this.peer}`, { peer: this.peer, idleMs: now - this.lastRecvAt }, 'closing silent inbound peer connection');
      this.close();
      return;
    }
    if (now - this.lastSendAt >= this.host.ctx.limits.pingIntervalMs) {
      this.lastSendAt = now;
      if (this.socket.writableLength === 0) this.socket.write(PING_FRAME);
    }
  }

  close(): void {
    this.clearTimer();
    this.phase = Phase.Closed;
    this.socket.destroy();
  }
}
