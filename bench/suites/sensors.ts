// `npm run bench -- sensors [--samples N] [--no-strace]`
//
// Cost of one full HostSensors.sample() (per-core load from /proc/stat, power from RAPL or the
// model, cpufreq when present), in microseconds, and the child processes spawned per sample.
// Variants side by side in one run:
//   live        this machine, root '/' (here: no RAPL, so the power model)
//   rapl-2s     the two-socket fixture (160 CPUs, 4 RAPL zones) copied to a temp dir
//   naive       readFileSync('/proc/stat') + split-based parse of the same counters
//   si          systeminformation.currentLoad(), the call the design warns about (control); it
//               returns a cached result when called again within 200 ms, so calls are 250 ms apart
// Child processes are counted two ways, neither assumed:
//   nodeApi     every child_process entry point is wrapped (syncBuiltinESMExports) while sampling
//   kernel      the sampling loop runs in a child under `strace -f`, counting fork/vfork and
//               clone/clone3 without CLONE_THREAD between two getppid() markers; the si control
//               shows the method does see spawns.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HostSensors } from '../../controller/sensors/host-sensors.js';
import { copyFixture, removeFixture } from '../../test/host/helpers/fixture.js';

const SI_GAP_MS = 250;
const require = createRequire(import.meta.url);

interface Stats {
  p50: number;
  p99: number;
  mean: number;
  max: number;
}

function stats(us: Float64Array): Stats {
  const s = Float64Array.from(us).sort();
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  let sum = 0;
  for (const v of s) sum += v;
  const r = (x: number) => Math.round(x * 10) / 10;
  return { p50: r(q(0.5)), p99: r(q(0.99)), mean: r(sum / s.length), max: r(s[s.length - 1]!) };
}

/** Wraps every child_process entry point; returns a counter. */
function hookChildProcess(): { count: () => number; reset: () => void } {
  const cp = require('node:child_process') as Record<string, unknown>;
  let n = 0;
  for (const k of ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork']) {
    const orig = cp[k] as (...a: unknown[]) => unknown;
    cp[k] = function (this: unknown, ...a: unknown[]) {
      n++;
      return orig.apply(this, a);
    };
  }
  syncBuiltinESMExports();
  return { count: () => n, reset: () => (n = 0) };
}

function timeSamples(sensors: HostSensors, n: number): Float64Array {
  for (let i = 0; i < 200; i++) sensors.sample();
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    sensors.sample();
    out[i] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  return out;
}

function naiveSample(): number {
  const text = readFileSync('/proc/stat', 'utf8');
  let busy = 0;
  for (const line of text.split('\n')) {
    if (!/^cpu\d/.test(line)) continue;
    const v = line.split(/\s+/).slice(1).map(Number);
    busy += v[0]! + v[1]! + v[2]! + v[5]! + v[6]!;
  }
  return busy;
}

/** Runs this file as a child under strace; returns processes created per sample. */
function kernelSpawns(mode: 'verdant' | 'si', samples: number): { perSample: number; forks: number; samples: number } | { error: string } {
  const trace = join(mkdtempSync(join(tmpdir(), 'verdant-bench-strace-')), 'trace.txt');
  try {
    const r = spawnSync('strace', ['-f', '-qq', '-e', 'trace=clone,clone3,fork,vfork,execve,getppid', '-o', trace, process.execPath, fileURLToPath(import.meta.url)], {
      env: { ...process.env, VERDANT_SENSORS_AUDIT: mode, VERDANT_SENSORS_AUDIT_SAMPLES: String(samples) },
      encoding: 'utf8',
      timeout: 300000,
    });
    if (r.error) return { error: `strace: ${r.error.message}` };
    if (r.status !== 0) return { error: `strace exited ${r.status}: ${r.stderr.trim().slice(0, 300)}` };
    const lines = readFileSync(trace, 'utf8').split('\n');
    const main = /^(\d+)\s+execve/.exec(lines[0] ?? '')?.[1];
    // strace pads the pid column to a width: "8426  getppid()" but "29418 getppid()".
    const marker = new RegExp(`^${main ?? 'none'}\\s+getppid\\(`);
    const markers = lines.map((l, i) => (marker.test(l) ? i : -1)).filter((i) => i >= 0);
    if (!main || markers.length < 2) return { error: 'markers not found in the strace output' };
    let forks = 0;
    for (const l of lines.slice(markers[0]! + 1, markers[markers.length - 1]!)) {
      if (/ (v?fork)\(/.test(l)) forks++;
      else if (/ clone3?\(/.test(l) && !l.includes('CLONE_THREAD')) forks++;
    }
    return { perSample: forks / samples, forks, samples };
  } finally {
    rmSync(dirname(trace), { recursive: true, force: true });
  }
}

/** Child mode: sample between two getppid() markers, for the strace audit. */
async function auditChild(mode: string, samples: number): Promise<void> {
  if (mode === 'verdant') {
    const s = await HostSensors.open({ systeminformation: false });
    for (let i = 0; i < 50; i++) s.sample();
    void process.ppid;
    for (let i = 0; i < samples; i++) s.sample();
    void process.ppid;
    s.close();
  } else {
    const si = await import('systeminformation');
    await si.currentLoad();
    void process.ppid;
    for (let i = 0; i < samples; i++) {
      await new Promise((r) => setTimeout(r, SI_GAP_MS));
      await si.currentLoad();
    }
    void process.ppid;
  }
}

export default async function sensorsBench(args: string[]): Promise<Record<string, unknown>> {
  const arg = (name: string, def: number) => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : def;
  };
  const samples = arg('--samples', 5000);
  const useStrace = !args.includes('--no-strace');
  const hook = hookChildProcess();

  process.stderr.write(`sensors: ${samples} samples per variant\n`);
  const live = await HostSensors.open({ systeminformation: false });
  hook.reset();
  const liveUs = timeSamples(live, samples);
  const liveSpawns = hook.count();
  const liveSource = live.powerSource;
  const liveCpus = live.topology.online.length;
  live.close();

  const root = copyFixture('intel-2s-dram');
  let rapl: Record<string, unknown>;
  try {
    const s = await HostSensors.open({ root });
    hook.reset();
    const us = timeSamples(s, samples);
    rapl = { root: 'test/fixtures/intel-2s-dram (temp copy)', source: s.powerSource, cpus: s.topology.online.length, zones: s.rapl.counted.length, sampleUs: stats(us), childProcessesPerSample: { nodeApi: hook.count() / samples } };
    s.close();
  } finally {
    removeFixture(root);
  }

  const naive = new Float64Array(samples);
  for (let i = 0; i < samples; i++) {
    const t0 = process.hrtime.bigint();
    naiveSample();
    naive[i] = Number(process.hrtime.bigint() - t0) / 1000;
  }

  const si = await import('systeminformation');
  const siN = 8;
  await si.currentLoad();
  hook.reset();
  const siUs = new Float64Array(siN);
  for (let i = 0; i < siN; i++) {
    await new Promise((r) => setTimeout(r, SI_GAP_MS));
    const t0 = process.hrtime.bigint();
    await si.currentLoad();
    siUs[i] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  const siSpawns = hook.count() / siN;

  let kernel: Record<string, unknown> = { skipped: '--no-strace' };
  if (useStrace) {
    process.stderr.write('sensors: strace audit (verdant, then systeminformation control)\n');
    kernel = { verdant: kernelSpawns('verdant', 2000), systeminformationControl: kernelSpawns('si', 8) };
  }
  const liveStats = stats(liveUs);
  const naiveStats = stats(naive);
  const siStats = stats(siUs);
  const kv = kernel['verdant'] as { perSample?: number } | undefined;
  return {
    samples,
    live: {
      root: '/',
      source: liveSource,
      cpus: liveCpus,
      sampleUs: liveStats,
      childProcessesPerSample: { nodeApi: liveSpawns / samples, kernel: kv?.perSample ?? null },
    },
    'rapl-2s': rapl,
    naive: { what: 'readFileSync(/proc/stat) + split parse, load only', sampleUs: naiveStats },
    si: { what: 'systeminformation.currentLoad()', samples: siN, sampleUs: siStats, childProcessesPerSample: { nodeApi: siSpawns } },
    kernelAudit: kernel,
    ratios: {
      naiveOverLiveP50: Math.round((naiveStats.p50 / liveStats.p50) * 100) / 100,
      siOverLiveP50: Math.round(siStats.p50 / liveStats.p50),
    },
    underOneMs: liveStats.p99 < 1000 && ((rapl['sampleUs'] as Stats).p99 < 1000),
  };
}

const auditMode = process.env['VERDANT_SENSORS_AUDIT'];
if (auditMode) await auditChild(auditMode, Number(process.env['VERDANT_SENSORS_AUDIT_SAMPLES'] ?? 1000));
