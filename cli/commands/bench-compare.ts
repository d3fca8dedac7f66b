// `verdant bench compare --peer etcd`: verdant and etcd side by side on this machine.
import type { Command } from 'commander';
import { ConfigError } from '../../runtime/common/config-error.js';
import { benchCommand, intOption, positiveOption } from '../options.js';

interface CompareCliOptions {
  peer: string;
  duration?: string;
  valueSize?: string;
  windows?: string;
  maxWindow?: string;
  connections?: string;
  profile: string[];
  profileDuration?: string;
  json?: boolean;
  installEtcd?: boolean;
}

export function register(program: Command): void {
  benchCommand(program)
    .command('compare')
    .description(
      'measure verdant and etcd side by side, each on a fresh 3-member cluster: max durable put throughput, p50/p99 at 50% of etcd max, ' +
        'server CPU per op, and optionally workload profiles (--profile)',
    )
    .requiredOption('--peer <name>', 'the system to compare against: etcd')
    .option('--duration <s>', 'seconds per measurement step', '10')
    .option('--value-size <bytes>', 'value size of each put', '1024')
    .option('--windows <list>', 'closed-loop windows tried for the maximum, comma-separated', '16,64,256,1024')
    .option('--max-window <n>', 'extend the probe by 4x windows while still gaining, up to this', '16384')
    .option('--connections <n>', 'connections per member', '1')
    .option(
      '--profile <name|file>',
      'also run this workload profile on both clusters (shipped name such as ycsb-a, or a YAML file); repeatable. ' +
        "Percentage rates resolve against etcd's measured max for both systems",
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option('--profile-duration <s>', 'fit each whole profile into this many seconds (or "90s", "2m"); default 10')
    .option('--json', 'print only the JSON result line (no table)')
    .option('--install-etcd', 'if etcd is missing and this runs as root, apt-get install etcd-server')
    .action(async (o: CompareCliOptions) => {
      if (o.peer !== 'etcd') throw new ConfigError('--peer', `only etcd is supported (got ${JSON.stringify(o.peer)})`);
      const durationS = intOption('--duration', o.duration, 1, 3600)!;
      const valueSize = intOption('--value-size', o.valueSize, 0, 1024 * 1024)!;
      const connections = intOption('--connections', o.connections, 1, 64)!;
      const windows = (o.windows ?? '').split(',').map((w, i) => intOption(`--windows[${i}]`, w.trim(), 1, 100_000)!);
      const maxWindow = intOption('--max-window', o.maxWindow, 1, 1_000_000)!;
      const { parseDuration } = await import('../../bench/loadgen/profile/schema.js');
      const profileDurationS = positiveOption('--profile-duration', o.profileDuration, (s) => parseDuration(/^\d+(\.\d+)?$/.test(s) ? Number(s) : s));
      if (profileDurationS !== undefined && o.profile.length === 0) throw new ConfigError('--profile-duration', 'needs at least one --profile');
      const { compareWithEtcd, compareTable, DEFAULT_COMPARE_OPTIONS } = await import('../../bench/compare/compare.js');
      const { validateCompareProfiles } = await import('../../bench/compare/profiles.js');
      const profileS = profileDurationS ?? DEFAULT_COMPARE_OPTIONS.profileDurationS;
      // Every profile is checked before any cluster starts: a typo costs no benchmark time.
      validateCompareProfiles(o.profile, profileS);
      const { EtcdCluster } = await import('../../bench/peers/etcd.js');
      const { createVerdantCluster, VERDANT_UNAVAILABLE_NOTE } = await import('../../bench/peers/verdant.js');
      const log = (l: string) => process.stderr.write(`${l}\n`);
      const ac = new AbortController();
      const onSigint = () => ac.abort('SIGINT');
      process.once('SIGINT', onSigint);
      try {
        const result = await compareWithEtcd(
          new EtcdCluster({ allowInstall: o.installEtcd === true, log }),
          createVerdantCluster(),
          {
            ...DEFAULT_COMPARE_OPTIONS,
            durationS,
            valueSize,
            windows,
            maxWindow,
            connections,
            profiles: o.profile,
            profileDurationS: profileS,
            log,
            signal: ac.signal,
          },
          VERDANT_UNAVAILABLE_NOTE,
        );
        if (!o.json) process.stdout.write(compareTable(result) + '\n');
        process.stdout.write(JSON.stringify({ bench: 'compare', ...result }) + '\n');
        if (ac.signal.aborted) process.exitCode = 130;
      } finally {
        process.off('SIGINT', onSigint);
      }
    });
}
