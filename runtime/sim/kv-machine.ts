// The simulated replicas' state machine: a small in-memory KV with client sessions. A session
// remembers each client's last applied sequence number and its result, so a write retried after a
// timeout (possibly at another replica) is applied once and answered with the original result.
// Clients have at most one operation outstanding, which is why one (seq, result) per client is
// enough.
import type { KvInput, KvOutput } from './lincheck/history.js';

export type WriteInput = Exclude<KvInput, { op: 'get' }>;

export interface KvCommand {
  readonly client: number;
  readonly seq: number;
  readonly input: WriteInput;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export function encodeCommand(c: KvCommand): Uint8Array {
  return enc.encode(JSON.stringify([c.client, c.seq, c.input]));
}

/** Decodes a command; null when the bytes are not one (e.g. another workload's entries). */
export function decodeCommand(data: Uint8Array): KvCommand | null {
  try {
    const v: unknown = JSON.parse(dec.decode(data));
    if (!Array.isArray(v) || v.length !== 3 || typeof v[0] !== 'number' || typeof v[1] !== 'number') return null;
    const input = v[2] as WriteInput;
    if (typeof input !== 'object' || input === null || typeof input.key !== 'string') return null;
    return { client: v[0], seq: v[1], input };
  } catch {
    return null;
  }
}

interface Session {
  seq: number;
  result: KvOutput;
}

export class KvMachine {
  private data = new Map<string, string>();
  private sessions = new Map<number, Session>();
  /** Position in the protocol's output sequence this state reflects. */
  appliedIndex = 0;

  /** Applies a write unless its session shows it was applied already; returns its result. */
  apply(cmd: KvCommand): KvOutput {
    const s = this.sessions.get(cmd.client);
    if (s && cmd.seq <= s.seq) {
      // A retry of the last write answers with its result; an older one can no longer be waited for.
      return cmd.seq === s.seq ? s.result : { unknown: true };
    }
    const inp = cmd.input;
    let result: KvOutput;
    switch (inp.op) {
      case 'put':
        this.data.set(inp.key, inp.value);
        result = { ok: true };
        break;
      case 'delete':
        this.data.delete(inp.key);
        result = { ok: true };
        break;
      case 'cas': {
        const ok = (this.data.get(inp.key) ?? null) === inp.expected;
        if (ok) this.data.set(inp.key, inp.value);
        result = { ok };
        break;
      }
    }
    this.sessions.set(cmd.client, { seq: cmd.seq, result });
    return result;
  }

  get(key: string): string | null {
    return this.data.get(key) ?? null;
  }

  /** A deterministic image (sorted), embedding the applied index. */
  snapshot(): Uint8Array {
    const data = [...this.data.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const sessions = [...this.sessions.entries()].sort((a, b) => a[0] - b[0]).map(([c, s]) => [c, s.seq, s.result]);
    return enc.encode(JSON.stringify({ applied: this.appliedIndex, data, sessions }));
  }

  restore(image: Uint8Array): void {
    const v = JSON.parse(dec.decode(image)) as { applied: number; data: [string, string][]; sessions: [number, number, KvOutput][] };
    this.data = new Map(v.data);
    this.sessions = new Map(v.sessions.map(([c, seq, result]) => [c, { seq, result }]));
    this.appliedIndex = v.applied;
  }
}
