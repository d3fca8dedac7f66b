// Key choice: uniform, zipfian(θ) or latest over a key space that inserts can grow.
// Zipfian follows Gray et al., "Quickly generating billion-record synthetic databases" (SIGMOD '94),
// the method YCSB uses; its zeta sums grow incrementally when the key count does.
import type { UniformSource } from './arrivals.js';
import type { KeySpace } from './profile/profile.js';

/** Above this many terms the zeta sum's tail uses the Euler–Maclaurin approximation. */
const EXACT_ZETA_TERMS = 1_000_000;

export function zetaRange(from: number, to: number, theta: number): number {
  // Sum of i^-θ for i in (from, to]; exported for tests.
  let s = 0;
  const exactEnd = Math.min(to, Math.max(from, EXACT_ZETA_TERMS));
  for (let i = from + 1; i <= exactEnd; i++) s += Math.pow(i, -theta);
  if (to > exactEnd) {
    const a = exactEnd;
    const b = to;
    // ∫_a^b x^-θ dx + (f(b) - f(a)) / 2 + (f'(b) - f'(a)) / 12
    s += (Math.pow(b, 1 - theta) - Math.pow(a, 1 - theta)) / (1 - theta);
    s += (Math.pow(b, -theta) - Math.pow(a, -theta)) / 2;
    s += (-theta * Math.pow(b, -theta - 1) + theta * Math.pow(a, -theta - 1)) / 12;
  }
  return s;
}

/** Ranks 0..n-1, rank 0 the most popular, P(rank k) ∝ (k+1)^-θ. */
export class ZipfianRanks {
  private readonly theta: number;
  private readonly alpha: number;
  private readonly zeta2: number;
  private n: number;
  private zetan: number;
  private eta: number;

  constructor(n: number, theta: number) {
    if (!(theta > 0 && theta < 1)) throw new RangeError(`zipfian theta must be in (0, 1), got ${theta}`);
    if (!(n >= 1)) throw new RangeError(`zipfian needs n >= 1, got ${n}`);
    this.theta = theta;
    this.alpha = 1 / (1 - theta);
    this.zeta2 = zetaRange(0, 2, theta);
    this.n = n;
    this.zetan = zetaRange(0, n, theta);
    this.eta = this.computeEta();
  }

  private computeEta(): number {
    return (1 - Math.pow(2 / this.n, 1 - this.theta)) / (1 - this.zeta2 / this.zetan);
  }

  get count(): number {
    return this.n;
  }

  /** Grows the population (inserts); cost is proportional to the growth. */
  grow(n: number): void {
    if (n <= this.n) return;
    this.zetan += zetaRange(this.n, n, this.theta);
    this.n = n;
    this.eta = this.computeEta();
  }

  next(rng: UniformSource): number {
    const u = rng.nextFloat();
    const uz = u * this.zetan;
    if (uz < 1) return 0;
    if (uz < 1 + Math.pow(0.5, this.theta)) return this.n > 1 ? 1 : 0;
    const r = Math.floor(this.n * Math.pow(this.eta * u - this.eta + 1, this.alpha));
    return r >= this.n ? this.n - 1 : r;
  }
}

/**
 * A multiplier m for the bijection rank -> (rank * m + c) mod n, which spreads consecutive ranks
 * across the key space: a prime that does not divide n is coprime to it, so this permutes Z_n.
 * n <= 1e9 and m < 2^21 keep the product exact in a double.
 */
function scrambleMultiplier(n: number): number {
  const primes = [1_000_003, 1_000_033, 1_000_037, 1_000_039];
  for (const p of primes) if (n % p !== 0) return p % n;
  return 1;
}

const KEY_DIGITS = 12;

export class KeyChooser {
  private readonly space: KeySpace;
  private readonly zipf: ZipfianRanks | undefined;
  /** Keys 0..count-1 exist (after preload); inserts append. */
  private count: number;
  private readonly insertStride: number;
  private nextInsert: number;
  private readonly mult: number;

  /**
   * @param insertOffset,insertStride let parallel generators insert disjoint keys:
   *   generator w of N inserts count+w, count+w+N, ...
   */
  constructor(space: KeySpace, insertOffset = 0, insertStride = 1) {
    this.space = space;
    this.count = space.count;
    this.insertStride = insertStride;
    this.nextInsert = space.count + insertOffset;
    this.zipf = space.distribution === 'uniform' ? undefined : new ZipfianRanks(space.count, space.theta);
    this.mult = scrambleMultiplier(space.count);
  }

  get keyCount(): number {
    return this.count;
  }

  /** Index of an existing key to operate on. */
  choose(rng: UniformSource): number {
    switch (this.space.distribution) {
      case 'uniform':
        return Math.floor(rng.nextFloat() * this.count);
      case 'zipfian': {
        const r = this.zipf!.next(rng);
        return this.space.scramble ? (r * this.mult + 7919) % this.space.count : r;
      }
      case 'latest':
        // The most recently inserted key is the most popular.
        return this.count - 1 - this.zipf!.next(rng);
    }
  }

  /** Index for an insert: a key that did not exist; the key space grows to include it. */
  insert(): number {
    const k = this.nextInsert;
    this.nextInsert += this.insertStride;
    if (k + 1 > this.count) {
      this.count = k + 1;
      // Zipfian over the original space keeps its hot set; latest must follow the inserts.
      if (this.space.distribution === 'latest') this.zipf!.grow(this.count);
    }
    return k;
  }

  keyString(index: number): string {
    return this.space.prefix + String(index).padStart(KEY_DIGITS, '0');
  }

  key(index: number): Buffer {
    return Buffer.from(this.keyString(index));
  }

  /** Exclusive end of the key space for scans: ':' sorts right after the digits. */
  scanEnd(): Buffer {
    return Buffer.from(this.space.prefix + ':');
  }
}
