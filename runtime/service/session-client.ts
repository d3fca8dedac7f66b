// The client's half of the session rules (docs/service.md "Sessions"): numbers writes 1, 2, 3, ...,
// acknowledges the longest prefix of answered seqs, and keeps the pipeline within the window.
// For the client library; pure, no I/O.
import { CommandKind, encodeCommand } from './envelope.js';

export class ClientSession {
  private nextSeq = 1;
  /** Every seq ≤ ack has been answered. */
  private ack = 0;
  /** Answered seqs above `ack` (answers that arrived out of order). */
  private readonly early = new Set<number>();

  /**
   * @param client the id returned by OpenSession
   * @param window the cluster's session window (sessions.window): at most this many seqs beyond
   *   the acknowledged prefix may be outstanding
   */
  constructor(
    readonly client: number,
    readonly window: number,
  ) {
    if (!Number.isSafeInteger(client) || client < 1) throw new RangeError(`client id must be ≥ 1, got ${client}`);
    if (!Number.isSafeInteger(window) || window < 1) throw new RangeError(`window must be ≥ 1, got ${window}`);
  }

  /** Whether another write may be sent now without being refused as WindowExceeded. */
  canSend(): boolean {
    return this.nextSeq <= this.ack + this.window;
  }

  /** Number the next write; re-send the returned bytes unchanged when retrying it. */
  next(body: Uint8Array): { seq: number; command: Uint8Array } {
    if (!this.canSend()) throw new Error(`session ${this.client}: ${this.window} writes outstanding; wait for answers`);
    const seq = this.nextSeq++;
    return { seq, command: encodeCommand({ kind: CommandKind.Service, client: this.client, seq, ack: this.ack, body }) };
  }

  /**
   * A retry of `seq` with the current acknowledgement (a later ack is always allowed and lets the
   * state machine forget more).
   */
  retry(seq: number, body: Uint8Array): Uint8Array {
    if (seq <= this.ack || seq >= this.nextSeq) throw new RangeError(`seq ${seq} is not outstanding`);
    return encodeCommand({ kind: CommandKind.Service, client: this.client, seq, ack: this.ack, body });
  }

  /** Record that `seq` got its answer (any final status). */
  answered(seq: number): void {
    if (seq <= this.ack || seq >= this.nextSeq) return;
    this.early.add(seq);
    while (this.early.delete(this.ack + 1)) this.ack++;
  }

  get acknowledged(): number {
    return this.ack;
  }

  get outstanding(): number {
    return this.nextSeq - 1 - this.ack - this.early.size;
  }
}
