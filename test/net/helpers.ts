// Shared helpers for the net tests: real transports on loopback with ephemeral ports.
import type { NodeId } from '../../runtime/protocols/api.js';
import type { NetLogger } from '../../runtime/net/logger.js';
import { PeerTransport, type PeerTransportOptions } from '../../runtime/net/peer-transport.js';
import { probeCodec, type ProbeMessage } from '../../runtime/net/probe.js';
import type { TransportStats } from '../../runtime/net/peer-stats.js';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import { ByteReader, ByteWriter, ByteWriter as BinaryWriter } from '../../runtime/common/bytes.js';
import type { StreamingCodec } from '../../runtime/net/codec.js';
import { FrameDecoder, FrameKind, beginFrame, endFrame } from '../../runtime/net/frame.js';
import {
  PEER_PROTOCOL_VERSION,
  freshNonce,
  peerProof,
  readChallenge,
  readReject,
  writePeerHello,
} from '../../runtime/net/handshake.js';

export const SECRET = 'test-secret-0123456789abcdef';
export const CLUSTER = 'test-cluster';

export interface LogLine {
  level: string;
  msg: string;
  obj: Record<string, unknown>;
}

export function recordingLogger(): NetLogger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const rec = (level: string) => (obj: object, msg: string) => {
    lines.push({ level, msg, obj: obj as Record<string, unknown> });
  };
  return { lines, debug: rec('debug'), info: rec('info'), warn: rec('warn'), error: rec('error') };
}

export async function waitFor(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function waitForAsync(cond: () => Promise<boolean>, what: () => string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting: ${what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export type ProbeTransport = PeerTransport<ProbeMessage> & { received: ProbeMessage[]; logger: ReturnType<typeof recordingLogger> };

type Overrides = Partial<Omit<PeerTransportOptions<ProbeMessage>, 'onMessage' | 'codec' | 'id'>>;

export async function startProbe(id: NodeId, peers: Record<number, { host: string; port: number } | null>, o: Overrides = {}): Promise<ProbeTransport> {
  const received: ProbeMessage[] = [];
  const logger = recordingLogger();
  const t = (await PeerTransport.start<ProbeMessage>({
    id,
    clusterId: CLUSTER,
    secret: SECRET,
    codec: probeCodec,
    peers,
    log: logger,
    onMessage: (m) => {
      received.push(m);
    },
    ...o,
  })) as ProbeTransport;
  t.received = received;
  t.logger = logger;
  return t;
}

/** Two connected transports (ids 1 and 2) with the given overrides for each. */
export async function startPair(o1: Overrides = {}, o2: Overrides = {}): Promise<[ProbeTransport, ProbeTransport]> {
  const a = await startProbe(1, { 2: null }, o1);
  const b = await startProbe(2, { 1: a.address }, o2);
  a.setPeer(2, b.address);
  await waitFor(() => a.isConnected(2) && b.isConnected(1), 'both directions connected');
  return [a, b];
}

export function probe(from: NodeId, to: NodeId, seq: number, size = 16): ProbeMessage {
  const payload = new Uint8Array(size);
  for (let i = 0; i < size; i++) payload[i] = (seq + i) & 0xff;
  return { from, to, seq, payload };
}

// ---- child-process peers -------------------------------------------------------------------

const probePeerScript = fileURLToPath(new URL('./fixtures/probe-peer.js', import.meta.url));

export interface ChildPeer {
  proc: ChildProcess;
  address: { host: string; port: number };
  stats(): Promise<{ stats: TransportStats; received: number }>;
  send(m: object): void;
}

export interface ChildPeerConfig {
  id: number;
  host?: string;
  port: number;
  peers: Record<number, { host: string; port: number } | null>;
  echo?: boolean;
  limits?: Record<string, number>;
}

/** Starts test/net/fixtures/probe-peer in a child process (by default a plain fork; pass a
 *  spawner to run it elsewhere, e.g. inside a network namespace). */
export function startChildPeer(
  cfg: ChildPeerConfig,
  spawner: (script: string, args: string[]) => ChildProcess = (script, args) => fork(script, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
): Promise<ChildPeer> {
  const proc = spawner(probePeerScript, [JSON.stringify(cfg)]);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('child peer did not start within 20 s')), 20_000);
    proc.once('exit', (code, sig) => reject(new Error(`child peer exited early (${code ?? sig})`)));
    proc.once('message', (m: { type: string; address: { host: string; port: number } }) => {
      clearTimeout(timer);
      proc.removeAllListeners('exit');
      resolve({
        proc,
        address: m.address,
        send: (msg) => proc.send(msg),
        stats: () =>
          new Promise((res) => {
            const on = (r: { type: string }) => {
              if (r.type !== 'stats') return;
              proc.off('message', on);
              res(r as never);
            };
            proc.on('message', on);
            proc.send({ type: 'stats' });
          }),
      });
    });
  });
}

export function killChild(proc: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    proc.once('exit', () => resolve());
    proc.kill(signal);
  });
}

// ---- a hand-driven dialer for negative tests -------------------------------------------------

export function frame(kind: number, body: (w: BinaryWriter) => void): Buffer {
  const w = new BinaryWriter(64);
  const start = beginFrame(w, kind);
  body(w);
  endFrame(w, start);
  return Buffer.from(w.toBytes());
}

export interface RawDialResult {
  outcome: 'accepted' | 'rejected' | 'closed';
  reason?: string;
  socket: net.Socket;
}

/** Dials `port` and performs the dialer handshake by hand, with whatever (wrong) values given. */
export function rawDial(port: number, o: { from: number; to: number; secret?: string; clusterId?: string; version?: number; magic?: string }): Promise<RawDialResult> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const dec = new FrameDecoder(1 << 20);
    const nonce = freshNonce();
    let done = false;
    const finish = (r: Omit<RawDialResult, 'socket'>) => {
      if (done) return;
      done = true;
      resolve({ ...r, socket: sock });
    };
    sock.on('connect', () => {
      sock.write(
        frame(FrameKind.PeerHello, (w) => {
          if (o.magic !== undefined) {
            w.raw(Buffer.from(o.magic, 'latin1'));
            w.u16(o.version ?? PEER_PROTOCOL_VERSION);
            w.string(o.clusterId ?? CLUSTER);
            w.u32(o.from);
            w.u32(o.to);
            w.raw(nonce);
          } else {
            writePeerHello(w, { version: o.version ?? PEER_PROTOCOL_VERSION, clusterId: o.clusterId ?? CLUSTER, from: o.from, to: o.to, nonce });
          }
        }),
      );
    });
    sock.on('data', (chunk: Buffer) => {
      dec.push(chunk, (kind, body) => {
        if (kind === FrameKind.PeerReject) {
          finish({ outcome: 'rejected', reason: readReject(body).reason });
          return false;
        }
        if (kind === FrameKind.PeerChallenge) {
          const c = readChallenge(body);
          const proof = peerProof(Buffer.from(o.secret ?? SECRET), 'dialer', {
            version: PEER_PROTOCOL_VERSION,
            clusterId: o.clusterId ?? CLUSTER,
            dialer: o.from,
            acceptor: o.to,
            dialerNonce: nonce,
            acceptorNonce: c.nonce,
          });
          sock.write(frame(FrameKind.PeerAuth, (w) => w.raw(proof)));
          return true;
        }
        if (kind === FrameKind.PeerAccept) {
          finish({ outcome: 'accepted' });
          return true;
        }
        return true;
      });
    });
    sock.on('error', () => {});
    sock.on('close', () => finish({ outcome: 'closed' }));
  });
}

export function assertSameProbe(got: ProbeMessage, want: ProbeMessage): void {
  if (got.from !== want.from || got.to !== want.to || got.seq !== want.seq || Buffer.compare(Buffer.from(got.payload), Buffer.from(want.payload)) !== 0) {
    throw new Error(`probe mismatch: got ${JSON.stringify({ ...got, payload: Buffer.from(got.payload).toString('hex') })}, want ${JSON.stringify({ ...want, payload: Buffer.from(want.payload).toString('hex') })}`);
  }
}

/** A StreamingCodec for test messages from an encoder and a decoder over the byte toolkit. */
export function streamingCodec<T>(enc: (m: T, w: ByteWriter) => void, dec: (r: ByteReader) => T): StreamingCodec<T> {
  return {
    encodeInto: enc,
    encode(m) {
      const w = new ByteWriter();
      enc(m, w);
      return w.toBytes();
    },
    decode(b) {
      const r = new ByteReader(b);
      const m = dec(r);
      r.expectEnd();
      return m;
    },
  };
}
