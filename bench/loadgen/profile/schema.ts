// The workload profile format (profiles/workloads/*.yaml). docs/load.md has the reference; this
// schema is the source of truth. Every object is strict, so a misspelt key is an error that names
// it rather than a silently ignored setting.
import { z } from 'zod';

const DURATION_RE = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$/;
const UNIT_SECONDS = { ms: 0.001, s: 1, m: 60, h: 3600 } as const;

/** Seconds from a number (seconds) or a string such as "250ms", "90s", "5m", "1.5h". */
export function parseDuration(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const m = DURATION_RE.exec(v.trim());
  if (!m) return undefined;
  return Number(m[1]) * UNIT_SECONDS[m[2] as keyof typeof UNIT_SECONDS];
}

const durationField = (opts: { allowZero?: boolean } = {}) =>
  z.unknown().transform((v, ctx): number => {
    if (v === undefined) {
      ctx.addIssue({ code: 'custom', message: 'required: a duration such as 30, "90s" or "5m"' });
      return z.NEVER;
    }
    const s = parseDuration(v);
    if (s === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected a duration: seconds, or a string like "250ms", "90s", "5m", "1h" (got ${JSON.stringify(v)})` });
      return z.NEVER;
    }
    if (opts.allowZero ? s < 0 : s <= 0) {
      ctx.addIssue({ code: 'custom', message: `duration must be ${opts.allowZero ? 'non-negative' : 'positive'} (got ${JSON.stringify(v)})` });
      return z.NEVER;
    }
    return s;
  });

/** A rate: ops/s as a number, or "N%" of the profile's target_rate. */
export type RateValue = { ops: number } | { percent: number };

const rateField = z.unknown().transform((v, ctx): RateValue => {
  if (v === undefined) {
    ctx.addIssue({ code: 'custom', message: 'required: a rate in ops/s, or a percentage of target_rate like "40%"' });
    return z.NEVER;
  }
  if (typeof v === 'number' && Number.isFinite(v)) {
    if (v < 0) {
      ctx.addIssue({ code: 'custom', message: `rate must be >= 0 ops/s (got ${v})` });
      return z.NEVER;
    }
    return { ops: v };
  }
  if (typeof v === 'string') {
    const m = /^(\d+(?:\.\d+)?)\s*%$/.exec(v.trim());
    if (m) return { percent: Number(m[1]) };
  }
  ctx.addIssue({ code: 'custom', message: `expected a rate: ops/s as a number, or a percentage of target_rate like "40%" (got ${JSON.stringify(v)})` });
  return z.NEVER;
});

const weight = z.number().min(0, 'weight must be >= 0').finite();

const constantPhase = z
  .object({ type: z.literal('constant'), duration: durationField(), rate: rateField })
  .strict();

const stepPhase = z
  .object({
    type: z.literal('step'),
    /** Rates held in turn, each for `hold`. */
    levels: z.array(rateField).min(1, 'a step phase needs at least one level'),
    hold: durationField(),
  })
  .strict();

const rampPhase = z
  .object({ type: z.literal('ramp'), duration: durationField(), from: rateField, to: rateField })
  .strict();

const sinePhase = z
  .object({
    type: z.literal('sine'),
    duration: durationField(),
    period: durationField(),
    min: rateField,
    max: rateField,
    /** Where in the cycle the phase starts, as a fraction of the period: 0 = at min, 0.5 = at max. */
    shift: z.number().min(0, 'shift must be in [0, 1)').lt(1, 'shift must be in [0, 1)').default(0),
  })
  .strict();

const spikePhase = z
  .object({
    type: z.literal('spike'),
    duration: durationField(),
    base: rateField,
    peak: rateField,
    /** When the spike starts, from the start of the phase. */
    at: durationField({ allowZero: true }),
    /** How long the spike lasts. */
    length: durationField(),
  })
  .strict();

const replayPhase = z
  .object({
    type: z.literal('replay'),
    /** CSV with a header `timestamp,rate`; relative to the profile file. */
    file: z.string().min(1, 'file must name a CSV trace'),
    /** step: hold each row's rate until the next row; linear: interpolate between rows. */
    interpolate: z.enum(['step', 'linear']).default('step'),
    /** Multiplies the trace's time axis (0.1 plays a 10-minute trace in 1 minute). */
    time_scale: z.number().positive('time_scale must be > 0').finite().default(1),
    /** Multiplies the trace's rates (applied before --rate-scale). */
    rate_scale: z.number().positive('rate_scale must be > 0').finite().default(1),
  })
  .strict();

export const phaseSchema = z.discriminatedUnion('type', [constantPhase, stepPhase, rampPhase, sinePhase, spikePhase, replayPhase]);
export type PhaseInput = z.infer<typeof phaseSchema>;

const operationsSchema = z
  .object({
    read: weight.default(0),
    write: weight.default(0),
    /** Writes to a fresh key past the current key count (YCSB insert; `latest` favours these). */
    insert: weight.default(0),
    /** Read-modify-write: get, then compare-and-set on the value read. */
    cas: weight.default(0),
    scan: weight.default(0),
    delete: weight.default(0),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.read + o.write + o.insert + o.cas + o.scan + o.delete <= 0) {
      ctx.addIssue({ code: 'custom', message: 'at least one operation needs a weight > 0' });
    }
  });

const keysSchema = z
  .object({
    /** Keys that exist at the start (and that preload writes); inserts add more. */
    count: z.number().int('count must be an integer').min(1, 'count must be >= 1').max(1e9, 'count must be <= 1e9'),
    distribution: z.enum(['uniform', 'zipfian', 'latest']).default('uniform'),
    /** Zipfian skew; used by zipfian and latest. */
    theta: z.number().gt(0, 'theta must be in (0, 1)').lt(1, 'theta must be in (0, 1)').optional(),
    /** Spread popular zipfian ranks over the key space instead of the lowest keys (YCSB's default). */
    scramble: z.boolean().default(true),
    prefix: z.string().max(64, 'prefix must be at most 64 characters').default('k/'),
  })
  .strict()
  .superRefine((k, ctx) => {
    if (k.theta !== undefined && k.distribution === 'uniform') {
      ctx.addIssue({ code: 'custom', path: ['theta'], message: 'theta applies to zipfian and latest, not uniform' });
    }
  });

const valuesSchema = z
  .object({
    distribution: z.enum(['constant', 'uniform', 'weighted']).default('constant'),
    /** constant: every value has this many bytes. */
    size: z.number().int('size must be an integer').min(0).max(16 * 1024 * 1024).optional(),
    /** uniform: sizes drawn evenly from [min, max]. */
    min: z.number().int('min must be an integer').min(0).optional(),
    max: z.number().int('max must be an integer').min(0).max(16 * 1024 * 1024).optional(),
    /** weighted: sizes with relative weights. */
    sizes: z
      .array(z.object({ bytes: z.number().int().min(0).max(16 * 1024 * 1024), weight }).strict())
      .optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    const need = (field: 'size' | 'min' | 'max' | 'sizes') => {
      if (v[field] === undefined) ctx.addIssue({ code: 'custom', path: [field], message: `required when distribution is ${v.distribution}` });
    };
    const forbid = (fields: Array<'size' | 'min' | 'max' | 'sizes'>) => {
      for (const f of fields) {
        if (v[f] !== undefined) ctx.addIssue({ code: 'custom', path: [f], message: `not used when distribution is ${v.distribution}` });
      }
    };
    if (v.distribution === 'constant') {
      need('size');
      forbid(['min', 'max', 'sizes']);
    } else if (v.distribution === 'uniform') {
      need('min');
      need('max');
      forbid(['size', 'sizes']);
      if (v.min !== undefined && v.max !== undefined && v.min > v.max) {
        ctx.addIssue({ code: 'custom', path: ['max'], message: `max (${v.max}) must be >= min (${v.min})` });
      }
    } else {
      need('sizes');
      forbid(['size', 'min', 'max']);
      if (v.sizes && v.sizes.reduce((s, x) => s + x.weight, 0) <= 0) {
        ctx.addIssue({ code: 'custom', path: ['sizes'], message: 'at least one size needs a weight > 0' });
      }
    }
  });

const consistencySchema = z
  .object({ linearizable: weight.default(1), stale: weight.default(0) })
  .strict()
  .superRefine((c, ctx) => {
    if (c.linearizable + c.stale <= 0) ctx.addIssue({ code: 'custom', message: 'linearizable + stale must be > 0' });
  });

const concurrencySchema = z
  .object({
    /** Connections per target endpoint (per generator thread). */
    connections: z.number().int().min(1, 'connections must be >= 1').max(64).default(1),
    /** Requests outstanding at once (per generator thread); arrivals beyond it wait in a queue. */
    max_in_flight: z.number().int().min(1, 'max_in_flight must be >= 1').max(1_000_000).default(1024),
    /** Arrivals that may wait for a free slot; past this they are dropped and counted as errors. */
    max_queue: z.number().int().min(0).max(10_000_000).default(100_000),
    /** Generator threads; each offers an equal share of the rate as an independent Poisson stream. */
    workers: z.number().int().min(1, 'workers must be >= 1').max(64).default(1),
  })
  .strict();

const scanSchema = z
  .object({
    min_length: z.number().int().min(1, 'min_length must be >= 1').default(1),
    max_length: z.number().int().min(1, 'max_length must be >= 1').max(100_000).default(100),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.min_length > s.max_length) ctx.addIssue({ code: 'custom', path: ['max_length'], message: `max_length (${s.max_length}) must be >= min_length (${s.min_length})` });
  });

export const profileSchema = z
  .object({
    name: z.string().min(1).optional(),
    description: z.string().optional(),
    /** Seeds arrivals, keys, values and the operation mix: same seed, same request sequence. */
    seed: z.number().int().min(0).max(0xffffffff).default(1),
    /** What "100%" means in percentage rates, in ops/s. */
    target_rate: z.number().positive('target_rate must be > 0').finite().optional(),
    phases: z.array(phaseSchema).min(1, 'a profile needs at least one phase'),
    operations: operationsSchema,
    keys: keysSchema,
    values: valuesSchema,
    consistency: consistencySchema.default({ linearizable: 1, stale: 0 }),
    concurrency: concurrencySchema.default({ connections: 1, max_in_flight: 1024, max_queue: 100_000, workers: 1 }),
    scan: scanSchema.default({ min_length: 1, max_length: 100 }),
    /** Keys written before the measured run starts: a number, or "all" for keys.count. */
    preload: z.union([z.number().int().min(0, 'preload must be >= 0'), z.literal('all')]).default(0),
    /** Deadline of one operation. */
    timeout: durationField().default(10),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (typeof p.preload === 'number' && p.preload > p.keys.count) {
      ctx.addIssue({ code: 'custom', path: ['preload'], message: `preload (${p.preload}) must be <= keys.count (${p.keys.count})` });
    }
    if (p.operations.scan > 0 && p.scan.max_length > p.keys.count) {
      ctx.addIssue({ code: 'custom', path: ['scan', 'max_length'], message: `max_length (${p.scan.max_length}) must be <= keys.count (${p.keys.count})` });
    }
  });

export type ProfileInput = z.input<typeof profileSchema>;
export type ProfileDoc = z.output<typeof profileSchema>;
