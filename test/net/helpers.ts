// Shared helpers for the net tests: real transports on loopback with ephemeral ports.
import type { NodeId } from '../../runtime/protocols/api.js';
import type { NetLogger } from '../../runtime/net/logger.js';
import { PeerTransport, type PeerTransportOptions } from '../../runtime/net/peer-transport.js';
import { probeCodec, type ProbeMessage } from '../../runtime/net/probe.js';

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
