// Host profiles (profiles/hosts/*.yaml): the coefficients of the CPU power model for a CPU type,
// each with its published source. Validated with zod; errors name the field path (exit code 2).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ConfigError, configErrorFromZod } from '../../runtime/common/config-error.js';

const regexString = z.string().min(1).refine(
  (s) => {
    try {
      new RegExp(s);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'not a valid regular expression' },
);

export const HostProfileSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9.-]*$/, 'lowercase letters, digits, dots and dashes'),
    description: z.string().min(1),
    /** Used for CPUs that no profile matches; the reading then says matched: false. */
    fallback: z.boolean().default(false),
    cpu: z
      .object({
        vendor: z.string().min(1),
        model: z.string().min(1),
        /** Regular expressions tried against the "model name" of /proc/cpuinfo. */
        match: z.array(regexString).min(1),
        coresPerSocket: z.number().int().positive(),
        threadsPerCore: z.number().int().min(1).max(8),
        baseMHz: z.number().positive(),
        maxTurboMHz: z.number().positive(),
      })
      .strict(),
    power: z
      .object({
        /** Package power of an idle socket, in watts. */
        idleWattsPerSocket: z.number().nonnegative(),
        /** Package power with every core busy at base frequency (the TDP), in watts. */
        loadWattsPerSocket: z.number().positive(),
        /** Dynamic power scales as (f / baseMHz) ^ freqExponent. */
        freqExponent: z.number().min(0).max(4),
      })
      .strict(),
    sources: z
      .array(
        z
          .object({
            fields: z.array(z.string().min(1)).min(1),
            citation: z.string().min(1),
            url: z.string().url().optional(),
          })
          .strict(),
      )
      .min(1),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.power.loadWattsPerSocket <= p.power.idleWattsPerSocket) {
      ctx.addIssue({ code: 'custom', path: ['power', 'loadWattsPerSocket'], message: 'must be greater than power.idleWattsPerSocket' });
    }
    if (p.cpu.maxTurboMHz < p.cpu.baseMHz) {
      ctx.addIssue({ code: 'custom', path: ['cpu', 'maxTurboMHz'], message: 'must be at least cpu.baseMHz' });
    }
  });

export type HostProfile = z.infer<typeof HostProfileSchema>;

export interface LoadedHostProfile {
  profile: HostProfile;
  file: string;
}

/** profiles/hosts in the repository (dist/controller/sensors -> ../../../profiles/hosts). */
export function defaultProfilesDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '../../../profiles/hosts');
}

export async function parseHostProfile(text: string, file: string): Promise<HostProfile> {
  const YAML = await import('yaml');
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (err) {
    throw new ConfigError('', `not valid YAML: ${err instanceof Error ? err.message : String(err)}`, file);
  }
  const r = HostProfileSchema.safeParse(doc);
  if (!r.success) throw configErrorFromZod(r.error, file);
  return r.data;
}

export async function loadHostProfileFile(file: string): Promise<LoadedHostProfile> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('', `cannot read host profile: ${err instanceof Error ? err.message : String(err)}`, file);
  }
  return { profile: await parseHostProfile(text, file), file };
}

/** A name ('intel-xeon-platinum-8380') looks in the profiles directory; anything else is a path. */
export async function loadHostProfile(nameOrFile: string, dir = defaultProfilesDir()): Promise<LoadedHostProfile> {
  const isPath = nameOrFile.includes('/') || nameOrFile.endsWith('.yaml') || nameOrFile.endsWith('.yml');
  const file = isPath ? resolve(nameOrFile) : join(dir, `${nameOrFile}.yaml`);
  if (!isPath && !existsSync(file)) {
    const known = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.yaml')).map((f) => basename(f, '.yaml')) : [];
    throw new ConfigError('hostProfile', `unknown host profile ${JSON.stringify(nameOrFile)} (known: ${known.join(', ') || 'none'})`);
  }
  return loadHostProfileFile(file);
}

export async function loadAllHostProfiles(dir = defaultProfilesDir()): Promise<LoadedHostProfile[]> {
  if (!existsSync(dir)) return [];
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .sort();
  const out: LoadedHostProfile[] = [];
  for (const f of files) out.push(await loadHostProfileFile(join(dir, f)));
  return out;
}

export interface SelectedHostProfile extends LoadedHostProfile {
  /** True when the profile's `cpu.match` matched this CPU (or it was chosen explicitly). */
  matched: boolean;
  how: 'explicit' | 'matched' | 'fallback';
}

/** Picks the profile whose `cpu.match` fits the CPU model name, else the fallback profile. */
export async function selectHostProfile(cpuModel: string, opts: { explicit?: string; dir?: string } = {}): Promise<SelectedHostProfile> {
  if (opts.explicit) return { ...(await loadHostProfile(opts.explicit, opts.dir)), matched: true, how: 'explicit' };
  const all = await loadAllHostProfiles(opts.dir);
  for (const p of all) {
    if (p.profile.cpu.match.some((re) => new RegExp(re).test(cpuModel))) return { ...p, matched: true, how: 'matched' };
  }
  const fallback = all.find((p) => p.profile.fallback);
  if (!fallback) throw new ConfigError('hostProfile', `no host profile matches CPU ${JSON.stringify(cpuModel)} and none is marked fallback: true`);
  return { ...fallback, matched: false, how: 'fallback' };
}
