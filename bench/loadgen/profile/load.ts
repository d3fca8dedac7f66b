// Reads a profile file, validates it (zod) and resolves it into a Profile. Every problem becomes a
// ConfigError naming the field path (`phases[2].max`), so the CLI exits 2 with a useful message.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { ConfigError, configErrorFromZod } from '../../../runtime/common/config-error.js';
import { phaseMaxRate } from '../rate-curve.js';
import type { CompiledPhase, Profile, ValueSizes } from './profile.js';
import { DEFAULT_THETA } from './profile.js';
import type { PhaseInput, ProfileDoc, RateValue } from './schema.js';
import { profileSchema } from './schema.js';
import { readTrace, TraceError } from './trace.js';

export interface ProfileOverrides {
  /** Multiplies every rate (--rate-scale). */
  rateScale?: number;
  /** Stretches or compresses the whole timeline to this many seconds (--duration). */
  duration?: number;
  /** Replaces the profile's target_rate, the base of percentage rates. */
  targetRate?: number;
}

/** The directory of shipped profiles (profiles/workloads), found from the compiled file's place. */
export function shippedProfilesDir(): string {
  // dist/bench/loadgen/profile/load.js -> <repo>/profiles/workloads
  const here = dirname(fileURLToPath(import.meta.url));
  for (const up of ['../../../../profiles/workloads', '../../../profiles/workloads']) {
    const p = resolve(here, up);
    if (existsSync(p)) return p;
  }
  return resolve(here, '../../../../profiles/workloads');
}

/** A path as given, or the name of a shipped profile (`diurnal`, `ycsb-a`). */
export function resolveProfilePath(nameOrPath: string): string {
  if (existsSync(nameOrPath)) return nameOrPath;
  if (!nameOrPath.includes('/')) {
    const base = nameOrPath.endsWith('.yaml') ? nameOrPath : `${nameOrPath}.yaml`;
    const shipped = join(shippedProfilesDir(), base);
    if (existsSync(shipped)) return shipped;
  }
  return nameOrPath;
}

export function loadProfile(nameOrPath: string, overrides: ProfileOverrides = {}): Profile {
  const file = resolveProfilePath(nameOrPath);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('', `cannot read profile: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, file);
  }
  return parseProfile(text, { ...overrides, file, baseDir: dirname(file) });
}

/** Validates and resolves a profile given as data (the shape of the YAML document). */
export function profileFromObject(raw: unknown, opts: ProfileOverrides & { file?: string; baseDir?: string } = {}): Profile {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError('', 'a profile must be a YAML mapping (phases, operations, keys, values, ...)', opts.file);
  }
  const parsed = profileSchema.safeParse(raw);
  if (!parsed.success) throw configErrorFromZod(parsed.error, opts.file);
  return resolveProfile(parsed.data, opts);
}

export function parseProfile(text: string, opts: ProfileOverrides & { file?: string; baseDir?: string } = {}): Profile {
  const file = opts.file;
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const pos = e.linePos?.[0];
    const what = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    throw new ConfigError('', `YAML syntax error${pos ? ` at line ${pos.line}, column ${pos.col}` : ''}: ${what}`, file);
  }
  return profileFromObject(doc.toJS(), opts);
}

function checkOverride(field: string, v: number | undefined): void {
  if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw new ConfigError(field, `must be a positive number (got ${v})`);
}

function resolveProfile(p: ProfileDoc, opts: ProfileOverrides & { file?: string; baseDir?: string }): Profile {
  const file = opts.file;
  checkOverride('--rate-scale', opts.rateScale);
  checkOverride('--duration', opts.duration);
  checkOverride('--target-rate', opts.targetRate);
  const rateScale = opts.rateScale ?? 1;
  const targetRate = opts.targetRate ?? p.target_rate;

  const rate = (v: RateValue, path: string): number => {
    if ('ops' in v) return v.ops * rateScale;
    if (targetRate === undefined) {
      throw new ConfigError(path, `"${v.percent}%" needs target_rate (ops/s that 100% means) at the top of the profile`, file);
    }
    return ((v.percent / 100) * targetRate) * rateScale;
  };

  // Build phases on the profile's own time axis first; --duration rescales afterwards.
  const phases: CompiledPhase[] = [];
  let start = 0;
  p.phases.forEach((ph: PhaseInput, i: number) => {
    const at = `phases[${i}]`;
    const c = compilePhase(ph, at, start, rate, opts.baseDir ?? process.cwd(), file);
    phases.push(c);
    start += c.duration;
  });
  const natural = start;
  const timeScale = opts.duration !== undefined ? opts.duration / natural : 1;
  const scaled = timeScale === 1 ? phases : phases.map((ph) => scalePhase(ph, timeScale));
  const total = natural * timeScale;
  if (phases.every((ph) => phaseMaxRate(ph) === 0)) {
    throw new ConfigError('phases', 'every phase has rate 0: nothing would be sent', file);
  }

  const values: ValueSizes =
    p.values.distribution === 'constant'
      ? { distribution: 'constant', size: p.values.size! }
      : p.values.distribution === 'uniform'
        ? { distribution: 'uniform', min: p.values.min!, max: p.values.max! }
        : { distribution: 'weighted', sizes: p.values.sizes! };

  return {
    name: p.name ?? (file ? file.replace(/^.*\//, '').replace(/\.ya?ml$/, '') : 'profile'),
    description: p.description ?? '',
    file,
    seed: p.seed,
    phases: scaled,
    duration: total,
    operations: { ...p.operations },
    keys: {
      count: p.keys.count,
      distribution: p.keys.distribution,
      theta: p.keys.theta ?? DEFAULT_THETA,
      scramble: p.keys.scramble,
      prefix: p.keys.prefix,
    },
    values,
    consistency: { ...p.consistency },
    concurrency: { ...p.concurrency },
    scan: { ...p.scan },
    preload: p.preload === 'all' ? p.keys.count : p.preload,
    timeoutMs: p.timeout * 1000,
    rateScale,
    timeScale,
  };
}

function compilePhase(
  ph: PhaseInput,
  at: string,
  start: number,
  rate: (v: RateValue, path: string) => number,
  baseDir: string,
  file: string | undefined,
): CompiledPhase {
  switch (ph.type) {
    case 'constant':
      return { type: 'constant', start, duration: ph.duration, rate: rate(ph.rate, `${at}.rate`) };
    case 'step':
      return {
        type: 'step',
        start,
        duration: ph.hold * ph.levels.length,
        levels: ph.levels.map((l, j) => rate(l, `${at}.levels[${j}]`)),
        hold: ph.hold,
      };
    case 'ramp':
      return { type: 'ramp', start, duration: ph.duration, from: rate(ph.from, `${at}.from`), to: rate(ph.to, `${at}.to`) };
    case 'sine': {
      const min = rate(ph.min, `${at}.min`);
      const max = rate(ph.max, `${at}.max`);
      if (min > max) throw new ConfigError(`${at}.max`, `max (${max} ops/s) must be >= min (${min} ops/s)`, file);
      return { type: 'sine', start, duration: ph.duration, period: ph.period, min, max, shift: ph.shift };
    }
    case 'spike': {
      if (ph.at + ph.length > ph.duration) {
        throw new ConfigError(`${at}.length`, `the spike (at ${ph.at}s for ${ph.length}s) must end within the phase's duration (${ph.duration}s)`, file);
      }
      return {
        type: 'spike',
        start,
        duration: ph.duration,
        base: rate(ph.base, `${at}.base`),
        peak: rate(ph.peak, `${at}.peak`),
        at: ph.at,
        length: ph.length,
      };
    }
    case 'replay': {
      const path = isAbsolute(ph.file) ? ph.file : join(baseDir, ph.file);
      let trace;
      try {
        trace = readTrace(path);
      } catch (err) {
        if (err instanceof TraceError) throw new ConfigError(`${at}.file`, err.message, file);
        throw err;
      }
      const times = trace.times.map((t) => t * ph.time_scale);
      // Trace rates are absolute ops/s: rate_scale and --rate-scale apply, percentages do not.
      const rates = trace.rates.map((r) => rate({ ops: r * ph.rate_scale }, `${at}.file`));
      return { type: 'replay', start, duration: times[times.length - 1]!, times, rates, interpolate: ph.interpolate };
    }
  }
}

function scalePhase(ph: CompiledPhase, s: number): CompiledPhase {
  const base = { start: ph.start * s, duration: ph.duration * s };
  switch (ph.type) {
    case 'constant':
    case 'ramp':
      return { ...ph, ...base };
    case 'step':
      return { ...ph, ...base, hold: ph.hold * s };
    case 'sine':
      return { ...ph, ...base, period: ph.period * s };
    case 'spike':
      return { ...ph, ...base, at: ph.at * s, length: ph.length * s };
    case 'replay':
      return { ...ph, ...base, times: ph.times.map((t) => t * s) };
  }
}
