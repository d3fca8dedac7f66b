// The simulated network between replicas: per-message loss, duplication, random latency (hence
// reordering), occasional long delays, and partitions (symmetric splits, an isolated node, or a
// one-way cut). A message crossing a cut link is lost when it would arrive, so a partition also
// eats what was in flight.
import type { SeededRng } from '../protocols/rng.js';
import type { EventQueue } from './event-queue.js';
import type { FaultConfig } from './faults.js';

export interface NetStats {
  sent: number;
  delivered: number;
  dropped: number;
  duplicated: number;
  cut: number;
}

export class SimNetwork {
  readonly stats: NetStats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0, cut: 0 };
  /** blocked[from * stride + to]: the link from -> to is cut. */
  private blocked: Uint8Array;
  private readonly stride: number;
  private partitioned = false;

  constructor(
    private readonly nodes: number,
    private readonly faults: FaultConfig,
    private readonly rng: SeededRng,
    private readonly queue: EventQueue,
    private readonly now: () => number,
  ) {
    this.stride = nodes + 1;
    this.blocked = new Uint8Array(this.stride * this.stride);
  }

  /** Sends one message; `deliver` runs at arrival unless the message is lost. */
  send(from: number, to: number, deliver: () => void, onLost?: (why: 'drop' | 'cut') => void): void {
    this.stats.sent++;
    const f = this.faults;
    if (f.drop > 0 && this.rng.nextFloat() < f.drop) {
      this.stats.dropped++;
      onLost?.('drop');
      return;
    }
    const copies = f.duplicate > 0 && this.rng.nextFloat() < f.duplicate ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    for (let c = 0; c < copies; c++) {
      const at = this.now() + this.latency();
      this.queue.schedule(at, () => {
        if (this.partitioned && this.blocked[from * this.stride + to] === 1) {
          this.stats.cut++;
          onLost?.('cut');
          return;
        }
        this.stats.delivered++;
        deliver();
      });
    }
  }

  latency(): number {
    const f = this.faults;
    if (f.longDelayRate > 0 && this.rng.nextFloat() < f.longDelayRate) return f.delayMax + this.rng.nextInt(f.longDelay + 1);
    return f.delayMin + this.rng.nextInt(f.delayMax - f.delayMin + 1);
  }

  isCut(from: number, to: number): boolean {
    return this.partitioned && this.blocked[from * this.stride + to] === 1;
  }

  /** Cuts the network at random; returns a description for the trace. */
  partitionRandomly(): string {
    this.blocked.fill(0);
    const ids = Array.from({ length: this.nodes }, (_, i) => i + 1);
    const kind = this.rng.nextInt(3);
    let what: string;
    if (kind === 0) {
      // Isolate one replica.
      const x = ids[this.rng.nextInt(ids.length)]!;
      for (const y of ids) if (y !== x) this.cut(x, y, true);
      what = `isolate ${x}`;
    } else if (kind === 1) {
      // Split into two non-empty sides.
      const side = ids.map(() => this.rng.nextInt(2));
      if (side.every((s) => s === side[0])) side[0] = 1 - side[0]!;
      for (const a of ids) for (const b of ids) if (a < b && side[a - 1] !== side[b - 1]) this.cut(a, b, true);
      what = `split ${ids.filter((i) => side[i - 1] === 0).join(',')} | ${ids.filter((i) => side[i - 1] === 1).join(',')}`;
    } else {
      // A one-way cut: a hears nothing from b.
      const a = ids[this.rng.nextInt(ids.length)]!;
      let b = ids[this.rng.nextInt(ids.length)]!;
      if (b === a) b = (a % this.nodes) + 1;
      this.cut(b, a, false);
      what = `one-way ${b} -x-> ${a}`;
    }
    this.partitioned = true;
    return what;
  }

  heal(): void {
    this.blocked.fill(0);
    this.partitioned = false;
  }

  private cut(a: number, b: number, both: boolean): void {
    this.blocked[a * this.stride + b] = 1;
    if (both) this.blocked[b * this.stride + a] = 1;
  }
}
