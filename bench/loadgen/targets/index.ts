// Maps a target URL's scheme to its driver. Drivers load lazily so `verdant load` pulls in gRPC
// only when it talks to etcd.
import { ConfigError } from '../../../runtime/common/config-error.js';
import type { LoadTarget, TargetOptions, TargetSpec } from '../target.js';
import { DEFAULT_TARGET_OPTIONS } from '../target.js';
import { parseTargetUrl } from '../target-url.js';

type Factory = (spec: TargetSpec, opts: TargetOptions) => Promise<LoadTarget>;

const drivers: Record<string, Factory> = {
  etcd: async (spec, opts) => new (await import('./etcd.js')).EtcdTarget(spec, opts),
  'etcd+grpc-js': async (spec, opts) => new (await import('./etcd-grpcjs.js')).EtcdGrpcJsTarget(spec, opts),
  verdant: async (spec, opts) => new (await import('./verdant.js')).VerdantTarget(spec, opts),
  null: async () => new (await import('./null.js')).NullTarget(),
};

export const TARGET_SCHEMES = Object.keys(drivers);

/** Builds (but does not connect) the driver for a target URL. */
export async function createTarget(url: string | TargetSpec, opts: Partial<TargetOptions> = {}): Promise<LoadTarget> {
  const spec = typeof url === 'string' ? parseTargetUrl(url) : url;
  const factory = drivers[spec.scheme];
  if (!factory) {
    throw new ConfigError('--target', `unknown scheme ${JSON.stringify(spec.scheme)}; expected one of ${TARGET_SCHEMES.map((s) => s + '://').join(', ')}`);
  }
  return factory(spec, { ...DEFAULT_TARGET_OPTIONS, ...opts });
}

/** Builds and connects; the caller closes it. */
export async function openTarget(url: string | TargetSpec, opts: Partial<TargetOptions> = {}): Promise<LoadTarget> {
  const t = await createTarget(url, opts);
  await t.connect();
  return t;
}
