// Turns the profile's mix settings into concrete operations, each drawn from its own seeded
// stream so that, e.g., changing the value sizes does not change which keys are chosen.
import { SeededRng } from '../../runtime/protocols/rng.js';
import type { ReadConsistency } from './target.js';
import { KeyChooser } from './keys.js';
import type { OperationKind, Profile, ValueSizes } from './profile/profile.js';
import { OPERATION_KINDS } from './profile/profile.js';

export interface PlannedOp {
  kind: OperationKind;
  keyIndex: number;
  key: Buffer;
  /** write, insert, cas. */
  value: Buffer | undefined;
  consistency: ReadConsistency;
  /** scan. */
  scanLength: number;
}

/** Picks from weights with one uniform draw (cumulative table). */
class WeightedChoice<T> {
  private readonly items: T[];
  private readonly cum: number[];
  constructor(entries: Array<[T, number]>) {
    const kept = entries.filter(([, w]) => w > 0);
    if (kept.length === 0) throw new RangeError('no positive weight');
    const total = kept.reduce((s, [, w]) => s + w, 0);
    this.items = kept.map(([t]) => t);
    let acc = 0;
    this.cum = kept.map(([, w]) => (acc += w / total));
    this.cum[this.cum.length - 1] = 1;
  }
  pick(u: number): T {
    const cum = this.cum;
    for (let i = 0; i < cum.length; i++) if (u < cum[i]!) return this.items[i]!;
    return this.items[this.items.length - 1]!;
  }
}

export class ValueSource {
  private readonly pool: Buffer;
  private readonly sizes: ValueSizes;
  private readonly weighted: WeightedChoice<number> | undefined;

  constructor(sizes: ValueSizes, rng: SeededRng) {
    this.sizes = sizes;
    this.weighted = sizes.distribution === 'weighted' ? new WeightedChoice(sizes.sizes.map((s) => [s.bytes, s.weight])) : undefined;
    // Values are windows into one random buffer: no allocation per request.
    const pool = Buffer.allocUnsafe(this.maxSize() + 65536);
    for (let i = 0; i < pool.length; i += 4) pool.writeUInt32LE(rng.nextU32(), Math.min(i, pool.length - 4));
    this.pool = pool;
  }

  maxSize(): number {
    const s = this.sizes;
    return s.distribution === 'constant' ? s.size : s.distribution === 'uniform' ? s.max : Math.max(...s.sizes.map((x) => x.bytes));
  }

  size(rng: SeededRng): number {
    const s = this.sizes;
    if (s.distribution === 'constant') return s.size;
    if (s.distribution === 'uniform') return s.min + Math.floor(rng.nextFloat() * (s.max - s.min + 1));
    return this.weighted!.pick(rng.nextFloat());
  }

  value(rng: SeededRng): Buffer {
    const n = this.size(rng);
    const off = Math.floor(rng.nextFloat() * (this.pool.length - n));
    return this.pool.subarray(off, off + n);
  }
}

export class Workload {
  readonly keys: KeyChooser;
  private readonly ops: WeightedChoice<OperationKind>;
  private readonly opRng: SeededRng;
  private readonly keyRng: SeededRng;
  private readonly valueRng: SeededRng;
  private readonly consistencyRng: SeededRng;
  private readonly values: ValueSource;
  private readonly staleShare: number;
  private readonly scanMin: number;
  private readonly scanSpan: number;

  /** Generator `worker` of `workers` draws its own streams and inserts its own keys. */
  constructor(profile: Profile, worker = 0, workers = 1) {
    const root = new SeededRng(profile.seed);
    // Fork a fixed number of streams per worker so worker w's streams do not depend on N.
    const streams = Array.from({ length: (worker + 1) * 5 }, () => root.fork()).slice(worker * 5);
    const [opRng, keyRng, valueRng, consistencyRng, poolRng] = streams as [SeededRng, SeededRng, SeededRng, SeededRng, SeededRng];
    this.opRng = opRng;
    this.keyRng = keyRng;
    this.valueRng = valueRng;
    this.consistencyRng = consistencyRng;
    this.ops = new WeightedChoice(OPERATION_KINDS.map((k) => [k, profile.operations[k]] as [OperationKind, number]));
    this.keys = new KeyChooser(profile.keys, worker, workers);
    this.values = new ValueSource(profile.values, poolRng);
    const c = profile.consistency;
    this.staleShare = c.stale / (c.linearizable + c.stale);
    this.scanMin = profile.scan.min_length;
    this.scanSpan = profile.scan.max_length - profile.scan.min_length + 1;
  }

  /** A value of the profile's size distribution (also used by preload). */
  value(): Buffer {
    return this.values.value(this.valueRng);
  }

  next(): PlannedOp {
    const kind = this.ops.pick(this.opRng.nextFloat());
    const keyIndex = kind === 'insert' ? this.keys.insert() : this.keys.choose(this.keyRng);
    const needsValue = kind === 'write' || kind === 'insert' || kind === 'cas';
    const readsSomething = kind === 'read' || kind === 'scan';
    return {
      kind,
      keyIndex,
      key: this.keys.key(keyIndex),
      value: needsValue ? this.values.value(this.valueRng) : undefined,
      consistency: readsSomething && this.staleShare > 0 && this.consistencyRng.nextFloat() < this.staleShare ? 'stale' : 'linearizable',
      scanLength: kind === 'scan' ? this.scanMin + Math.floor(this.keyRng.nextFloat() * this.scanSpan) : 0,
    };
  }
}
