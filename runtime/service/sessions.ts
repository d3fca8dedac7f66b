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
import { ByteReader, ByteWriter } from '../common/bytes.js';

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
  // One session is written into one snapshot record, which must stay well under the record limit.
  if (c.window * (c.maxCachedResultBytes + 32) > 32 * 1024 * 1024)
    throw new RangeError(`sessions.window × (maxCachedResultBytes + 32) must be ≤ 32 MiB, got ${c.window} × ${c.maxCachedResultBytes + 32}`);
  return c;
}

/** Stands in for a result too large to keep: a retry learns it was applied, not what it returned. */
export const DROPPED_RESULT: Uint8Array = new Uint8Array(0);

/**
 * One client's session. Results are kept in a ring indexed by seq mod window: the seqs that can
 * still be asked for lie in (acked, acked + window], which map to distinct slots, so a slot holds
 * either its seq's result or an older (acknowledged, hence never served) one. Array slots are much
 * cheaper than Map operations on this per-command path.
 */
export class Session {
  /** Every seq ≤ acked has been answered to the client. */
  acked = 0;
  private seqs: number[] | null = null;
  private results: Uint8Array[] | null = null;
  constructor(
    readonly id: number,
    public lastSeenMs: number,
    private readonly window: number,
  ) {}

  /** The cached result of `seq` (> acked), if any. */
  lookup(seq: number): Uint8Array | undefined {
    const seqs = this.seqs;
    if (seqs === null || seq <= this.acked) return undefined;
    const i = seq % this.window;
    return seqs[i] === seq ? this.results![i] : undefined;
  }

  /** Remember `seq`'s result; acked < seq ≤ acked + window. */
  store(seq: number, result: Uint8Array): void {
    if (this.seqs === null) {
      this.seqs = new Array<number>(this.window).fill(0);
      this.results = new Array<Uint8Array>(this.window).fill(DROPPED_RESULT);
    }
    const i = seq % this.window;
    this.seqs[i] = seq;
    this.results![i] = result;
  }

  /** Cached results above the watermark, by ascending seq (snapshots, tests). */
  cached(): [number, Uint8Array][] {
    const out: [number, Uint8Array][] = [];
    if (this.seqs === null) return out;
    for (let i = 0; i < this.window; i++) {
      const seq = this.seqs[i]!;
      if (seq > this.acked) out.push([seq, this.results![i]!]);
    }
    return out.sort((a, b) => a[0] - b[0]);
  }
}

export class SessionTable {
  readonly config: SessionConfig;
  /** Least recently used first (by lastSeenMs): Map iteration order is insertion order, and use() re-inserts. */
  private sessions = new Map<number, Session>();
  nextId = 1;
  clockMs = 0;
  private checkAfter = -1;
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
    // No session can expire before `checkAfter` (a lower bound on the oldest lastSeen + ttl), so
    // most batches skip the sweep. Skipping changes nothing observable: expiry depends only on
    // the clock and lastSeen.
    if (ttl === 0 || this.clockMs <= this.checkAfter) return;
    for (const s of this.sessions.values()) {
      if (this.clockMs - s.lastSeenMs <= ttl) {
        this.checkAfter = s.lastSeenMs + ttl;
        return;
      }
      this.remove(s);
      this.expired++;
    }
    this.checkAfter = this.clockMs + ttl;
  }

  open(): number {
    const id = this.nextId++;
    const s = new Session(id, this.clockMs, this.config.window);
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

  /** Raise the session's ack watermark; results at or below it are never served again. */
  acknowledge(s: Session, ack: number): void {
    if (ack > s.acked) s.acked = ack;
  }

  remember(s: Session, seq: number, result: Uint8Array): void {
    s.store(seq, result.length > this.config.maxCachedResultBytes ? DROPPED_RESULT : result);
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
  encodeRecords(recordBytes: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    const body = new ByteWriter(4096);
    let count = 0;
    const flush = () => {
      out.push(body.finish());
      body.reset();
      count = 0;
    };
    for (const s of this.sessions.values()) {
      body.varint(s.id).varint(s.lastSeenMs).varint(s.acked);
      const cached = s.cached();
      body.varint(cached.length);
      for (const [seq, result] of cached) {
        body.varint(seq);
        // A dropped result is encoded with length 0: real results always carry a status byte, so
        // an empty one is unambiguous.
        body.bytes(result);
      }
      count++;
      if (body.pos >= recordBytes) flush();
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
      const s = new Session(id, lastSeenMs, into.config.window);
      s.acked = acked;
      let last = acked;
      for (let j = 0; j < n; j++) {
        const seqAt = r.pos;
        const seq = r.varint();
        if (seq <= last) r.fail(`cached seq ${seq} not above ${last} (ack or previous seq)`, seqAt);
        if (seq > acked + into.config.window) r.fail(`cached seq ${seq} beyond ack ${acked} + window`, seqAt);
        last = seq;
        const result = r.bytes('cached result', 64 * 1024 * 1024);
        s.store(seq, result.length === 0 ? DROPPED_RESULT : Uint8Array.prototype.slice.call(result));
      }
      into.sessions.set(id, s);
    }
  }
}
