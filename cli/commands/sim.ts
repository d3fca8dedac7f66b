// `verdant sim`: seeded simulation of a replication protocol with faults, invariant checks and a
// linearizability check of the client histories. See docs/sim.md.
import type { Command } from 'commander';

interface SimCliOptions {
  protocol: string;
  seeds: string;
  from: string;
  injectBug: string[];
  json?: boolean;
  trace?: boolean;
  instances?: string;
  option: string[];
  replicas?: string;
  clients?: string;
  keys?: string;
  duration?: string;
  membershipEvery?: string;
  transferEvery?: string;
  instanceChangeEvery?: string;
  instanceChangeMax?: string;
  faults: boolean;
  faultMix?: string;
  exportHistory?: string;
  exportFailingOnly?: boolean;
  untilFailure?: boolean;
  keepGoing?: boolean;
  quiet?: boolean;
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

export function register(program: Command): void {
  program
    .command('sim')
    .description('run seeded fault-injection simulations of a protocol and check safety and linearizability')
    .option('--protocol <name>', 'protocol to simulate (see runtime/protocols/registry.ts)', 'raft')
    .option('--seeds <n>', 'number of seeds to run', '100')
    .option('--from <seed>', 'first seed', '1')
    .option('--inject-bug <name>', 'switch on a deliberately broken variant (repeatable)', collect, [])
    .option('--json', 'print the summary as one JSON object on the last line')
    .option('--trace', 'print the message trace of each run (use with --seeds 1)')
    .option('--instances <r>', 'consensus instances, for protocols that have several (multiraft)')
    .option('-o, --option <key=value>', 'protocol option (value parsed as JSON when it can be; repeatable)', collect, [])
    .option('--replicas <n>', 'replicas per run (default: 3 or 5, drawn from the seed)')
    .option('--clients <n>', 'simulated clients per run')
    .option('--keys <n>', 'distinct keys the clients use')
    .option('--duration <ms>', 'simulated milliseconds with faults and new operations')
    .option('--membership-every <ms>', 'mean ms between membership changes (0: none; default 1000)')
    .option('--transfer-every <ms>', 'mean ms between leadership transfers (0: none; default 1500)')
    .option('--instance-change-every <ms>', 'mean ms between changes of the number of instances, for protocols that support it (0: none; default 700)')
    .option('--instance-change-max <r>', 'changes pick R from 1..r (default 4)')
    .option('--no-faults', 'a clean network and no crashes')
    .option('--fault-mix <name>', 'a fixed fault mix instead of per-seed random rates (lease-stress)')
    .option('--export-history <path>', 'write each run\'s history as Porcupine JSON (a file for one seed, else a directory)')
    .option('--export-failing-only', 'with --export-history: only runs that failed')
    .option('--until-failure', 'stop at the first failing seed')
    .option('--keep-going', 'finish each run after an invariant violation (the history check then sees its effects)')
    .option('--quiet', 'no per-run lines')
    .action(async (o: SimCliOptions) => {
      const { ConfigError } = await import('../../runtime/common/config-error.js');
      const int = (v: string | undefined, field: string, min: number): number | undefined => {
        if (v === undefined) return undefined;
        const n = Number(v);
        if (!Number.isSafeInteger(n) || n < min) throw new ConfigError(field, `expected an integer >= ${min}, got ${JSON.stringify(v)}`);
        return n;
      };
      const seeds = int(o.seeds, 'seeds', 1)!;
      const from = int(o.from, 'from', 0)!;
      const protocolOptions: Record<string, unknown> = {};
      for (const kv of o.option) {
        const eq = kv.indexOf('=');
        if (eq <= 0) throw new ConfigError('option', `expected key=value, got ${JSON.stringify(kv)}`);
        const raw = kv.slice(eq + 1);
        let value: unknown = raw;
        try {
          value = JSON.parse(raw);
        } catch {
          // a bare string
        }
        protocolOptions[kv.slice(0, eq)] = value;
      }
      const instances = int(o.instances, 'instances', 1);
      if (instances !== undefined) protocolOptions.instances = instances;
      const sim: Record<string, unknown> = { trace: !!o.trace, keepHistory: !!o.exportHistory };
      const replicas = int(o.replicas, 'replicas', 1);
      if (replicas !== undefined) sim.replicas = replicas;
      const clients = int(o.clients, 'clients', 1);
      if (clients !== undefined) sim.clients = clients;
      const keys = int(o.keys, 'keys', 1);
      if (keys !== undefined) sim.keys = keys;
      const duration = int(o.duration, 'duration', 1);
      if (duration !== undefined) sim.durationMs = duration;
      const membershipEvery = int(o.membershipEvery, 'membership-every', 0);
      if (membershipEvery !== undefined) sim.membershipEvery = membershipEvery;
      const transferEvery = int(o.transferEvery, 'transfer-every', 0);
      if (transferEvery !== undefined) sim.transferEvery = transferEvery;
      const instanceChangeEvery = int(o.instanceChangeEvery, 'instance-change-every', 0);
      if (instanceChangeEvery !== undefined) sim.instanceChangeEvery = instanceChangeEvery;
      const instanceChangeMax = int(o.instanceChangeMax, 'instance-change-max', 1);
      if (instanceChangeMax !== undefined) sim.instanceChangeMax = instanceChangeMax;
      if (!o.faults) sim.faults = 'none';
      if (o.faultMix !== undefined) {
        const { FAULT_MIXES } = await import('../../runtime/sim/faults.js');
        const mix = FAULT_MIXES[o.faultMix];
        if (!mix) throw new ConfigError('fault-mix', `unknown fault mix ${JSON.stringify(o.faultMix)} (known: ${Object.keys(FAULT_MIXES).join(', ')})`);
        if (!o.faults) throw new ConfigError('fault-mix', 'cannot be combined with --no-faults');
        sim.faults = mix;
      }
      if (o.keepGoing) sim.keepGoing = true;

      // Everything that changes a run, so the printed replay command reproduces it.
      const quote = (v: string): string => (/^[\w.,:=\/-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`);
      const replayFlags = [
        ...o.injectBug.map((b) => ` --inject-bug ${b}`),
        ...(o.instances !== undefined ? [` --instances ${o.instances}`] : []),
        ...o.option.map((kv) => ` -o ${quote(kv)}`),
        ...(o.replicas !== undefined ? [` --replicas ${o.replicas}`] : []),
        ...(o.clients !== undefined ? [` --clients ${o.clients}`] : []),
        ...(o.keys !== undefined ? [` --keys ${o.keys}`] : []),
        ...(o.duration !== undefined ? [` --duration ${o.duration}`] : []),
        ...(o.membershipEvery !== undefined ? [` --membership-every ${o.membershipEvery}`] : []),
        ...(o.transferEvery !== undefined ? [` --transfer-every ${o.transferEvery}`] : []),
        ...(o.instanceChangeEvery !== undefined ? [` --instance-change-every ${o.instanceChangeEvery}`] : []),
        ...(o.instanceChangeMax !== undefined ? [` --instance-change-max ${o.instanceChangeMax}`] : []),
        ...(o.faultMix !== undefined ? [` --fault-mix ${o.faultMix}`] : []),
        ...(o.faults ? [] : [' --no-faults']),
      ].join('');
      const { runSweep, describeRunFailure, isFailure } = await import('../../runtime/sim/sweep.js');
      const { toPorcupineJson } = await import('../../runtime/sim/lincheck/history.js');
      const fs = await import('node:fs');
      const path = await import('node:path');
      if (o.exportHistory && seeds > 1) fs.mkdirSync(o.exportHistory, { recursive: true });
      const started = performance.now();
      const summary = runSweep({
        protocol: o.protocol,
        from,
        seeds,
        bugs: o.injectBug,
        protocolOptions,
        sim,
        untilFailure: !!o.untilFailure,
        onRun: (r) => {
          const failed = isFailure(r);
          if (r.trace) {
            for (const line of r.trace) console.log(line);
          }
          if (o.exportHistory && r.history && (failed || !o.exportFailingOnly)) {
            const file = seeds > 1 ? path.join(o.exportHistory, `seed-${r.seed}.json`) : o.exportHistory;
            fs.writeFileSync(file, toPorcupineJson(r.history) + '\n');
          }
          if (!o.quiet && (failed || o.trace)) {
            const line = `seed ${r.seed}: ${failed ? 'FAIL ' + describeRunFailure(r) : 'ok'} (${r.replicas} replicas, ${r.ops} ops, ${r.crashes} crashes, ${r.partitions} partitions)`;
            console.log(line);
            if (failed) console.log(`  replay: npx verdant sim --protocol ${o.protocol} --from ${r.seed} --seeds 1${replayFlags} --trace`);
          }
        },
      });
      const elapsedMs = Math.round(performance.now() - started);
      if (o.json) {
        // Wall time varies, so it stays out of --trace output (which must replay byte for byte).
        const extra = o.trace ? {} : { elapsed_ms: elapsedMs };
        console.log(JSON.stringify({ ...summary, ...extra }));
      } else {
        console.log(
          `${summary.protocol}${summary.bugs.length ? ` [bugs: ${summary.bugs.join(', ')}]` : ''}: ${summary.runs} runs, ` +
            `${summary.violations} with invariant violations, ${summary.linearizable} linearizable, ${summary.ops} ops` +
            (summary.failing_seeds.length ? `, failing seeds: ${summary.failing_seeds.join(' ')}` : '') +
            (o.trace ? '' : ` (${(elapsedMs / 1000).toFixed(1)} s)`),
        );
      }
      if (summary.failing_seeds.length > 0 && o.injectBug.length === 0) process.exitCode = 1;
    });
}
