// `verdant load`: run a workload profile against a target with the open-loop generator.
import type { Command } from 'commander';
import { ConfigError } from '../../runtime/common/config-error.js';
import { intOption, positiveOption } from '../options.js';

interface LoadCliOptions {
  profile: string;
  target?: string;
  dir?: string;
  rateScale?: string;
  duration?: string;
  targetRate?: string;
  workers?: string;
  seed?: string;
  out?: string;
  format?: string;
  quiet?: boolean;
  tokenFile?: string;
  ca?: string;
}

export function register(program: Command): void {
  program
    .command('load')
    .description('drive a target with a workload profile (open loop, Poisson arrivals); prints the summary as JSON')
    .requiredOption('--profile <file>', 'profile YAML, or the name of a shipped one (diurnal, step, spike, ycsb-a .. ycsb-f)')
    .option('--target <url>', 'etcd://HOST:PORT[,...] or verdant://HOST:PORT[,...] (null:// measures the generator alone)')
    .option('--dir <dir>', 'a local verdant cluster directory (from `verdant cluster up`): its endpoints and client token, instead of --target')
    .option('--rate-scale <x>', 'multiply every rate in the profile')
    .option('--duration <s>', 'fit the whole profile into this many seconds (or "90s", "5m")')
    .option('--target-rate <ops>', "replace the profile's target_rate (the base of percentage rates)")
    .option('--workers <n>', 'generator threads (overrides concurrency.workers)')
    .option('--seed <n>', 'overrides the profile seed')
    .option('--out <file>', 'write the per-second timeline and summary (.json, or .csv plus FILE.summary.json)')
    .option('--format <fmt>', 'json or csv (default: from --out)')
    .option('--token-file <file>', 'client credential for targets that authenticate (default: $VERDANT_TOKEN)')
    .option('--ca <file>', 'verdant over TLS: verify the replicas against this CA (PEM; default with --dir: the cluster\'s)')
    .option('--quiet', 'no progress line')
    .action(async (o: LoadCliOptions) => {
      const { loadProfile } = await import('../../bench/loadgen/profile/load.js');
      const { parseDuration } = await import('../../bench/loadgen/profile/schema.js');
      const { parseTargetUrl } = await import('../../bench/loadgen/target-url.js');
      const { runLoad } = await import('../../bench/loadgen/run.js');
      const { digest, formatFor, writeResult } = await import('../../bench/loadgen/output.js');

      if (o.format !== undefined && o.format !== 'json' && o.format !== 'csv') throw new ConfigError('--format', `must be json or csv (got ${JSON.stringify(o.format)})`);
      const duration = positiveOption('--duration', o.duration, (s) => parseDuration(/^\d+(\.\d+)?$/.test(s) ? Number(s) : s));
      const rateScale = positiveOption('--rate-scale', o.rateScale);
      const targetRate = positiveOption('--target-rate', o.targetRate);
      const workers = intOption('--workers', o.workers, 1, 64);
      const seed = intOption('--seed', o.seed, 0, 0xffffffff);
      let targetUrl = o.target;
      let token = process.env.VERDANT_TOKEN;
      let caFile = o.ca;
      if (o.dir !== undefined) {
        if (targetUrl !== undefined) throw new ConfigError('--dir', 'give either --dir or --target, not both');
        const lc = await import('../../runtime/replica/local-cluster.js');
        let m;
        try {
          m = lc.readManifest(o.dir);
        } catch (err) {
          throw new ConfigError('--dir', (err as Error).message);
        }
        targetUrl = `verdant://${m.replicas.map((r) => r.client).join(',')}`;
        token = lc.readToken(m.clientTokenFile);
        caFile ??= m.tls?.ca;
      }
      if (targetUrl === undefined) throw new ConfigError('--target', 'required (or --dir for a local verdant cluster)');
      const spec = parseTargetUrl(targetUrl);
      const profile = loadProfile(o.profile, {
        ...(rateScale !== undefined ? { rateScale } : {}),
        ...(duration !== undefined ? { duration } : {}),
        ...(targetRate !== undefined ? { targetRate } : {}),
      });
      if (workers !== undefined) profile.concurrency.workers = workers;
      if (seed !== undefined) profile.seed = seed;

      if (o.tokenFile !== undefined) {
        const { readFileSync } = await import('node:fs');
        try {
          token = readFileSync(o.tokenFile, 'utf8').trim();
        } catch (err) {
          throw new ConfigError('--token-file', `cannot read ${o.tokenFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        }
      }

      let tlsCa: string | undefined;
      if (caFile !== undefined) {
        const { readFileSync } = await import('node:fs');
        try {
          tlsCa = readFileSync(caFile, 'utf8');
        } catch (err) {
          throw new ConfigError('--ca', `cannot read ${caFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        }
      }

      const tty = process.stderr.isTTY === true;
      const progress = o.quiet
        ? undefined
        : (line: string) => process.stderr.write(tty ? `\r\x1b[2K${line}` : `${line}\n`);
      const ac = new AbortController();
      let sigints = 0;
      const onSigint = () => {
        sigints++;
        if (sigints > 1) process.exit(130); // a second Ctrl-C does not wait for the drain
        process.stderr.write(`${tty ? '\n' : ''}interrupted: stopping arrivals, writing partial results (Ctrl-C again to quit now)\n`);
        ac.abort('SIGINT');
      };
      process.on('SIGINT', onSigint);
      process.stderr.write(
        `verdant load: ${profile.name} (${profile.duration.toFixed(1)} s, ${profile.phases.length} phase(s)) -> ${spec.url}, ${profile.concurrency.workers} generator thread(s)\n`,
      );
      let result;
      try {
        result = await runLoad({
          profile,
          target: spec,
          signal: ac.signal,
          targetOptions: { ...(token ? { token } : {}), ...(tlsCa !== undefined ? { tlsCa } : {}) },
          ...(progress ? { progress } : {}),
          log: (l) => process.stderr.write(`${l}\n`),
        });
      } finally {
        process.off('SIGINT', onSigint);
        if (tty && progress) process.stderr.write('\n');
      }
      if (o.out) {
        const files = writeResult(result, o.out, formatFor(o.out, o.format));
        process.stderr.write(`wrote ${files.join(', ')}\n`);
      }
      process.stderr.write(digest(result) + '\n');
      process.stdout.write(JSON.stringify(result.summary) + '\n');
      if (result.summary.partial) process.exitCode = 130;
    });
}
