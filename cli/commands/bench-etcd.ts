// `verdant bench etcd`: a local 3-member etcd on loopback (data on disk, fsync on) to aim
// `verdant load` at; prints its target URL and runs until Ctrl-C, then deletes its data.
import type { Command } from 'commander';
import { ConfigError } from '../../runtime/common/config-error.js';

export function register(program: Command): void {
  const bench =
    program.commands.find((c) => c.name() === 'bench') ?? program.command('bench').description('benchmarks that need running clusters');
  bench
    .command('etcd')
    .description('run a local etcd cluster on loopback for `verdant load` (prints its etcd:// URL; Ctrl-C stops it)')
    .option('--members <n>', 'cluster size', '3')
    .option('--install-etcd', 'if etcd is missing and this runs as root, apt-get install etcd-server')
    .action(async (o: { members: string; installEtcd?: boolean }) => {
      const members = Number(o.members);
      if (!Number.isInteger(members) || members < 1 || members > 7) throw new ConfigError('--members', `must be an integer in [1, 7] (got ${JSON.stringify(o.members)})`);
      const { EtcdCluster } = await import('../../bench/peers/etcd.js');
      const cluster = new EtcdCluster({ members, allowInstall: o.installEtcd === true, log: (l) => process.stderr.write(`${l}\n`) });
      await cluster.start();
      process.stderr.write(`etcd: ${members} member(s), data in ${cluster.dataDir()}, pids ${cluster.serverPids().join(' ')}; Ctrl-C stops\n`);
      process.stdout.write(`${cluster.targetUrl()}\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await cluster.stop();
      process.stderr.write('etcd: stopped, data removed\n');
    });
}
