// Turns any Service into a StateMachine: decodes batches, runs client sessions (exactly-once),
// routes queries, and wraps the service's snapshot records in the checksummed container.
import { createHash } from 'node:crypto';
import { EntryType } from '../protocols/api.js';
import type {
  ApplyContext,
  CommandOutcome,
  CommittedEntry,
  RestoreInfo,
  Service,
  ServiceRestorer,
  SnapshotStream,
  StateMachine,
  StateMachineStats,
} from './api.js';
import { Consistency } from './api.js';
import { asBuffer, ByteReader, ByteWriter, DecodeError } from '../common/bytes.js';
import { CommandKind, CommandParser, encodeStatusResult, readBatchHeader, ResultStatus } from './envelope.js';
import { DROPPED_RESULT, resolveSessionConfig, SessionTable, type SessionConfig } from './sessions.js';
import { endRecord, frameRecord, frameRecordParts, readRecords, RecordType, SnapshotError, snapshotPreamble } from './snapshot-format.js';

export interface ServiceStateMachineOptions {
  /** Session rules. Replicated behaviour: every replica of a cluster must use the same values. */
  readonly sessions?: Partial<SessionConfig>;
}

const SESSION_RECORD_BYTES = 1024 * 1024;
const NO_BYTES = Buffer.alloc(0);
const MAX_NAME = 256;

// Shared, read-only results for the session statuses.
const UNKNOWN_SESSION = encodeStatusResult(ResultStatus.UnknownSession);
const STALE = encodeStatusResult(ResultStatus.Stale);
const WINDOW_EXCEEDED = encodeStatusResult(ResultStatus.WindowExceeded);
const RESULT_DROPPED = encodeStatusResult(ResultStatus.AppliedResultDropped);

class MutableContext implements ApplyContext {
  index = 0;
  position = 0;
  timestampMs = 0;
  client = 0;
  seq = 0;
}

interface Counters {
  entries: number;
  commands: number;
  applied: number;
  duplicates: number;
  stale: number;
  windowExceeded: number;
  unknownSession: number;
  malformed: number;
  malformedEntries: number;
  staleEntries: number;
  sessionsOpened: number;
  sessionsClosed: number;
  queries: number;
  snapshots: number;
  restores: number;
}

export class ServiceStateMachine implements StateMachine {
  readonly service: Service;
  private applied = 0;
  private sessions: SessionTable;
  private restoring = false;
  private readonly writer = new ByteWriter(4096);
  private readonly batchReader = new ByteReader<Buffer>(NO_BYTES, 'batch');
  private readonly bodyReader = new ByteReader<Buffer>(NO_BYTES, 'command body');
  private readonly queryReader = new ByteReader<Buffer>(NO_BYTES, 'query');
  private readonly parser = new CommandParser();
  private readonly ctx = new MutableContext();
  private readonly counters: Counters = {
    entries: 0,
    commands: 0,
    applied: 0,
    duplicates: 0,
    stale: 0,
    windowExceeded: 0,
    unknownSession: 0,
    malformed: 0,
    malformedEntries: 0,
    staleEntries: 0,
    sessionsOpened: 0,
    sessionsClosed: 0,
    queries: 0,
    snapshots: 0,
    restores: 0,
  };

  constructor(service: Service, options: ServiceStateMachineOptions = {}) {
    if (service.name.length === 0 || Buffer.byteLength(service.name) > MAX_NAME) throw new RangeError('service name must be 1..256 bytes');
    this.service = service;
    this.sessions = new SessionTable(resolveSessionConfig(options.sessions));
  }

  get appliedIndex(): number {
    return this.applied;
  }

  get sessionConfig(): SessionConfig {
    return this.sessions.config;
  }

  /** The session table (read-only use: tests and status). */
  get sessionTable(): SessionTable {
    return this.sessions;
  }

  apply(entries: readonly CommittedEntry[]): CommandOutcome[] {
    if (this.restoring) throw new Error('apply() called while restore() is in progress');
    const out: CommandOutcome[] = [];
    for (const e of entries) {
      if (e.index <= this.applied) {
        this.counters.staleEntries++;
        continue;
      }
      if (e.type === EntryType.Normal && e.data.length > 0) this.applyBatch(e, out);
      this.applied = e.index;
      this.counters.entries++;
    }
    // Keep no reference to entry bytes after apply (they may be views of large network or WAL
    // buffers): values were copied into the store and results are fresh arrays.
    this.batchReader.reset(NO_BYTES, 0, 0, 'batch');
    this.bodyReader.reset(NO_BYTES, 0, 0, 'command body');
    return out;
  }

  private applyBatch(e: CommittedEntry, out: CommandOutcome[]): void {
    const buf = asBuffer(e.data);
    const r = this.batchReader.reset(buf, 0, buf.length, 'batch');
    const p = this.parser;
    let header: { timestampMs: number; count: number };
    // Check the framing of the whole batch first, so a batch is applied entirely or not at all.
    try {
      header = readBatchHeader(r);
      const first = r.pos;
      for (let i = 0; i < header.count; i++) p.parse(r);
      r.expectEnd();
      r.pos = first;
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      this.counters.malformedEntries++;
      const result = encodeStatusResult(ResultStatus.Malformed, err.message);
      out.push({ index: e.index, position: -1, client: 0, seq: 0, result, duplicate: false });
      return;
    }
    const sessions = this.sessions;
    sessions.advanceClock(header.timestampMs);
    const ctx = this.ctx;
    ctx.index = e.index;
    ctx.timestampMs = header.timestampMs;
    const window = sessions.config.window;
    for (let i = 0; i < header.count; i++) {
      p.parse(r);
      const client = p.client;
      const seq = p.seq;
      let result: Uint8Array;
      let duplicate = false;
      this.counters.commands++;
      if (p.kind === CommandKind.Service) {
        if (client === 0) {
          result = this.runService(buf, i, client, seq);
        } else {
          const s = sessions.use(client);
          if (s === undefined) {
            result = UNKNOWN_SESSION;
            this.counters.unknownSession++;
          } else {
            sessions.acknowledge(s, p.ack);
            if (seq <= s.acked) {
              result = STALE;
              this.counters.stale++;
            } else {
              const cached = s.lookup(seq);
              if (cached !== undefined) {
                duplicate = true;
                result = cached === DROPPED_RESULT ? RESULT_DROPPED : cached;
                this.counters.duplicates++;
              } else if (seq > s.acked + window) {
                result = WINDOW_EXCEEDED;
                this.counters.windowExceeded++;
              } else {
                result = this.runService(buf, i, client, seq);
                sessions.remember(s, seq, result);
              }
            }
          }
        }
      } else if (p.kind === CommandKind.OpenSession) {
        const id = sessions.open();
        this.counters.sessionsOpened++;
        result = this.writer.reset().u8(ResultStatus.Ok).varint(id).finish();
      } else {
        if (sessions.close(client)) {
          this.counters.sessionsClosed++;
          result = this.writer.reset().u8(ResultStatus.Ok).finish();
        } else {
          result = UNKNOWN_SESSION;
          this.counters.unknownSession++;
        }
      }
      out.push({ index: e.index, position: i, client, seq, result, duplicate });
    }
  }

  private runService(buf: Buffer, position: number, client: number, seq: number): Uint8Array {
    const p = this.parser;
    const ctx = this.ctx;
    ctx.position = position;
    ctx.client = client;
    ctx.seq = seq;
    const w = this.writer.reset().u8(ResultStatus.Ok);
    try {
      this.service.apply(this.bodyReader.reset(buf, p.bodyStart, p.bodyEnd, 'command body'), w, ctx);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      this.counters.malformed++;
      return encodeStatusResult(ResultStatus.Malformed, `${err.what}: ${err.reason} at byte ${err.offset - p.bodyStart}`);
    }
    this.counters.applied++;
    return w.finish();
  }

  query(q: Uint8Array): Uint8Array {
    const view = this.queryView(q);
    return view.buffer === this.writer.buf.buffer ? Uint8Array.prototype.slice.call(view) : view;
  }

  queryView(q: Uint8Array): Uint8Array {
    this.counters.queries++;
    const buf = asBuffer(q);
    if (buf.length === 0) return encodeStatusResult(ResultStatus.Malformed, 'query: empty');
    const c = buf[0]!;
    if (c !== Consistency.Linearizable && c !== Consistency.Stale)
      return encodeStatusResult(ResultStatus.Malformed, `query: unknown consistency ${c} at byte 0`);
    const w = this.writer.reset().u8(ResultStatus.Ok);
    try {
      this.service.query(this.queryReader.reset(buf, 1, buf.length, 'query'), w);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      return encodeStatusResult(ResultStatus.Malformed, err.message);
    } finally {
      this.queryReader.reset(NO_BYTES, 0, 0, 'query');
    }
    return w.view();
  }

  snapshot(): SnapshotStream {
    this.counters.snapshots++;
    const { index, records } = this.capture();
    let used = false;
    async function* frame(): AsyncGenerator<Uint8Array> {
      let count = 0;
      yield snapshotPreamble();
      for await (const [type, payload] of records) {
        count++;
        if (payload.length < 4096) yield frameRecord(type, payload);
        else yield* frameRecordParts(type, payload);
      }
      yield endRecord(count);
    }
    return {
      index,
      [Symbol.asyncIterator]() {
        if (used) throw new Error('a snapshot stream can be consumed only once');
        used = true;
        return frame();
      },
    };
  }

  /**
   * The same image as snapshot(), produced synchronously, or null when the service yields its
   * records asynchronously. For moving the state machine to another thread: an actor's snapshot()
   * must return its state synchronously (runtime/actors).
   */
  snapshotSync(): { readonly index: number; readonly chunks: Uint8Array[] } | null {
    const index = this.applied;
    const header = this.encodeHeader();
    const sessionRecords = this.sessions.encodeRecords(SESSION_RECORD_BYTES);
    const serviceRecords = this.service.snapshot();
    if (!(Symbol.iterator in serviceRecords)) {
      // Release whatever view the service captured for the async stream.
      void (serviceRecords as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]().return?.();
      return null;
    }
    this.counters.snapshots++;
    const chunks: Uint8Array[] = [snapshotPreamble()];
    let count = 0;
    const add = (type: RecordType, payload: Uint8Array): void => {
      count++;
      if (payload.length < 4096) chunks.push(frameRecord(type, payload));
      else chunks.push(...frameRecordParts(type, payload));
    };
    add(RecordType.Header, header);
    for (const s of sessionRecords) add(RecordType.Sessions, s);
    for (const rec of serviceRecords as Iterable<Uint8Array>) add(RecordType.Service, rec);
    chunks.push(endRecord(count));
    return { index, chunks };
  }

  /**
   * The image as (type, payload) records. Everything is captured synchronously here, so later
   * applies do not show up in it; the service's records are produced lazily from its view.
   */
  private capture(): { index: number; records: AsyncGenerator<[RecordType, Uint8Array]> } {
    const index = this.applied;
    const header = this.encodeHeader();
    const sessionRecords = this.sessions.encodeRecords(SESSION_RECORD_BYTES);
    const serviceRecords = this.service.snapshot();
    async function* records(): AsyncGenerator<[RecordType, Uint8Array]> {
      yield [RecordType.Header, header];
      for (const s of sessionRecords) yield [RecordType.Sessions, s];
      for await (const rec of serviceRecords) yield [RecordType.Service, rec];
    }
    return { index, records: records() };
  }

  //   header payload = name:string appliedIndex clockMs nextClientId window maxSessions ttlMs
  //                    maxCachedResultBytes                                       (varints)
  private encodeHeader(): Uint8Array {
    const s = this.sessions;
    const c = s.config;
    const w = new ByteWriter(64);
    w.string(this.service.name).varint(this.applied).varint(s.clockMs).varint(s.nextId);
    w.varint(c.window).varint(c.maxSessions).varint(c.ttlMs).varint(c.maxCachedResultBytes);
    return w.finish();
  }

  async restore(stream: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<RestoreInfo> {
    if (this.restoring) throw new Error('restore() is already in progress');
    this.restoring = true;
    try {
      let index = -1;
      let table: SessionTable | null = null;
      let restorer: ServiceRestorer | null = null;
      let lastOffset = 0;
      let bytes = 0;
      for await (const rec of readRecords(stream)) {
        lastOffset = rec.offset;
        bytes = rec.offset + rec.payload.length + 9;
        const r = new ByteReader(rec.payload, recordName(rec.type));
        try {
          if (table === null) {
            if (rec.type !== RecordType.Header) throw new SnapshotError(`first record has type ${rec.type}, expected a header`, rec.offset);
            const h = this.decodeHeader(r);
            index = h.index;
            table = h.table;
          } else if (rec.type === RecordType.Sessions) {
            if (restorer !== null) throw new SnapshotError('sessions record after service records', rec.offset);
            SessionTable.decodeRecord(r, table);
            r.expectEnd();
          } else if (rec.type === RecordType.Service) {
            restorer ??= this.service.restorer();
            await restorer.push(rec.payload);
          } else {
            throw new SnapshotError(`unexpected record type ${rec.type}`, rec.offset);
          }
        } catch (err) {
          throw wrapRecordError(err, rec.offset);
        }
      }
      if (table === null) throw new SnapshotError('no header record', 5);
      restorer ??= this.service.restorer();
      try {
        restorer.finish();
      } catch (err) {
        throw wrapRecordError(err, lastOffset, true);
      }
      restorer.commit();
      this.sessions = table;
      this.applied = index;
      this.counters.restores++;
      return { index, bytes: bytes + 13, service: this.service.name };
    } finally {
      this.restoring = false;
    }
  }

  private decodeHeader(r: ByteReader): { index: number; table: SessionTable } {
    const name = r.string('service name', MAX_NAME);
    if (name !== this.service.name) r.fail(`snapshot is of service "${name}", this state machine runs "${this.service.name}"`, 0);
    const index = r.varint();
    const clockMs = r.varint();
    const nextId = r.varint();
    const cfgAt = r.pos;
    const cfg: SessionConfig = {
      window: r.varint(),
      maxSessions: r.varint(),
      ttlMs: r.varint(),
      maxCachedResultBytes: r.varint(),
    };
    r.expectEnd();
    const mine = this.sessions.config;
    for (const k of ['window', 'maxSessions', 'ttlMs', 'maxCachedResultBytes'] as const) {
      if (cfg[k] !== mine[k])
        r.fail(`session setting ${k} is ${cfg[k]} in the snapshot but ${mine[k]} here; all replicas must use the same session settings`, cfgAt);
    }
    if (nextId < 1) r.fail('nextClientId must be ≥ 1', cfgAt);
    const table = new SessionTable(mine);
    table.nextId = nextId;
    table.clockMs = clockMs;
    return { index, table };
  }

  async digest(): Promise<string> {
    // Hash the payloads, marking where each kind of record starts but not where records were cut,
    // so local record-size settings do not change the digest.
    const h = createHash('sha256');
    let section = -1;
    for await (const [type, payload] of this.capture().records) {
      if (type !== section) {
        section = type;
        h.update(Uint8Array.of(0xff, type));
      }
      h.update(payload);
    }
    return h.digest('hex');
  }

  stats(): StateMachineStats {
    return {
      appliedIndex: this.applied,
      sessions: this.sessions.size,
      clockMs: this.sessions.clockMs,
      counters: { ...this.counters, sessionsExpired: this.sessions.expired, sessionsEvicted: this.sessions.evicted },
      service: this.service.stats(),
    };
  }
}

function recordName(type: number): string {
  switch (type) {
    case RecordType.Header:
      return 'snapshot header';
    case RecordType.Sessions:
      return 'sessions record';
    case RecordType.Service:
      return 'service record';
    default:
      return `record type ${type}`;
  }
}

/** Errors inside a record's payload become SnapshotErrors at an absolute stream offset. */
function wrapRecordError(err: unknown, recordOffset: number, atEnd = false): Error {
  if (err instanceof SnapshotError) return err;
  if (err instanceof DecodeError) {
    const offset = atEnd ? recordOffset : recordOffset + 5 + err.offset;
    return new SnapshotError(`${err.what}: ${err.reason}`, offset);
  }
  if (err instanceof Error) return new SnapshotError(err.message, recordOffset);
  return new SnapshotError(String(err), recordOffset);
}
