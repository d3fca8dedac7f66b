// null:// — a target that does no I/O and completes every operation on the next microtask turn.
// It measures the generator's own ceiling (how much load one thread can offer), never a server.
import type { LoadTarget, ReadConsistency } from '../target.js';

export class NullTarget implements LoadTarget {
  readonly kind = 'null';
  private readonly empty = new Uint8Array(0);
  async connect(): Promise<void> {}
  async put(_key: Uint8Array, _value: Uint8Array): Promise<void> {}
  async get(_key: Uint8Array, _c: ReadConsistency): Promise<Uint8Array | undefined> {
    return this.empty;
  }
  async delete(_key: Uint8Array): Promise<boolean> {
    return true;
  }
  async cas(_key: Uint8Array, _expected: Uint8Array | undefined, _value: Uint8Array): Promise<boolean> {
    return true;
  }
  async scan(_s: Uint8Array, _e: Uint8Array, limit: number, _c: ReadConsistency): Promise<number> {
    return limit;
  }
  async close(): Promise<void> {}
}
