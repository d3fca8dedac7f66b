// The outbound half of a peer link: dials one peer, runs the dialer side of the handshake, then
// carries this replica's messages to that peer through a bounded SendQueue. Redials with backoff.
//
// Connections are one-directional for data: a replica sends on the connection it dialed and
// receives on the ones it accepted. Two replicas therefore hold two connections, which needs no
// tie-breaking when both dial at once, and lets a fault proxy cut each direction on its own.
import net from 'node:net';
import tls from 'node:tls';
import type { Envelope, NodeId } from '../protocols/api.js';
import { Backoff } from './backoff.js';
import { ByteWriter, DecodeError } from '../common/bytes.js';
import { FrameDecoder, FrameKind, HANDSHAKE_MAX_FRAME_BYTES, beginFrame, endFrame } from './frame.js';
import {
  PEER_PROTOCOL_VERSION,
  freshNonce,
  peerProof,
  proofMatches,
  readAccept,
  readChallenge,
  readReject,
  writePeerHello,
  type RefuseReason,
} from './handshake.js';
import { certCommonNameFor, type PeerAddress, type PeerContext } from './peer-context.js';
import type { PeerCounters, PeerLinkState } from './peer-stats.js';
import { SendQueue } from './send-queue.js';

const Phase = { Connecting: 0, HelloSent: 1, AuthSent: 2, Open: 3 } as const;
type Phase = (typeof Phase)[keyof typeof Phase];

export class OutboundLink<M extends Envelope> {
  state: PeerLinkState = 'idle';
  queue: SendQueue | null = null;
  private socket: net.Socket | null = null;
  private phase: Phase = Phase.Connecting;
  private decoder = new FrameDecoder(HANDSHAKE_MAX_FRAME_BYTES);
  private readonly backoff: Backoff;
  private timer: NodeJS.Timeout | null = null;
  private nonce: Buffer = Buffer.alloc(0);
  private lastRecvAt = 0;
  private failure: string | null = null;
  private batchesBefore = 0;

  constructor(
    readonly peer: NodeId,
    public addr: PeerAddress | null,
    readonly counters: PeerCounters,
    private readonly ctx: PeerContext<M>,
  ) {
    this.backoff = new Backoff(ctx.limits.backoff);
  }

  get batches(): number {
    return this.queue ? this.queue.writes : this.batchesBefore;
  }

  start(): void {
    if (this.state === 'idle' && this.addr) this.dial();
  }

  /** New address: drop the current connection (if any) and dial the new one. */
  retarget(addr: PeerAddress | null): void {
    this.addr = addr;
    if (this.state === 'closed') return;
    this.clearTimer();
    if (this.socket) {
      this.socket.destroy();
    } else {
      this.setState('idle');
      this.start();
    }
  }

  private setState(s: PeerLinkState): void {
    // 'closed' is final: events of a connection still in flight at close() must not reopen it.
    if (this.state === s || this.state === 'closed') return;
    this.state = s;
    this.ctx.linkState(this.peer, s);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private dial(): void {
    const addr = this.addr;
    if (this.state === 'closed') return;
    if (!addr) {
      this.setState('idle');
      return;
    }
    this.setState('connecting');
    this.phase = Phase.Connecting;
    this.decoder = new FrameDecoder(HANDSHAKE_MAX_FRAME_BYTES);
    this.failure = null;
    const t = this.ctx.tls;
    const sock: net.Socket = t
      ? tls.connect({
          host: addr.host,
          port: addr.port,
          key: t.key,
          cert: t.cert,
          ca: t.ca,
          minVersion: 'TLSv1.3',
          // Identity is the replica id in the certificate's CN, checked after connect, not a hostname.
          checkServerIdentity: () => undefined,
        })
      : net.connect({ host: addr.host, port: addr.port });
    this.socket = sock;
    sock.setNoDelay(true);
    this.timer = setTimeout(() => this.fail('timeout', `no handshake within ${this.ctx.limits.handshakeTimeoutMs} ms`), this.ctx.limits.handshakeTimeoutMs);
    sock.once(t ? 'secureConnect' : 'connect', () => {
      if (sock !== this.socket || this.state === 'closed') return;
      if (t) {
        const cn = (sock as tls.TLSSocket).getPeerCertificate().subject?.CN;
        if (cn !== certCommonNameFor(this.peer)) {
          this.fail('cert-mismatch', `certificate CN ${JSON.stringify(cn)} is not ${certCommonNameFor(this.peer)}`);
          return;
        }
      }
      this.setState('handshaking');
      this.nonce = freshNonce();
      const w = new ByteWriter(128);
      const start = beginFrame(w, FrameKind.PeerHello);
      writePeerHello(w, {
        version: PEER_PROTOCOL_VERSION,
        clusterId: this.ctx.clusterId,
        from: this.ctx.id,
        to: this.peer,
        nonce: this.nonce,
      });
      endFrame(w, start);
      sock.write(w.toBytes());
      this.phase = Phase.HelloSent;
    });
    sock.on('data', (chunk: Buffer) => {
      if (sock !== this.socket || this.state === 'closed') return;
      this.lastRecvAt = Date.now();
      const err = this.decoder.push(chunk, this.onFrame);
      if (err) {
        this.ctx.framing[err.code]++;
        this.fail(null, err.code === 'oversize' ? `frame of ${err.length} bytes exceeds limit ${err.limit}` : 'zero-length frame');
      }
    });
    sock.on('error', (e: NodeJS.ErrnoException) => {
      if (sock !== this.socket) return;
      if (this.phase !== Phase.Open && this.failure === null) {
        // TLS verification errors surface here; count them as refused handshakes.
        const tlsError = t && (e.code?.startsWith('ERR_SSL') || /certificate|CERT|SSL|TLS/.test(e.message));
        if (tlsError) this.ctx.dialRefused['tls-failed']++;
        this.failure = tlsError ? `TLS: ${e.message}` : `${e.code ?? 'error'}: ${e.message}`;
      }
    });
    sock.on('close', () => {
      if (sock === this.socket) this.onClose();
    });
  }

  private readonly onFrame = (kind: number, body: Buffer): boolean => {
    try {
      switch (this.phase) {
        case Phase.HelloSent:
          if (kind === FrameKind.PeerReject) return this.refusedByPeer(body);
          if (kind !== FrameKind.PeerChallenge) return this.unexpected(kind);
          return this.onChallenge(body);
        case Phase.AuthSent:
          if (kind === FrameKind.PeerReject) return this.refusedByPeer(body);
          if (kind !== FrameKind.PeerAccept) return this.unexpected(kind);
          return this.onAccept(body);
        case Phase.Open:
          if (kind === FrameKind.Ping) return true;
          return this.unexpected(kind);
        default:
          return this.unexpected(kind);
      }
    } catch (e) {
      if (e instanceof DecodeError) {
        this.fail('malformed', `malformed handshake frame from peer: ${e.message}`);
        return false;
      }
      throw e;
    }
  };

  private onChallenge(body: Buffer): boolean {
    const c = readChallenge(body);
    if (c.version !== PEER_PROTOCOL_VERSION) {
      this.fail('bad-version', `peer answered with version ${c.version}, we speak ${PEER_PROTOCOL_VERSION}`);
      return false;
    }
    this.acceptorNonce = c.nonce;
    const proof = peerProof(this.ctx.secret, 'dialer', this.transcript());
    const w = new ByteWriter(64);
    const start = beginFrame(w, FrameKind.PeerAuth);
    w.raw(proof);
    endFrame(w, start);
    this.socket!.write(w.toBytes());
    this.phase = Phase.AuthSent;
    return true;
  }

  private acceptorNonce: Buffer = Buffer.alloc(0);

  private transcript() {
    return {
      version: PEER_PROTOCOL_VERSION,
      clusterId: this.ctx.clusterId,
      dialer: this.ctx.id,
      acceptor: this.peer,
      dialerNonce: this.nonce,
      acceptorNonce: this.acceptorNonce,
    };
  }

  private onAccept(body: Buffer): boolean {
    const a = readAccept(body);
    const expected = peerProof(this.ctx.secret, 'acceptor', this.transcript());
    if (!proofMatches(expected, a.proof)) {
      this.fail('auth-failed', 'peer could not prove knowledge of the cluster secret');
      return false;
    }
    this.clearTimer();
    const sock = this.socket!;
    const lim = this.ctx.limits;
    this.queue = new SendQueue(sock, {
      maxQueueBytes: lim.maxQueueBytes,
      congestionBytes: lim.congestionBytes,
      // Never send a frame the peer announced it would refuse.
      maxFrameBytes: Math.min(lim.maxFrameBytes, a.maxFrameBytes),
      flushBytes: lim.flushBytes,
      batching: this.ctx.batching,
      onCongestion: (congested) => {
        if (congested) this.counters.congestionEvents++;
        this.ctx.congestion(this.peer, congested);
      },
    });
    this.phase = Phase.Open;
    this.counters.connects++;
    this.lastRecvAt = Date.now();
    const attempts = this.backoff.attempts;
    this.backoff.reset();
    this.ctx.log.clear(`dial:${this.peer}`);
    this.ctx.log.info(`connected:${this.peer}`, { peer: this.peer, addr: this.addrText(), attempts }, 'connected to peer');
    this.setState('connected');
    return true;
  }

  private refusedByPeer(body: Buffer): boolean {
    const r = readReject(body);
    const extra = r.reason === 'bad-version' ? ` (peer supports versions ${r.minVersion}..${r.maxVersion})` : '';
    this.fail(r.reason, `peer refused the handshake: ${r.reason}${extra}`);
    return false;
  }

  private unexpected(kind: number): boolean {
    this.ctx.framing.unexpectedKind++;
    this.fail(this.phase === Phase.Open ? null : 'malformed', `unexpected frame kind 0x${kind.toString(16)}`);
    return false;
  }

  /** Gives up on the current connection; `reason` (if any) is counted as a refused dial. */
  private fail(reason: RefuseReason | null, detail: string): void {
    if (reason) this.ctx.dialRefused[reason]++;
    this.failure = detail;
    this.socket?.destroy();
  }

  private addrText(): string {
    return this.addr ? `${this.addr.host}:${this.addr.port}` : '(none)';
  }

  private onClose(): void {
    this.clearTimer();
    const wasOpen = this.phase === Phase.Open;
    if (this.queue) {
      this.batchesBefore = this.queue.writes;
      this.queue.close();
      this.queue = null;
    }
    this.socket = null;
    this.phase = Phase.Connecting;
    if (this.state === 'closed') return;
    if (wasOpen) {
      this.counters.disconnects++;
      this.ctx.log.warn(`lost:${this.peer}`, { peer: this.peer, addr: this.addrText(), reason: this.failure ?? 'closed by peer' }, 'lost connection to peer');
    } else {
      this.counters.dialFailures++;
      this.ctx.log.warn(
        `dial:${this.peer}`,
        { peer: this.peer, addr: this.addrText(), reason: this.failure ?? 'closed during handshake', attempts: this.backoff.attempts + 1 },
        'cannot connect to peer; retrying with backoff',
      );
    }
    this.setState('backoff');
    const delay = this.backoff.next();
    this.timer = setTimeout(() => {
      this.timer = null;
      this.dial();
    }, delay);
  }

  /** Called by the transport's housekeeping timer. */
  housekeeping(now: number): void {
    if (this.phase !== Phase.Open || !this.queue) return;
    if (now - this.lastRecvAt > this.ctx.limits.idleTimeoutMs) {
      this.ctx.framing.idleTimeouts++;
      this.fail(null, `nothing received for ${now - this.lastRecvAt} ms`);
      return;
    }
    if (now - this.queue.lastWriteAt >= this.ctx.limits.pingIntervalMs && this.queue.queuedBytes === 0) {
      this.queue.begin(FrameKind.Ping);
      this.queue.commit();
    }
  }

  /** Flush what is queued, then close for good. */
  close(): Promise<void> {
    this.clearTimer();
    const sock = this.socket;
    this.setState('closed');
    if (!sock) return Promise.resolve();
    return new Promise((resolve) => {
      if (this.phase !== Phase.Open) {
        // Still dialling or authenticating: nothing queued to deliver.
        sock.once('close', () => resolve());
        sock.destroy();
        return;
      }
      this.queue?.flush();
      const t = setTimeout(() => sock.destroy(), 1_000);
      sock.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      sock.end();
    });
  }
}
