// Client sessions for exactly-once writes (Raft dissertation §6.3; dragonboat's RespondedTo).
//
// Everything here is replicated state: it changes only through applied commands, so every replica
// holds the same table. Time is the deterministic clock (the largest batch timestamp applied),
// never the local clock. Rules (docs/service.md "Sessions"):
//   - A session is opened by an OpenSession command; its id is a counter in the replicated state.
//   - Each write carries (client, seq, ack): seq counts 1, 2, 3, ...; ack says "I have the answers
//     for every seq ≤ ack", so their cached results can be forgotten.
//   - seq ≤ ack-watermark → Stale (the client already has it; never re-applied).
//   - seq cached → the cached result (a retry; not re-applied).
//   - seq > ack-watermark + window → WindowExceeded (not applied; the client pipelines too deep).
//   - otherwise apply and cache the result (results above maxCachedResultBytes are replaced by a
//     marker that answers retries with AppliedResultDropped).
//   - Sessions idle longer than ttlMs (by the deterministic clock), or the least recently used ones
//     beyond maxSessions, are dropped; their later commands get UnknownSession.
import { ByteReader, ByteWriter } from './bytes.js';

export interface SessionConfig {
  /** Max outstanding seqs a client may have beyond its ack (its pipeline depth). */
  readonly window: number;
  readonly maxSessions: number;
  /** A session unused for longer than this (deterministic clock) expires. 0 = never. */
  readonly ttlMs: number;
  /** Results larger than this are not kept for retries. */
  readonly maxCachedResultBytes: number;
}

export const DEFAULT_SESSION_CONFIG: SessionConfig = {
  window: 64,
  maxSessions: 4096,
  ttlMs: 10 * 60 * 1000,
  maxCachedResultBytes: 256,
};

export function resolveSessionConfig(partial: Partial<SessionConfig> | undefined): SessionConfig {
  const c = { ...DEFAULT_SESSION_CONFIG, ...partial };
  const positive = (name: keyof SessionConfig, min: number) => {
    const v = c[name];
    if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`sessions.${name} must be an integer ≥ ${min}, got ${v}`);
  };
  positive('window', 1);
  positive('maxSessions', 1);
  positive('ttlMs', 0);
  positive('maxCachedResultBytes', 0);
  return c;
}

/** Stands in for a result too large to keep: a retry learns it was applied, not what it returned. */
export const DROPPED_RESULT: Uint8Array = new Uint8Array(0);

export class Session {
  /** Every seq ≤ acked has been answered to the client. */
  acked = 0;
  /** seq → result, for seqs above `acked` (a few at or below it may linger until pruned). */
  readonly results = new Map<number, Uint8Array>();
  constructor(
    readonly id: number,
    public lastSeenMs: number,
  ) {}
}

export class SessionTable {
  readonly config: SessionConfig;
  /** Least recently used first (by lastSeenMs): Map iteration order is insertion order, and use() re-inserts. */
  private sessions = new Map<number, Session>();
  nextId = 1;
  clockMs = 0;
  expired = 0;
  evicted = 0;

  constructor(config: SessionConfig) {
    this.config = config;
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Move the deterministic clock forward (never back) and expire idle sessions. */
  advanceClock(timestampMs: number): void {
    if (timestampMs > this.clockMs) this.clockMs = timestampMs;
    const ttl = this.config.ttlMs;
    if (ttl === 0) return;
    for (const s of this.sessions.values()) {
      if (this.clockMs - s.lastSeenMs <= ttl) break;
      this.remove(s);
      this.expired++;
    }
  }

  open(): number {
    const id = this.nextId++;
    const s = new Session(id, this.clockMs);
    this.sessions.set(id, s);
    for (const old of this.sessions.values()) {
      if (this.sessions.size <= this.config.maxSessions) break;
      this.remove(old);
      this.evicted++;
    }
    return id;
  }

  close(id: number): boolean {
    const s = this.sessions.get(id);
    if (s === undefined) return false;
    this.remove(s);
    return true;
  }

  /** The session, marked as used now; undefined if unknown. */
  use(id: number): Session | undefined {
    const s = this.sessions.get(id);
    if (s === undefined) return undefined;
    // Re-insert (move to the LRU end) only when the clock moved since this session's last use:
    // the Map then stays ordered by lastSeenMs, which is all expiry and eviction need, at one move
    // per session per timestamp instead of one per command.
    if (s.lastSeenMs !== this.clockMs) {
      s.lastSeenMs = this.clockMs;
      this.sessions.delete(id);
      this.sessions.set(id, s);
    }
    return s;
  }

  /** Raise the session's ack watermark and forget results at or below it. */
  acknowledge(s: Session, ack: number): void {
    if (ack <= s.acked) return;
    s.acked = ack;
    const results = s.results;
    // Results are mostly inserted in seq order, so pruning from the front is usually exact. Ones
    // that committed out of order may linger below the watermark (they are never served: the
    // Stale check comes first) until the sweep below bounds them.
    for (const seq of results.keys()) {
      if (seq > ack) break;
      results.delete(seq);
    }
    if (results.size > 2 * this.config.window) {
      for (const seq of results.keys()) if (seq <= ack) results.delete(seq);
    }
  }

  remember(s: Session, seq: number, result: Uint8Array): void {
    s.results.set(seq, result.length > this.config.maxCachedResultBytes ? DROPPED_RESULT : result);
  }

  get(id: number): Session | undefined {
    return this.sessions.get(id);
  }

  /** Sessions in LRU order (for snapshots and tests). */
  values(): IterableIterator<Session> {
    return this.sessions.values();
  }

  private remove(s: Session): void {
    this.sessions.delete(s.id);
  }

  // ---- snapshot encoding ----
  //   sessions record payload = session* until the record's end
  //   session = id lastSeenMs acked nResults (seq resultLen result)*nResults   (all varints but result)
  // Sessions are written in LRU order and restored in that order, so eviction stays deterministic.

  /** Encode all sessions into records of about `recordBytes` each. */
  encodeRecords(recordBytes: number): Buffer[] {
    const out: Buffer[] = [];
    const body = new ByteWriter(4096);
    let count = 0;
    const flush = () => {
      out.push(body.finish());
      body.reset();
      count = 0;
    };
    for (const s of this.sessions.values()) {
      body.varint(s.id).varint(s.lastSeenMs).varint(s.acked);
      let live = 0;
      for (const seq of s.results.keys()) if (seq > s.acked) live++;
      body.varint(live);
      for (const [seq, result] of s.results) {
        if (seq <= s.acked) continue;
        body.varint(seq);
        // A dropped result is encoded with length 0: real results always carry a status byte, so
        // an empty one is unambiguous.
        body.lenBytes(result);
      }
      count++;
      if (body.length >= recordBytes) flush();
    }
    if (count > 0) flush();
    return out;
  }

  /** Decode one sessions record into `into` (a fresh table being rebuilt). */
  static decodeRecord(r: ByteReader, into: SessionTable): void {
    while (r.remaining > 0) {
      const at = r.pos;
      const id = r.varint();
      const lastSeenMs = r.varint();
      const acked = r.varint();
      const n = r.varintMax(into.config.window, 'session result count');
      if (id === 0 || id >= into.nextId) r.fail(`session id ${id} outside [1, nextId=${into.nextId})`, at);
      if (into.sessions.has(id)) r.fail(`duplicate session ${id}`, at);
      const s = new Session(id, lastSeenMs);
      s.acked = acked;
      for (let j = 0; j < n; j++) {
        const seqAt = r.pos;
        const seq = r.varint();
        if (seq <= acked) r.fail(`cached seq ${seq} at or below ack ${acked}`, seqAt);
        if (s.results.has(seq)) r.fail(`duplicate cached seq ${seq}`, seqAt);
        const result = r.lenBytes(64 * 1024 * 1024, 'cached result');
        s.results.set(seq, result.length === 0 ? DROPPED_RESULT : Uint8Array.prototype.slice.call(result));
      }
      into.sessions.set(id, s);
    }
  }
}
