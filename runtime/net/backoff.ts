// Exponential backoff with jitter for redialling peers.
//
// Delay n (0-based) is drawn uniformly from [cap/2, cap] where cap = min(max, base * 2^n): the
// lower half keeps retries from hammering a restarting peer, the random upper half keeps replicas
// that lost a peer at the same moment from redialling in lockstep ("equal jitter").

export interface BackoffOptions {
  readonly baseMs: number;
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 50, maxMs: 5_000 };

export class Backoff {
  private attempt = 0;

  constructor(
    private readonly opts: BackoffOptions = DEFAULT_BACKOFF,
    private readonly random: () => number = Math.random,
  ) {
    if (!(opts.baseMs > 0) || !(opts.maxMs >= opts.baseMs)) {
      throw new RangeError(`backoff needs 0 < baseMs <= maxMs, got ${opts.baseMs}, ${opts.maxMs}`);
    }
  }

  /** Failures since the last reset(). */
  get attempts(): number {
    return this.attempt;
  }

  next(): number {
    const cap = Math.min(this.opts.maxMs, this.opts.baseMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return cap / 2 + this.random() * (cap / 2);
  }

  reset(): void {
    this.attempt = 0;
  }
}
