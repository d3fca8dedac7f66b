// `verdant host probe | power | cap`: what this machine offers, what it draws, and a power cap
// that holds until Ctrl-C. Heavy modules load inside the actions.
import type { Command } from 'commander';
import { ConfigError } from '../../runtime/common/config-error.js';
import { intOption, positiveOption } from '../options.js';

interface CommonOpts {
  sysfsRoot: string;
  hostProfile?: string;
}

const positiveNumber = (field: string, raw: string): number => positiveOption(field, raw)!;
const positiveInt = (field: string, raw: string): number => intOption(field, raw, 1)!;

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

async function openSensors(o: CommonOpts, systeminformation: boolean) {
  const { HostSensors } = await import('../../controller/sensors/host-sensors.js');
  return HostSensors.open({ root: o.sysfsRoot, ...(o.hostProfile !== undefined ? { hostProfile: o.hostProfile } : {}), systeminformation });
}

/** Actuator range errors are bad input, like configuration errors: exit code 2. */
async function asConfigErrors<T>(fn: () => Promise<T>): Promise<T> {
  const { ActuatorRangeError } = await import('../../controller/actuators/types.js');
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ActuatorRangeError) throw new ConfigError(err.field, err.message);
    throw err;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

export function register(program: Command): void {
  const host = program.command('host').description('host sensors and actuators: RAPL or modelled power, per-core load, power caps');

  host
    .command('probe')
    .description('show capabilities (RAPL zones and limits, hotplug, cpufreq, cgroups, pinning) and current readings with their source')
    .option('--json', 'print one JSON object')
    .option('--sysfs-root <dir>', 'root for sysfs/procfs/cgroupfs paths (fixture trees)', '/')
    .option('--host-profile <name|file>', 'host power profile (default: matched by CPU model)')
    .option('--interval <ms>', 'how long to measure for the readings', '500')
    .action(async (o: CommonOpts & { json?: boolean; interval: string }) => {
      const interval = positiveInt('interval', o.interval);
      const sensors = await openSensors(o, true);
      try {
        await sleep(interval);
        const s = sensors.sample();
        const caps = sensors.capabilities();
        if (o.json) {
          const perCpu: Record<string, number> = {};
          for (const id of s.load.online) perCpu[`cpu${id}`] = s.load.perCpu[id]!;
          console.log(JSON.stringify({ capabilities: caps, reading: { intervalMs: s.intervalMs, power: s.power, load: { util: s.load.util, busyCpus: s.load.busyCpus, steal: s.load.steal, perCpu } } }));
          return;
        }
        const inv = caps.inventory;
        const lines: string[] = [];
        lines.push(`root        ${caps.root}`);
        lines.push(`cpu         ${inv.cpuModel}: ${caps.cpus.online.length} online logical CPUs, ${caps.cpus.cores} cores, ${caps.cpus.packages} package(s) [${inv.via}]`);
        if (inv.temperatureC !== null) lines.push(`temperature ${inv.temperatureC} °C`);
        const prof = caps.power.profile;
        lines.push(`power       source=${caps.power.source}: ${caps.power.reason}`);
        if (prof) lines.push(`profile     ${prof.name} (${prof.how}${prof.matched ? '' : ', not matched to this CPU'}) ${prof.file}`);
        if (caps.model) lines.push(`model       idle ${caps.model.idleWatts.toFixed(2)} W + ${caps.model.coreWatts.toFixed(2)} W per busy core, max ${caps.model.maxWatts.toFixed(2)} W`);
        lines.push(`rapl        ${caps.rapl.present ? (caps.rapl.readable ? 'present, readable' : `present, NOT readable: ${caps.rapl.error}`) : `absent (${caps.rapl.error})`}`);
        for (const z of caps.rapl.zones) {
          const limits = z.limits.map((l) => `${l.name ?? 'limit'} ${l.powerLimitW?.toFixed(2) ?? '?'} W/${l.timeWindowUs ?? '?'} us${l.writable ? '' : ' (read-only)'}`).join(', ');
          lines.push(`  ${z.id.padEnd(16)} ${z.name.padEnd(10)} ${z.counted ? 'counted' : 'not summed'}${z.energyReadable ? '' : ' energy unreadable'}${limits ? `; ${limits}` : '; no limit files'}`);
        }
        for (const i of caps.rapl.ignored) lines.push(`  ${i.id.padEnd(16)} ignored: ${i.reason}`);
        const { formatCpuList } = await import('../../controller/sensors/sysfs.js');
        lines.push(`hotplug     ${caps.hotplug.available ? `CPUs ${formatCpuList(caps.hotplug.cpus)} (${caps.hotplug.reason})` : caps.hotplug.reason}`);
        lines.push(`cpufreq     ${caps.cpufreq.available ? `${caps.cpufreq.driver ?? ''} governor=${caps.cpufreq.governor} (${caps.cpufreq.governors?.join(' ')}) max=${caps.cpufreq.maxKHz} kHz hw=${caps.cpufreq.hwMinKHz}-${caps.cpufreq.hwMaxKHz} kHz` : caps.cpufreq.reason}`);
        lines.push(`cgroup      ${caps.cgroup.version ? `v${caps.cgroup.version} at ${caps.cgroup.cpuRoot}` : caps.cgroup.reason}`);
        lines.push(`pinning     ${caps.pinning.available ? caps.pinning.reason : `unavailable: ${caps.pinning.reason}`}`);
        const { formatPowerReading } = await import('../../controller/sensors/power-source.js');
        lines.push(`reading     ${formatPowerReading(s.power)} over ${s.intervalMs.toFixed(0)} ms`);
        if (s.power.fallbackReason) lines.push(`            (modelled because: ${s.power.fallbackReason})`);
        for (const z of s.power.zones ?? []) lines.push(`  ${z.id.padEnd(16)} ${z.name.padEnd(10)} ${z.watts.toFixed(2)} W`);
        const per = s.load.online.map((id) => s.load.perCpu[id]!);
        const detail =
          per.length <= 16
            ? s.load.online.map((id) => `cpu${id} ${pct(s.load.perCpu[id]!)}`).join(', ')
            : `${per.length} CPUs, min ${pct(Math.min(...per))}, max ${pct(Math.max(...per))}`;
        lines.push(`load        util ${pct(s.load.util)} (${detail}), steal ${pct(s.load.steal)}`);
        console.log(lines.join('\n'));
      } finally {
        sensors.close();
      }
    });

  host
    .command('power')
    .description('print watts, joules and their source once per interval until Ctrl-C')
    .option('--interval <ms>', 'sampling interval in milliseconds', '1000')
    .option('--sysfs-root <dir>', 'root for sysfs/procfs/cgroupfs paths (fixture trees)', '/')
    .option('--host-profile <name|file>', 'host power profile (default: matched by CPU model)')
    .option('--count <n>', 'stop after n lines')
    .option('--json', 'one JSON object per line')
    .action(async (o: CommonOpts & { interval: string; count?: string; json?: boolean }) => {
      const interval = positiveInt('interval', o.interval);
      const count = o.count !== undefined ? positiveInt('count', o.count) : Infinity;
      const sensors = await openSensors(o, false);
      const { formatPowerReading } = await import('../../controller/sensors/power-source.js');
      if (!o.json) console.log(`# ${sensors.powerReason}`);
      let n = 0;
      await new Promise<void>((resolve) => {
        const stop = () => {
          clearInterval(timer);
          process.removeListener('SIGINT', stop);
          process.removeListener('SIGTERM', stop);
          resolve();
        };
        const timer = setInterval(() => {
          const s = sensors.sample();
          const t = new Date().toISOString();
          if (o.json) console.log(JSON.stringify({ t, intervalMs: s.intervalMs, watts: s.power.watts, joules: s.power.joules, source: s.power.source, ...(s.power.model ? { model: s.power.model } : {}), ...(s.power.fallbackReason ? { fallbackReason: s.power.fallbackReason } : {}), util: s.load.util }));
          else console.log(`${t} ${formatPowerReading(s.power)}`);
          if (++n >= count) stop();
        }, interval);
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      sensors.close();
    });

  host
    .command('cap')
    .description('cap host power with the best available actuator (RAPL limit, else cgroup CPU quota via the power model); holds until Ctrl-C, then restores')
    .requiredOption('--watts <w>', 'power cap for the host, in watts')
    .option('--dry-run', 'print what would be written and exit')
    .option('--sysfs-root <dir>', 'root for sysfs/procfs/cgroupfs paths (fixture trees)', '/')
    .option('--host-profile <name|file>', 'host power profile (default: matched by CPU model)')
    .option('--actuator <kind>', 'auto | rapl | cgroup-quota', 'auto')
    .option('--pid <pid>', 'process to put under the emulated cap (repeatable)', collect, [] as string[])
    .option('--cgroup <name>', 'cgroup for the emulated cap (created if missing, removed on restore)', 'verdant')
    .option('--time-window-ms <ms>', 'RAPL constraint_0 time window')
    .action(async (o: CommonOpts & { watts: string; dryRun?: boolean; actuator: string; pid: string[]; cgroup: string; timeWindowMs?: string }) => {
      const watts = positiveNumber('watts', o.watts);
      if (!['auto', 'rapl', 'cgroup-quota'].includes(o.actuator)) throw new ConfigError('actuator', `must be auto, rapl or cgroup-quota, got ${JSON.stringify(o.actuator)}`);
      const pids = o.pid.map((p) => positiveInt('pid', p));
      const timeWindowUs = o.timeWindowMs !== undefined ? positiveNumber('time-window-ms', o.timeWindowMs) * 1000 : undefined;
      const sensors = await openSensors(o, false);
      const { choosePowerCap } = await import('../../controller/actuators/power-cap.js');
      const { RestoreGuard } = await import('../../controller/actuators/restore-guard.js');
      const choice = choosePowerCap({
        paths: sensors.paths,
        rapl: sensors.rapl,
        cgroup: sensors.cgroup,
        model: sensors.model,
        dryRun: o.dryRun ?? false,
        prefer: o.actuator as 'auto' | 'rapl' | 'cgroup-quota',
        group: o.cgroup,
        pids,
        freqFactor: () => sensors.freqFactor(),
        ...(timeWindowUs !== undefined ? { timeWindowUs } : {}),
      });
      const a = choice.actuator;
      for (const c of choice.considered) console.log(`# ${c.kind}: ${c.available ? 'available' : 'unavailable'} (${c.reason})`);
      if (o.dryRun) {
        // The sensors stay open through apply(): the emulated cap reads the current frequency.
        const out = await asConfigErrors(() => a.apply(watts)).finally(() => sensors.close());
        console.log(`actuator=${a.kind} ${out.summary}`);
        for (const c of out.changes) console.log(`  ${c.target}: ${c.from} -> ${c.to}`);
        return;
      }
      const guard = new RestoreGuard({ log: (l) => console.log(l), onSignal: () => process.exit(0) });
      guard.add(a);
      try {
        const out = await asConfigErrors(() => a.apply(watts)).finally(() => sensors.close());
        console.log(`actuator=${a.kind} ${out.summary}`);
        for (const c of out.changes) console.log(`  ${c.target}: ${c.from} -> ${c.to}`);
      } catch (err) {
        guard.restoreAll('apply failed');
        guard.dispose();
        throw err;
      }
      if (a.kind === 'cgroup-quota' && pids.length === 0) console.log(`# note: no --pid given; the cap applies to processes placed in cgroup ${o.cgroup}`);
      console.log('cap applied; holding until Ctrl-C (SIGINT/SIGTERM restores the previous values)');
      // Keep the process alive; the guard restores and exits on a signal.
      setInterval(() => {}, 1 << 30);
    });
}
