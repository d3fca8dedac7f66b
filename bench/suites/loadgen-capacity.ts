// How much load can the generator offer, and does a second thread help on this machine?
//   A. null:// target (no I/O): the scheduler's and recorder's own ceiling, 1 vs 2 threads.
//   B. etcd: open-loop 1 KB puts at a fixed rate, 1 vs 2 threads: client CPU, send lag, p99.
// Usage: npm run bench -- loadgen-capacity [--duration S] [--rates 10000,25000,50000,100000] [--etcd-rate 3000]
import { EtcdCluster } from '../peers/etcd.js';
import { profileFromObject } from '../loadgen/profile/load.js';
import { runLoad } from '../loadgen/run.js';

function arg(args: string[], name: string, dflt: string): string {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : dflt;
}

function profile(rate: number, seconds: number, workers: number) {
  return profileFromObject({
    phases: [{ type: 'constant', duration: seconds, rate }],
    operations: { write: 1 },
    keys: { count: 100_000, prefix: 'cap/' },
    values: { size: 1024 },
    concurrency: { workers, max_in_flight: 8192 },
  });
}

export default async function loadgenCapacity(args: string[]): Promise<Record<string, unknown>> {
  const seconds = Number(arg(args, '--duration', '3'));
  const rates = arg(args, '--rates', '10000,25000,50000,100000').split(',').map(Number);
  const etcdRate = Number(arg(args, '--etcd-rate', '3000'));
  const nullResults: Array<Record<string, number | boolean>> = [];
  const maxSustained: Record<string, number> = {};
  for (const workers of [1, 2]) {
    for (const rate of rates) {
      const { summary: s } = await runLoad({ profile: profile(rate, seconds, workers), target: 'null://local:1' });
      const kept = s.achieved_rate >= 0.97 * rate && s.client.send_lag_ms.p99 < 5;
      nullResults.push({
        workers,
        rate,
        achieved_rate: s.achieved_rate,
        send_lag_p99_ms: s.client.send_lag_ms.p99,
        cpu_cores_used: s.client.cpu_cores_used,
        client_cpu_us_per_op: Math.round((s.client.cpu_s * 1e6) / Math.max(1, s.ok)),
        kept_up: kept,
      });
      process.stderr.write(`null workers=${workers} rate=${rate}: ${JSON.stringify(nullResults[nullResults.length - 1])}\n`);
      if (kept) maxSustained[`workers_${workers}`] = Math.max(maxSustained[`workers_${workers}`] ?? 0, rate);
    }
  }
  const cluster = new EtcdCluster();
  await cluster.start();
  const etcdResults: Array<Record<string, number | boolean>> = [];
  try {
    // Warm etcd up once so the first variant is not penalized.
    await runLoad({ profile: profile(etcdRate / 2, 2, 1), target: cluster.targetUrl() });
    for (const round of [0, 1]) {
      for (const workers of round === 0 ? [1, 2] : [2, 1]) {
        const { summary: s } = await runLoad({ profile: profile(etcdRate, seconds * 2, workers), target: cluster.targetUrl() });
        etcdResults.push({
          workers,
          rate: etcdRate,
          achieved_rate: s.achieved_rate,
          p50_ms: s.latency.p50_ms,
          p99_ms: s.latency.p99_ms,
          send_lag_p99_ms: s.client.send_lag_ms.p99,
          client_cpu_us_per_op: Math.round((s.client.cpu_s * 1e6) / Math.max(1, s.ok)),
          errors: s.errors,
          saturated: s.client.saturated,
        });
        process.stderr.write(`etcd workers=${workers}: ${JSON.stringify(etcdResults[etcdResults.length - 1])}\n`);
      }
    }
  } finally {
    await cluster.stop();
  }
  return { duration_s: seconds, null_target: nullResults, null_max_sustained_rate: maxSustained, etcd: etcdResults };
}
