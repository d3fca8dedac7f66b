// Receiver process for `npm run bench -- net`: a PeerTransport (id 2) that counts what arrives.
//   argv[2] = JSON { senders: number[], tls?: { key, cert, ca } (PEM strings) }
//   -> { type: 'ready', address }
//   <- { type: 'wait', count }  -> { type: 'done', count, cpuUs } once `count` messages arrived in
//      total (cpuUs: this process's user+system CPU time so far)
import { PeerTransport } from '../runtime/net/peer-transport.js';
import { probeCodec, type ProbeMessage } from '../runtime/net/probe.js';
import { BENCH_CLUSTER, BENCH_SECRET } from './net-common.js';

const cfg = JSON.parse(process.argv[2] ?? '{}') as { senders: number[]; tls?: { key: string; cert: string; ca: string } };
let received = 0;
const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
let waitFor = -1;
const t = await PeerTransport.start<ProbeMessage>({
  id: 2,
  clusterId: BENCH_CLUSTER,
  secret: BENCH_SECRET,
  codec: probeCodec,
  peers: Object.fromEntries(cfg.senders.map((s) => [s, null])),
  ...(cfg.tls ? { tls: cfg.tls } : {}),
  onMessage: () => {
    received++;
    if (received === waitFor) {
      waitFor = -1;
      process.send!({ type: 'done', count: received, cpuUs: cpuUs() });
    }
  },
});
process.on('message', (m: { type: string; count?: number }) => {
  if (m.type === 'wait') {
    if (received >= m.count!) process.send!({ type: 'done', count: received, cpuUs: cpuUs() });
    else waitFor = m.count!;
  }
  if (m.type === 'exit') void t.close().then(() => process.exit(0));
});
process.send!({ type: 'ready', address: t.address });
