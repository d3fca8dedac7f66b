// A simulated client: one operation at a time (put, get, compare-and-set, delete on a few shared
// keys), sent to the replica it believes leads; it follows redirects, and on a timeout retries the
// same operation (same session sequence number) at another replica. Every operation is recorded in
// the history with its invocation and response; one still pending when the run ends is recorded
// with an unknown outcome.
import { NONE } from '../protocols/api.js';
import type { NodeId } from '../protocols/api.js';
import type { SeededRng } from '../protocols/rng.js';
import type { HistoryRecorder, KvInput, KvOutput } from './lincheck/history.js';
import type { ClientReply, ClientRequest } from './messages.js';

export interface ClientEnv {
  now(): number;
  schedule(at: number, fire: () => void): void;
  send(to: NodeId, req: ClientRequest): void;
  /** Logical clock for the history: strictly increasing, so order of events is exact. */
  historyTime(): number;
  /** No new operations after this time (retries of pending ones continue). */
  readonly stopIssuingAt: number;
  readonly replicas: number;
  readonly keys: number;
  readonly timeoutMs: number;
  readonly thinkMs: number;
  history: HistoryRecorder;
  trace: ((line: string) => void) | null;
}

interface Pending {
  readonly seq: number;
  readonly input: KvInput;
  readonly handle: number;
  attempt: number;
}

export class SimClient {
  private seq = 0;
  private pending: Pending | null = null;
  private leaderGuess: NodeId = NONE;
  private readonly lastSeen = new Map<string, string | null>();
  private nextValue = 0;
  completed = 0;
  retries = 0;

  constructor(
    readonly id: number,
    private readonly env: ClientEnv,
    private readonly rng: SeededRng,
  ) {}

  start(): void {
    this.env.schedule(this.env.now() + 1 + this.rng.nextInt(this.env.thinkMs + 1), () => this.issue());
  }

  get busy(): boolean {
    return this.pending !== null;
  }

  private issue(): void {
    if (this.env.now() >= this.env.stopIssuingAt) return;
    const key = `k${this.rng.nextInt(this.env.keys)}`;
    const value = `${this.id}.${++this.nextValue}`;
    const r = this.rng.nextFloat();
    let input: KvInput;
    if (r < 0.4) input = { op: 'get', key };
    else if (r < 0.7) input = { op: 'put', key, value };
    else if (r < 0.9) {
      const seen = this.lastSeen.get(key);
      input = { op: 'cas', key, expected: seen === undefined || this.rng.nextInt(4) === 0 ? null : seen, value };
    } else input = { op: 'delete', key };
    const seq = ++this.seq;
    const handle = this.env.history.invoke(this.id, input, this.env.historyTime());
    this.pending = { seq, input, handle, attempt: 0 };
    this.env.trace?.(`client ${this.id} invoke #${seq} ${JSON.stringify(input)}`);
    this.attempt(this.leaderGuess !== NONE ? this.leaderGuess : this.randomReplica());
  }

  private attempt(to: NodeId): void {
    const p = this.pending;
    if (!p) return;
    const attempt = ++p.attempt;
    this.env.send(to, { client: this.id, seq: p.seq, input: p.input });
    this.env.schedule(this.env.now() + this.env.timeoutMs, () => {
      if (this.pending !== p || p.attempt !== attempt) return;
      this.retries++;
      this.leaderGuess = NONE;
      this.env.trace?.(`client ${this.id} timeout #${p.seq} at ${to}`);
      this.attempt(this.randomReplica(to));
    });
  }

  onReply(reply: ClientReply): void {
    const p = this.pending;
    // Any attempt's answer is the operation's answer; stale ones (earlier operations) are ignored.
    if (!p || reply.seq !== p.seq) return;
    if ('redirect' in reply) {
      this.leaderGuess = reply.redirect;
      const to = reply.redirect !== NONE ? reply.redirect : this.randomReplica();
      const attempt = ++p.attempt;
      // Back off a little so a leaderless cluster is not hammered.
      this.env.schedule(this.env.now() + 2 + this.rng.nextInt(20), () => {
        if (this.pending === p && p.attempt === attempt) {
          this.retries++;
          this.attempt(to);
        }
      });
      return;
    }
    this.complete(p, reply.output);
  }

  private complete(p: Pending, output: KvOutput): void {
    this.env.history.complete(p.handle, output, this.env.historyTime());
    this.env.trace?.(`client ${this.id} return #${p.seq} ${JSON.stringify(output)}`);
    const inp = p.input;
    if (inp.op === 'get') this.lastSeen.set(inp.key, (output as { value: string | null }).value);
    else if (inp.op === 'put') this.lastSeen.set(inp.key, inp.value);
    else if (inp.op === 'delete') this.lastSeen.set(inp.key, null);
    else if ((output as { ok?: boolean }).ok === true) this.lastSeen.set(inp.key, inp.value);
    this.pending = null;
    this.completed++;
    this.env.schedule(this.env.now() + this.rng.nextInt(this.env.thinkMs + 1), () => this.issue());
  }

  private randomReplica(avoid: NodeId = NONE): NodeId {
    const n = this.env.replicas;
    let r = 1 + this.rng.nextInt(n);
    if (r === avoid && n > 1) r = (r % n) + 1;
    return r;
  }
}
