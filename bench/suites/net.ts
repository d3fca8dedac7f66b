// `npm run bench -- net [--duration MS] [--reps N] [--handshakes N]`  (defaults 2000, 3, 200)
//
// Two processes on loopback: this one sends (PeerTransport id 1 or 3), a child receives (id 2).
// For 100 B and 1 KiB payloads it compares, side by side and interleaved, the batched send path
// (one socket.write per event-loop turn) with the unbatched one (one socket.write per message),
// plus batched over mutual TLS for 1 KiB. The sender streams for --duration ms while respecting
// congestion (it never drops: it waits for onCongestion(false)), then the rate is
// delivered messages / time until the receiver confirmed the last one.
// Handshake time: dial start -> authenticated, over many fresh connections (HMAC and TLS).
import { fork, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PeerTransport, type PeerAddress, type PeerTlsOptions } from '../../runtime/net/peer-transport.js';
import { probeCodec, type ProbeMessage } from '../../runtime/net/probe.js';
import { silentLogger } from '../../runtime/net/logger.js';
import { BENCH_CLUSTER, BENCH_SECRET } from '../net-common.js';

const childScript = fileURLToPath(new URL('../net-child.js', import.meta.url));

interface Receiver {
  proc: ChildProcess;
  address: PeerAddress;
  /** Resolves with the receiver's cumulative CPU time (µs) once `count` messages arrived. */
  waitFor(count: number): Promise<number>;
  stop(): Promise<void>;
}

function startReceiver(senders: number[], tls?: { key: string; cert: string; ca: string }): Promise<Receiver> {
  const proc = fork(childScript, [JSON.stringify({ senders, tls })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    proc.once('exit', (c) => reject(new Error(`receiver exited (${c})`)));
    proc.once('message', (m: { address: PeerAddress }) => {
      proc.removeAllListeners('exit');
      resolve({
        proc,
        address: m.address,
        waitFor: (count) =>
          new Promise((res) => {
            const on = (r: { type: string; cpuUs: number }) => {
              if (r.type !== 'done') return;
              proc.off('message', on);
              res(r.cpuUs);
            };
            proc.on('message', on);
            proc.send({ type: 'wait', count });
          }),
        stop: () =>
          new Promise((res) => {
            proc.once('exit', () => res());
            proc.send({ type: 'exit' });
          }),
      });
    });
  });
}

interface Run {
  messages: number;
  seconds: number;
  msgsPerSec: number;
  payloadMBps: number;
  wireMBps: number;
  socketWrites: number;
  messagesPerWrite: number;
  /** CPU time (user+system) per message in the sending and the receiving process. */
  senderCpuUsPerMsg: number;
  receiverCpuUsPerMsg: number;
}

/** Streams for durationMs; `alreadyDelivered` is what rx has counted before this run. */
async function stream(sender: PeerTransport<ProbeMessage>, rx: Receiver, alreadyDelivered: number, size: number, durationMs: number, congestion: { wait: Promise<void> | null }): Promise<Run> {
  const msg = { from: sender.id, to: 2, seq: 0, payload: new Uint8Array(size).fill(7) } as { from: number; to: number; seq: number; payload: Uint8Array };
  const before = sender.stats().peers[2]!;
  const rxCpu0 = await rx.waitFor(alreadyDelivered);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const deadline = Date.now() + durationMs;
  let sent = 0;
  while (Date.now() < deadline) {
    for (let i = 0; i < 512; i++) {
      if (sender.isCongested(2)) break;
      msg.seq = sent;
      if (sender.send(msg) !== 'sent') throw new Error('benchmark sender dropped a message');
      sent++;
    }
    if (sender.isCongested(2) && congestion.wait) await congestion.wait;
    else await new Promise((r) => setImmediate(r));
  }
  const rxCpu1 = await rx.waitFor(alreadyDelivered + sent);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const after = sender.stats().peers[2]!;
  const wire = after.sentBytes - before.sentBytes;
  const writes = after.batches - before.batches;
  return {
    messages: sent,
    seconds: +seconds.toFixed(3),
    msgsPerSec: Math.round(sent / seconds),
    payloadMBps: +((sent * size) / seconds / 1e6).toFixed(1),
    wireMBps: +(wire / seconds / 1e6).toFixed(1),
    socketWrites: writes,
    messagesPerWrite: +(sent / Math.max(1, writes)).toFixed(1),
    senderCpuUsPerMsg: +((cpu.user + cpu.system) / sent).toFixed(3),
    receiverCpuUsPerMsg: +((rxCpu1 - rxCpu0) / sent).toFixed(3),
  };
}

async function sender(id: number, rx: Receiver, batching: boolean, tls?: PeerTlsOptions) {
  const congestion: { wait: Promise<void> | null; release: (() => void) | null } = { wait: null, release: null };
  const t = await PeerTransport.start<ProbeMessage>({
    id,
    clusterId: BENCH_CLUSTER,
    secret: BENCH_SECRET,
    codec: probeCodec,
    peers: { 2: rx.address },
    batching,
    log: silentLogger,
    ...(tls ? { tls } : {}),
    onMessage: () => {},
    onCongestion: (_p, c) => {
      if (c) congestion.wait = new Promise((r) => (congestion.release = r));
      else {
        congestion.release?.();
        congestion.wait = null;
      }
    },
  });
  const deadline = Date.now() + 10_000;
  while (!t.isConnected(2)) {
    if (Date.now() > deadline) throw new Error('sender could not connect');
    await new Promise((r) => setTimeout(r, 5));
  }
  return { t, congestion };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

async function handshakeTimes(rx: Receiver, n: number, tls?: PeerTlsOptions): Promise<{ n: number; meanMs: number; p50Ms: number; p99Ms: number }> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    let start = 0n;
    let done: () => void = () => {};
    const connected = new Promise<void>((r) => (done = r));
    const t = await PeerTransport.start<ProbeMessage>({
      id: 1,
      clusterId: BENCH_CLUSTER,
      secret: BENCH_SECRET,
      codec: probeCodec,
      peers: { 2: rx.address },
      log: silentLogger,
      ...(tls ? { tls } : {}),
      onMessage: () => {},
      onPeerState: (_p, s) => {
        if (s === 'connecting') start = process.hrtime.bigint();
        if (s === 'connected') {
          times.push(Number(process.hrtime.bigint() - start) / 1e6);
          done();
        }
      },
    });
    await connected;
    await t.close();
  }
  const r = (x: number) => +x.toFixed(3);
  return { n, meanMs: r(times.reduce((a, b) => a + b, 0) / n), p50Ms: r(median(times)), p99Ms: r(pct(times, 99)) };
}

function makeCerts(): { dir: string; r1: PeerTlsOptions; r2: { key: string; cert: string; ca: string } } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'verdant-bench-net-'));
  const o = (...a: string[]) => execFileSync('openssl', a, { cwd: dir, stdio: 'ignore' });
  o('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=bench-ca', '-days', '1');
  for (const id of [1, 2]) {
    o('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `r${id}.key`, '-out', `r${id}.csr`, '-subj', `/CN=replica-${id}`);
    o('x509', '-req', '-in', `r${id}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `r${id}.crt`, '-days', '1');
  }
  const rd = (f: string) => fs.readFileSync(path.join(dir, f), 'utf8');
  return {
    dir,
    r1: { key: rd('r1.key'), cert: rd('r1.crt'), ca: rd('ca.crt') },
    r2: { key: rd('r2.key'), cert: rd('r2.crt'), ca: rd('ca.crt') },
  };
}

function arg(args: string[], name: string, dflt: number): number {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? Number(args[i + 1]) : dflt;
}

export default async function net(args: string[]): Promise<Record<string, unknown>> {
  const durationMs = arg(args, 'duration', 2000);
  const reps = arg(args, 'reps', 3);
  const nHandshakes = arg(args, 'handshakes', 200);
  const loadBefore = os.loadavg().map((x) => +x.toFixed(2));
  const certs = makeCerts();
  const rx = await startReceiver([1, 3]);
  const rxTls = await startReceiver([1], certs.r2);
  try {
    const batched = await sender(1, rx, true);
    const unbatched = await sender(3, rx, false);
    const tls = await sender(1, rxTls, true, certs.r1);
    const cases: { name: string; size: number; who: typeof batched; rx: Receiver }[] = [];
    for (const size of [100, 1024]) {
      cases.push({ name: `${size}B batched`, size, who: batched, rx });
      cases.push({ name: `${size}B unbatched`, size, who: unbatched, rx });
    }
    cases.push({ name: '1024B batched tls', size: 1024, who: tls, rx: rxTls });
    const runs = new Map<string, Run[]>();
    const deliveredBy = new Map<Receiver, number>([[rx, 0], [rxTls, 0]]);
    for (let rep = 0; rep < reps; rep++) {
      for (const c of cases) {
        const r = await stream(c.who.t, c.rx, deliveredBy.get(c.rx)!, c.size, durationMs, c.who.congestion);
        deliveredBy.set(c.rx, deliveredBy.get(c.rx)! + r.messages);
        process.stderr.write(`net: ${c.name} rep ${rep + 1}: ${r.msgsPerSec} msg/s, ${r.payloadMBps} MB/s payload, ${r.messagesPerWrite} msgs/write, cpu ${r.senderCpuUsPerMsg}+${r.receiverCpuUsPerMsg} us/msg\n`);
        runs.set(c.name, [...(runs.get(c.name) ?? []), r]);
      }
    }
    await batched.t.close();
    await unbatched.t.close();
    await tls.t.close();
    const best = (name: string) => {
      const rs = runs.get(name)!;
      const m = median(rs.map((r) => r.msgsPerSec));
      return { ...rs.find((r) => r.msgsPerSec === m)!, repsMsgsPerSec: rs.map((r) => r.msgsPerSec) };
    };
    const throughput = Object.fromEntries(cases.map((c) => [c.name, best(c.name)]));
    // Each rep runs the cases back to back, so a per-rep ratio compares runs that saw the same
    // machine load; report the median of those ratios (and each rep's).
    const ratio = (a: string, b: string, f: (r: Run) => number = (r) => r.msgsPerSec) => {
      const ra = runs.get(a)!;
      const rb = runs.get(b)!;
      const per = ra.map((r, i) => +(f(r) / f(rb[i]!)).toFixed(2));
      return { median: median(per), perRep: per };
    };
    const cpu = (r: Run) => r.senderCpuUsPerMsg + r.receiverCpuUsPerMsg;
    process.stderr.write('net: handshakes...\n');
    const handshake = { hmac: await handshakeTimes(rx, nHandshakes), tls: await handshakeTimes(rxTls, nHandshakes, certs.r1) };
    return {
      setup: {
        processes: 2,
        transport: 'loopback TCP',
        durationMs,
        reps,
        statistic: 'median of reps; ratios: median of per-rep ratios',
        cpus: os.cpus().length,
        node: process.version,
        loadavgBefore: loadBefore,
        loadavgAfter: os.loadavg().map((x) => +x.toFixed(2)),
      },
      throughput,
      ratios: {
        batchedOverUnbatched100B: ratio('100B batched', '100B unbatched'),
        batchedOverUnbatched1KB: ratio('1024B batched', '1024B unbatched'),
        tlsOverPlain1KB: ratio('1024B batched tls', '1024B batched'),
        // CPU time per message (both processes), unbatched / batched: less sensitive to a busy machine.
        cpuPerMsgUnbatchedOverBatched100B: ratio('100B unbatched', '100B batched', cpu),
        cpuPerMsgUnbatchedOverBatched1KB: ratio('1024B unbatched', '1024B batched', cpu),
        cpuPerMsgTlsOverPlain1KB: ratio('1024B batched tls', '1024B batched', cpu),
      },
      handshake,
    };
  } finally {
    await rx.stop();
    await rxTls.stop();
    fs.rmSync(certs.dir, { recursive: true, force: true });
  }
}
