// Which etcd client lets etcd go fastest for the least client CPU? Runs closed-loop 1 KB puts
// through each candidate against the same 3-member cluster, interleaved in rounds so drift on a
// shared machine hits all alike:
//   h2       the default `etcd://` driver: etcd's gRPC over node:http2, protobufjs messages
//   grpc-js  `etcd+grpc-js://`: @grpc/grpc-js + @grpc/proto-loader
//   etcd3    the `etcd3` npm package (grpc-js underneath; a devDependency)
//   gateway  etcd's JSON gRPC gateway (/v3/kv/put) over fetch
// Usage: npm run bench -- etcd-client [--duration S] [--windows 64,256] [--rounds N]
import { EtcdCluster } from '../peers/etcd.js';
import { totalCpuSeconds } from '../peers/proc-cpu.js';
import { newHistogram, recordUs, summarize } from '../loadgen/hist.js';
import { openTarget } from '../loadgen/targets/index.js';

type Put = (key: Buffer, value: Buffer) => Promise<unknown>;
interface Client {
  name: string;
  put: Put;
  close: () => Promise<void> | void;
}

function arg(args: string[], name: string, dflt: string): string {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : dflt;
}

async function makeClients(cluster: EtcdCluster): Promise<Client[]> {
  const clients: Client[] = [];
  const h2 = await openTarget(cluster.targetUrl());
  clients.push({ name: 'h2', put: (k, v) => h2.put(k, v), close: () => h2.close() });
  const gj = await openTarget(cluster.targetUrl().replace('etcd://', 'etcd+grpc-js://'));
  clients.push({ name: 'grpc-js', put: (k, v) => gj.put(k, v), close: () => gj.close() });
  try {
    const mod = (await import('etcd3')) as unknown as {
      Etcd3: new (o: { hosts: string[] }) => { put(k: Buffer): { value(v: Buffer): { exec(): Promise<unknown> } }; close(): void };
    };
    const e3 = new mod.Etcd3({ hosts: cluster.endpoints().map((e) => `http://${e}`) });
    clients.push({ name: 'etcd3', put: (k, v) => e3.put(k).value(v).exec(), close: () => e3.close() });
  } catch {
    process.stderr.write('etcd3 package not installed (devDependency): skipping it\n');
  }
  const eps = cluster.endpoints();
  let i = 0;
  clients.push({
    name: 'gateway',
    put: async (k, v) => {
      const res = await fetch(`http://${eps[i++ % eps.length]}/v3/kv/put`, {
        method: 'POST',
        body: JSON.stringify({ key: k.toString('base64'), value: v.toString('base64') }),
      });
      if (!res.ok) throw new Error(`gateway HTTP ${res.status}`);
      await res.arrayBuffer();
    },
    close: () => {},
  });
  return clients;
}

async function closedLoop(put: Put, window: number, seconds: number, pids: number[]) {
  const value = Buffer.alloc(1024, 7);
  const hist = newHistogram();
  let ok = 0;
  let errors = 0;
  let n = 0;
  const s0 = totalCpuSeconds(pids);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: window }, async () => {
      while (performance.now() < deadline) {
        const st = performance.now();
        try {
          await put(Buffer.from(`cli/${(n++ % 10000).toString().padStart(5, '0')}`), value);
          recordUs(hist, (performance.now() - st) * 1000);
          ok++;
        } catch {
          errors++;
        }
      }
    }),
  );
  const el = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const server = totalCpuSeconds(pids) - s0;
  const lat = summarize(hist);
  return {
    ops_per_s: Math.round(ok / el),
    client_cpu_us_per_op: Math.round((c.user + c.system) / Math.max(1, ok)),
    server_cpu_us_per_op: Math.round((server * 1e6) / Math.max(1, ok)),
    p50_ms: lat.p50_ms,
    p99_ms: lat.p99_ms,
    errors,
  };
}

export default async function etcdClient(args: string[]): Promise<Record<string, unknown>> {
  const seconds = Number(arg(args, '--duration', '5'));
  const windows = arg(args, '--windows', '64,256').split(',').map(Number);
  const rounds = Number(arg(args, '--rounds', '2'));
  const cluster = new EtcdCluster();
  await cluster.start();
  try {
    const pids = cluster.serverPids();
    const clients = await makeClients(cluster);
    const results: Record<string, Record<string, Array<Awaited<ReturnType<typeof closedLoop>>>>> = {};
    for (const c of clients) await closedLoop(c.put, 32, 1, pids); // warm-up (JIT, connections)
    for (let r = 0; r < rounds; r++) {
      for (const w of windows) {
        for (const c of clients) {
          const res = await closedLoop(c.put, w, seconds, pids);
          ((results[c.name] ??= {})[`w${w}`] ??= []).push(res);
          process.stderr.write(`round ${r + 1} window ${w} ${c.name}: ${JSON.stringify(res)}\n`);
        }
      }
    }
    for (const c of clients) await c.close();
    // Median over rounds per client and window.
    const med = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      const m = s.length >> 1;
      return s.length % 2 ? s[m]! : Math.round(((s[m - 1]! + s[m]!) / 2) * 1000) / 1000;
    };
    const summary: Record<string, Record<string, Record<string, number>>> = {};
    for (const [name, byW] of Object.entries(results)) {
      for (const [w, runs] of Object.entries(byW)) {
        (summary[name] ??= {})[w] = {
          ops_per_s: med(runs.map((x) => x.ops_per_s)),
          client_cpu_us_per_op: med(runs.map((x) => x.client_cpu_us_per_op)),
          server_cpu_us_per_op: med(runs.map((x) => x.server_cpu_us_per_op)),
          p50_ms: med(runs.map((x) => x.p50_ms)),
          p99_ms: med(runs.map((x) => x.p99_ms)),
          errors: runs.reduce((a, x) => a + x.errors, 0),
        };
      }
    }
    const ratios: Record<string, Record<string, number>> = {};
    for (const w of windows) {
      const base = summary['h2']?.[`w${w}`];
      if (!base) continue;
      for (const name of Object.keys(summary)) {
        const s = summary[name]![`w${w}`]!;
        (ratios[name] ??= {})[`w${w}_ops_vs_h2`] = Math.round((s.ops_per_s / base.ops_per_s) * 100) / 100;
        ratios[name]![`w${w}_client_cpu_vs_h2`] = Math.round((s.client_cpu_us_per_op / base.client_cpu_us_per_op) * 100) / 100;
      }
    }
    return { duration_s: seconds, windows, rounds, value_bytes: 1024, results: summary, ratios };
  } finally {
    await cluster.stop();
  }
}
