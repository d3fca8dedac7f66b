// LogStore options: the serialisable part has a zod schema so a replica config can embed it and
// get field-path errors; a function layout can only be given programmatically.
import { z } from 'zod';
import { ConfigError, configErrorFromZod } from '../common/config-error.js';
import type { PreallocateMode } from './fs-util.js';
import type { SyncPolicy } from './wal-lane.js';

export const LANE_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export const syncPolicySchema = z.discriminatedUnion('mode', [
  z.strictObject({ mode: z.literal('always') }),
  z.strictObject({
    mode: z.literal('batch'),
    maxDelayMs: z.number().min(0).max(1000),
    maxBatchBytes: z.number().int().min(4096).optional(),
  }),
  z.strictObject({ mode: z.literal('none') }),
]);

/** The options a config file can carry (see docs/storage.md). */
export const storageConfigSchema = z.strictObject({
  sync: syncPolicySchema.optional(),
  segmentBytes: z.number().int().min(4096).max(1 << 30).optional(),
  preallocate: z.enum(['fallocate', 'zero-fill', 'off']).optional(),
  walLayout: z.enum(['shared', 'per-group']).optional(),
  laneDirs: z.record(z.string().regex(LANE_NAME, 'lane names are [a-z0-9._-], starting with a letter or digit'), z.string().min(1)).optional(),
  compactOnSnapshot: z.boolean().optional(),
});
export type StorageConfig = z.infer<typeof storageConfigSchema>;

export type WalLayout = 'shared' | 'per-group' | ((group: number) => string);

export interface LogStoreOptions {
  /** Default { mode: 'always' }: an append resolves only after fdatasync. */
  readonly sync?: SyncPolicy;
  /** Target segment size; default 64 MiB. A single larger batch still fits (the segment grows). */
  readonly segmentBytes?: number;
  /** How segments are reserved; default 'fallocate' (falls back to 'zero-fill' without libc). */
  readonly preallocate?: PreallocateMode;
  /**
   * Which WAL each consensus group writes to. 'shared' (default): one WAL for all groups, so one
   * fdatasync commits every group's writes. 'per-group': lane `g<N>` for group N. A function returns
   * a lane name; groups with the same name share that WAL.
   */
  readonly walLayout?: WalLayout;
  /** Place a lane elsewhere (another disk): lane name -> absolute directory. Default <dir>/wal/<lane>. */
  readonly laneDirs?: Readonly<Record<string, string>>;
  /** After saveSnapshot is durable, delete WAL segments and snapshot files it made obsolete. Default true. */
  readonly compactOnSnapshot?: boolean;
  /** Receives recovery warnings (torn tail truncated, leftovers removed). Default: console.warn. */
  readonly onWarning?: (message: string) => void;
  /**
   * Inspect only: recover and report without changing anything on disk (no tail truncation, no
   * cleanup, no manifest creation); every write rejects. For `verdant storage verify`.
   */
  readonly readOnly?: boolean;
}

export interface ResolvedOptions {
  readonly sync: SyncPolicy;
  readonly segmentBytes: number;
  readonly preallocate: PreallocateMode;
  readonly laneOf: (group: number) => string;
  readonly laneDirs: Readonly<Record<string, string>>;
  readonly compactOnSnapshot: boolean;
  readonly onWarning: (message: string) => void;
  readonly readOnly: boolean;
}

export function resolveOptions(opts: LogStoreOptions): ResolvedOptions {
  const { walLayout, onWarning, readOnly, ...rest } = opts;
  const parsed = storageConfigSchema.safeParse({ ...rest, ...(typeof walLayout === 'string' ? { walLayout } : {}) });
  if (!parsed.success) throw configErrorFromZod(parsed.error);
  const c = parsed.data;
  if (walLayout !== undefined && typeof walLayout !== 'string' && typeof walLayout !== 'function') {
    throw new ConfigError('walLayout', "must be 'shared', 'per-group' or a function from group to lane name");
  }
  for (const [lane, d] of Object.entries(c.laneDirs ?? {})) {
    if (!d.startsWith('/')) throw new ConfigError(`laneDirs.${lane}`, 'must be an absolute directory path');
  }
  let laneOf: (group: number) => string;
  if (typeof walLayout === 'function') {
    laneOf = (g) => {
      const name = walLayout(g);
      if (typeof name !== 'string' || !LANE_NAME.test(name)) {
        throw new ConfigError('walLayout', `the layout function returned ${JSON.stringify(name)} for group ${g}; lane names match ${LANE_NAME}`);
      }
      return name;
    };
  } else if (walLayout === 'per-group') laneOf = (g) => `g${g}`;
  else laneOf = () => 'main';
  return {
    sync: c.sync ?? { mode: 'always' },
    segmentBytes: c.segmentBytes ?? 64 << 20,
    preallocate: c.preallocate ?? 'fallocate',
    laneOf,
    laneDirs: c.laneDirs ?? {},
    compactOnSnapshot: c.compactOnSnapshot ?? true,
    onWarning: onWarning ?? ((m) => console.warn(`verdant storage: ${m}`)),
    readOnly: readOnly === true,
  };
}
