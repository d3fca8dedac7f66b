// `verdant cluster up|down`: a local cluster of replica processes (runtime/replica/local-cluster.ts).
//
//   verdant cluster up [--replicas 3] [--dir DIR] [--detach]   start (or restart) and print endpoints
//                      [--groups R] [--progress noop|skip]     a new cluster with multi-Raft (R instances)
//                      [--tls]                                 a new cluster with TLS (certificates made by openssl)
//   verdant cluster down [--dir DIR]                            stop every replica of DIR
//
// In the foreground (the default, and `npm start`), Ctrl-C stops the replicas cleanly and exits.
import path from 'node:path';
import type { Command } from 'commander';
import { ConfigError } from '../../runtime/common/config-error.js';
import { intOption } from '../options.js';

export const DEFAULT_CLUSTER_DIR = '.verdant/cluster';

const positiveInt = (field: string, v: string, max: number): number => intOption(field, v, 1, max)!;

export function register(program: Command): void {
  const cluster = program.command('cluster').description('run a local cluster of replica processes');

  cluster
    .command('up')
    .description('start a local cluster (separate processes); reuses DIR if it already holds one')
    .option('--replicas <n>', 'number of replicas for a new cluster (1..9; default 3)')
    .option('--dir <dir>', 'cluster directory (configs, secrets, data, logs)', DEFAULT_CLUSTER_DIR)
    .option('--detach', 'start in the background and return once a leader is elected')
    .option('--tick-ms <ms>', 'Raft tick of a new cluster (election timeout = 10-20 ticks)')
    .option('--groups <R>', 'a new cluster runs multi-Raft with R instances (docs/multiraft.md; change R later with verdant instances set)')
    .option('--progress <mode>', 'multi-Raft progress of a new cluster: noop (default) or skip')
    .option('--tls', 'a new cluster uses mutual TLS between replicas and TLS on the client port (makes a CA and certificates in DIR/tls with openssl)')
    .option('--wait <ms>', 'how long to wait for a leader', '30000')
    .action(async (opts: { replicas?: string; dir: string; detach?: boolean; tickMs?: string; wait: string; groups?: string; progress?: string; tls?: boolean }) => {
      const lc = await import('../../runtime/replica/local-cluster.js');
      const replicas = opts.replicas !== undefined ? positiveInt('--replicas', opts.replicas, 9) : undefined;
      if (opts.progress !== undefined && opts.progress !== 'noop' && opts.progress !== 'skip') throw new ConfigError('--progress', `expected noop or skip, got ${JSON.stringify(opts.progress)}`);
      const multi = opts.groups !== undefined || opts.progress !== undefined;
      const o: Record<string, unknown> = {};
      if (opts.tickMs !== undefined) o.raft = { tickMs: positiveInt('--tick-ms', opts.tickMs, 10_000) };
      if (multi) {
        o.groups = opts.groups !== undefined ? positiveInt('--groups', opts.groups, 16) : 1;
        o.multiraft = opts.progress !== undefined ? { progress: opts.progress } : {};
      }
      const overrides = Object.keys(o).length > 0 ? (o as never) : undefined;
      const { manifest, created } = await lc.initCluster(opts.dir, { ...(replicas !== undefined ? { replicas } : {}), ...(overrides ? { overrides } : {}), ...(opts.tls ? { tls: true } : {}) });
      const kids = new Map<number, import('node:child_process').ChildProcess>();
      const already = manifest.replicas.filter((r) => lc.runningPid(r) !== null).map((r) => r.id);
      if (already.length > 0 && !opts.detach) {
        throw new Error(`replicas ${already.join(', ')} of ${manifest.dir} are already running (detached?); stop them with: verdant cluster down --dir ${opts.dir}`);
      }
      for (const r of manifest.replicas) {
        if (!already.includes(r.id)) kids.set(r.id, lc.startReplicaProcess(manifest, r.id, { detached: opts.detach ?? false }));
      }
      const stopAll = async () => {
        await Promise.all([...kids.values()].map((k) => (k.pid !== undefined && k.exitCode === null ? lc.stopPid(k.pid, 10_000) : Promise.resolve('gone'))));
      };
      let leader: number;
      try {
        leader = await lc.waitForLeader(manifest, positiveInt('--wait', opts.wait, 3_600_000));
      } catch (e) {
        const logs = manifest.replicas.map((r) => `  ${r.log}`).join('\n');
        if (!opts.detach) await stopAll();
        throw new Error(`${(e as Error).message}\nreplica logs:\n${logs}`);
      }
      const st = await lc.clusterStatus(manifest);
      const rel = opts.dir;
      const lines = [
        `cluster ${manifest.clusterId}: ${manifest.replicas.length} replicas in ${manifest.dir} (${created ? 'new' : 'existing data'}), leader: replica ${leader}`,
        '',
        '  id  pid      role       client            peer              control',
        ...manifest.replicas.map((r) => {
          const s = st.find((x) => x.id === r.id);
          const pid = s?.ok ? String(s.status.pid) : '-';
          const role = s?.ok ? s.status.role : 'down';
          return `  ${String(r.id).padEnd(3)} ${pid.padEnd(8)} ${role.padEnd(10)} ${r.client.padEnd(17)} ${r.peer.padEnd(17)} ${r.control}`;
        }),
        '',
        `client endpoints: ${manifest.replicas.map((r) => r.client).join(',')}`,
        `client token:     ${manifest.clientTokenFile}`,
        `control token:    ${manifest.controlTokenFile} (Authorization: Bearer <token> on the control URLs: /v1/status, /v1/topology, /v1/stats, /v1/plan)`,
        ...(manifest.tls ? [`TLS:              mutual TLS between replicas and on the client port; CA ${manifest.tls.ca}, certificates in ${path.dirname(manifest.tls.ca)}`] : []),
        '',
        'try:',
        `  verdant kv put hello world --dir ${rel}`,
        `  verdant kv get hello --dir ${rel}`,
        `  verdant status --dir ${rel}`,
        `  verdant kv get hello --endpoints ${manifest.replicas.map((r) => r.client).join(',')} --token-file ${manifest.clientTokenFile}${manifest.tls ? ` --ca ${manifest.tls.ca}` : ''}`,
        opts.detach ? `  verdant cluster down --dir ${rel}` : '',
        opts.detach ? '' : 'Ctrl-C stops the cluster (data is kept; `verdant cluster up` again restarts it).',
      ];
      console.log(lines.filter((l, i) => l !== '' || i < lines.length - 1).join('\n'));
      if (opts.detach) return;

      await new Promise<void>((resolve) => {
        let stopping = false;
        const onSignal = () => {
          if (stopping) return;
          stopping = true;
          console.log('\nstopping the cluster ...');
          void stopAll().then(() => {
            console.log('cluster stopped');
            resolve();
          });
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
        for (const [id, k] of kids) {
          k.once('exit', (code, signal) => {
            if (stopping) return;
            console.error(`replica ${id} exited (${signal ?? `code ${code}`}); see ${manifest.replicas.find((r) => r.id === id)!.log}`);
            if ([...kids.values()].every((c) => c.exitCode !== null || c.signalCode !== null)) {
              console.error('every replica has exited');
              process.exitCode = 1;
              resolve();
            }
          });
        }
      });
    });

  cluster
    .command('down')
    .description('stop every replica of a local cluster (data is kept)')
    .option('--dir <dir>', 'cluster directory', DEFAULT_CLUSTER_DIR)
    .action(async (opts: { dir: string }) => {
      const lc = await import('../../runtime/replica/local-cluster.js');
      const m = lc.readManifest(opts.dir);
      const results = await Promise.all(
        m.replicas.map(async (r) => {
          const pid = lc.runningPid(r);
          if (pid === null) return `replica ${r.id}: not running`;
          const how = await lc.stopPid(pid, 10_000);
          return `replica ${r.id} (pid ${pid}): ${how === 'killed' ? 'killed after 10 s' : 'stopped'}`;
        }),
      );
      console.log(results.join('\n'));
    });
}
