// `npm run bench -- compare [--duration S] [--value-size B] [--windows a,b,c] [--profile P ...]
// [--profile-duration S]`: the same flow as `verdant bench compare --peer etcd`, for scripts that
// collect bench results.
import { EtcdCluster } from '../peers/etcd.js';
import { createVerdantCluster, VERDANT_UNAVAILABLE_NOTE } from '../peers/verdant.js';
import { compareWithEtcd, DEFAULT_COMPARE_OPTIONS } from '../compare/compare.js';
import { validateCompareProfiles } from '../compare/profiles.js';

function arg(args: string[], name: string, dflt: string): string {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : dflt;
}

function allArgs(args: string[], name: string): string[] {
  return args.flatMap((a, i) => (a === name && args[i + 1] !== undefined ? [args[i + 1]!] : []));
}

export default async function compare(args: string[]): Promise<Record<string, unknown>> {
  const log = (l: string) => process.stderr.write(`${l}\n`);
  const profiles = allArgs(args, '--profile');
  const profileDurationS = Number(arg(args, '--profile-duration', String(DEFAULT_COMPARE_OPTIONS.profileDurationS)));
  validateCompareProfiles(profiles, profileDurationS);
  const result = await compareWithEtcd(
    new EtcdCluster({ log }),
    createVerdantCluster(),
    {
      ...DEFAULT_COMPARE_OPTIONS,
      durationS: Number(arg(args, '--duration', String(DEFAULT_COMPARE_OPTIONS.durationS))),
      valueSize: Number(arg(args, '--value-size', String(DEFAULT_COMPARE_OPTIONS.valueSize))),
      windows: arg(args, '--windows', DEFAULT_COMPARE_OPTIONS.windows.join(',')).split(',').map(Number),
      maxWindow: Number(arg(args, '--max-window', String(DEFAULT_COMPARE_OPTIONS.maxWindow))),
      profiles,
      profileDurationS,
      log,
    },
    VERDANT_UNAVAILABLE_NOTE,
  );
  return { ...result };
}
