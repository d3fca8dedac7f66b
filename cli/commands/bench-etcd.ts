// `verdant bench etcd`: a local 3-member etcd on loopback (data on disk, fsync on) to aim
// `verdant load` at; prints its target URL and runs until Ctrl-C, then deletes its data.
import type { Command } from 'commander';
import { benchCommand, intOption } from '../options.js';

export function register(program: Command): void {
  benchCommand(program)
    .command('etcd')
    .description('run a local etcd cluster on loopback for `verdant load` (prints its etcd:// URL; Ctrl-C stops it)')
    .option('--members <n>', 'cluster size', '3')
    .option('--install-etcd', 'if etcd is missing and this runs as root, apt-get install etcd-server')
    .action(async (o: { members: string; installEtcd?: boolean }) => {
      const members = intOption('--members', o.members, 1, 7)!;
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
