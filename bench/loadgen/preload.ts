// Writes keys 0..n-1 before a measured run so reads find data. Closed loop (a fixed window of
// outstanding puts): this is set-up, not measurement.
import type { Profile } from './profile/profile.js';
import type { LoadTarget } from './target.js';
import { Workload } from './workload.js';

export async function preloadKeys(
  target: LoadTarget,
  profile: Profile,
  opts: { window?: number; signal?: AbortSignal; progress?: (done: number, total: number) => void } = {},
): Promise<number> {
  const total = profile.preload;
  if (total <= 0) return 0;
  const w = new Workload(profile, 0, 1);
  const window = Math.max(1, Math.min(opts.window ?? 256, total));
  let next = 0;
  let done = 0;
  let lastReport = Date.now();
  let failure: unknown;
  const lane = async (): Promise<void> => {
    while (failure === undefined && next < total && !opts.signal?.aborted) {
      const i = next++;
      try {
        await target.put(w.keys.key(i), w.value());
      } catch (err) {
        failure ??= err;
        return;
      }
      done++;
      if (opts.progress && Date.now() - lastReport >= 1000) {
        lastReport = Date.now();
        opts.progress(done, total);
      }
    }
  };
  await Promise.all(Array.from({ length: window }, lane));
  if (failure !== undefined) {
    throw new Error(`preload failed after ${done} of ${total} keys: ${failure instanceof Error ? failure.message : String(failure)}`);
  }
  opts.progress?.(done, total);
  return done;
}
