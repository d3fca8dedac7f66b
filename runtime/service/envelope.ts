// Generic envelopes around service-specific bodies: commands, command batches (one log entry),
// queries and results. Byte layouts are documented in docs/service.md ("Encodings").
//
//   command  = kind:u8 client:varint seq:varint ackDelta:varint bodyLen:varint body
//   batch    = format:u8(=1) timestampMs:varint count:varint command*count
//   query    = consistency:u8 body
//   result   = status:u8 (Ok: service body | Malformed: message | others: nothing)
import { asBuffer, ByteReader, ByteWriter, DecodeError, varintSize, writeVarint } from '../common/bytes.js';
import { Consistency } from './api.js';

export const BATCH_FORMAT = 1;

/** Bounds that keep a hostile entry from costing more than its size. */
export const MAX_COMMAND_BODY = 64 * 1024 * 1024;
export const MAX_BATCH_COMMANDS = 1 << 20;

export const CommandKind = {
  /** A service command (body = service-specific bytes). */
  Service: 0,
  /** Open a client session; the Ok result body is the new client id (varint). client must be 0. */
  OpenSession: 1,
  /** Close session `client`; Ok result with an empty body. */
  CloseSession: 2,
} as const;
export type CommandKind = (typeof CommandKind)[keyof typeof CommandKind];

export interface Command {
  readonly kind: CommandKind;
  /** Session id from OpenSession, or 0 for a session-less command (applied at least once). */
  readonly client: number;
  /**
   * With a session: 1, 2, 3, ... per client. Without: any nonce ≥ 1 the client uses to match
   * the reply (OpenSession, session-less writes).
   */
  readonly seq: number;
  /**
   * With a session: every seq ≤ ack has been answered to the client, so the state machine may
   * forget those results (0 ≤ ack < seq). Without a session: 0.
   */
  readonly ack: number;
  readonly body: Uint8Array;
}

const EMPTY = new Uint8Array(0);

export function encodeCommand(c: {
  kind?: CommandKind;
  client: number;
  seq: number;
  ack?: number;
  body?: Uint8Array;
}): Uint8Array {
  const kind = c.kind ?? CommandKind.Service;
  const ack = c.ack ?? 0;
  const body = c.body ?? EMPTY;
  checkHeader(kind, c.client, c.seq, ack, body.length);
  const w = new ByteWriter(16 + body.length);
  w.u8(kind).varint(c.client).varint(c.seq).varint(c.seq - ack).bytes(body);
  return w.finish();
}

function checkHeader(kind: number, client: number, seq: number, ack: number, bodyLen: number): void {
  if (kind !== CommandKind.Service && kind !== CommandKind.OpenSession && kind !== CommandKind.CloseSession)
    throw new RangeError(`unknown command kind ${kind}`);
  for (const [name, v] of [['client', client], ['seq', seq], ['ack', ack]] as const)
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${name} must be a safe non-negative integer, got ${v}`);
  if (seq < 1) throw new RangeError(`seq must be ≥ 1, got ${seq}`);
  if (ack >= seq) throw new RangeError(`ack (${ack}) must be below seq (${seq})`);
  if (client === 0 && ack !== 0) throw new RangeError('a session-less command has ack 0');
  if (kind === CommandKind.OpenSession && client !== 0) throw new RangeError('OpenSession has client 0');
  if (kind === CommandKind.CloseSession && client === 0) throw new RangeError('CloseSession needs a client');
  if (kind !== CommandKind.Service && bodyLen !== 0) throw new RangeError('session commands have no body');
  if (bodyLen > MAX_COMMAND_BODY) throw new RangeError(`command body of ${bodyLen} bytes exceeds ${MAX_COMMAND_BODY}`);
}

/**
 * Reads one command header at r.pos, leaving r.pos after the body. The body is r.buf[bodyStart,
 * bodyEnd). Fields are stored on the parser so hot loops allocate nothing.
 */
export class CommandParser {
  kind = 0;
  client = 0;
  seq = 0;
  ack = 0;
  bodyStart = 0;
  bodyEnd = 0;

  parse(r: ByteReader<Buffer>): void {
    const at = r.pos;
    const kind = r.u8();
    if (kind > CommandKind.CloseSession) r.fail(`unknown command kind ${kind}`, at);
    const client = r.varint();
    const seqAt = r.pos;
    const seq = r.varint();
    if (seq < 1) r.fail('seq must be ≥ 1', seqAt);
    const deltaAt = r.pos;
    const delta = r.varint();
    if (delta < 1 || delta > seq) r.fail(`ack delta ${delta} outside [1, seq=${seq}]`, deltaAt);
    const ack = seq - delta;
    if (client === 0 && ack !== 0) r.fail('a session-less command must have ack 0', deltaAt);
    if (kind === CommandKind.OpenSession && client !== 0) r.fail('OpenSession must have client 0', at);
    if (kind === CommandKind.CloseSession && client === 0) r.fail('CloseSession needs a client id', at);
    const lenAt = r.pos;
    const bodyLen = r.varintMax(MAX_COMMAND_BODY, 'command body length');
    if (kind !== CommandKind.Service && bodyLen !== 0) r.fail('session commands have no body', lenAt);
    const bodyStart = r.skip(bodyLen, 'command body');
    this.kind = kind;
    this.client = client;
    this.seq = seq;
    this.ack = ack;
    this.bodyStart = bodyStart;
    this.bodyEnd = bodyStart + bodyLen;
  }
}

export function decodeCommand(bytes: Uint8Array): Command {
  const r = new ByteReader(asBuffer(bytes), 'command');
  const p = new CommandParser();
  p.parse(r);
  r.expectEnd();
  return {
    kind: p.kind as CommandKind,
    client: p.client,
    seq: p.seq,
    ack: p.ack,
    body: r.buf.subarray(p.bodyStart, p.bodyEnd),
  };
}

/** Structural check a replica runs before proposing a client's command. Throws DecodeError. */
export function validateCommand(bytes: Uint8Array): void {
  const r = new ByteReader(asBuffer(bytes), 'command');
  new CommandParser().parse(r);
  r.expectEnd();
}

/**
 * One log entry's payload: encoded commands (from encodeCommand, passed through unchanged) and
 * the proposer's wall-clock timestamp, which drives deterministic session expiry.
 */
export function encodeBatch(timestampMs: number, commands: readonly Uint8Array[]): Buffer {
  if (!Number.isSafeInteger(timestampMs) || timestampMs < 0) throw new RangeError(`bad timestamp ${timestampMs}`);
  if (commands.length > MAX_BATCH_COMMANDS) throw new RangeError(`batch of ${commands.length} commands exceeds ${MAX_BATCH_COMMANDS}`);
  let size = 1 + varintSize(timestampMs) + varintSize(commands.length);
  for (const c of commands) size += c.length;
  const out = Buffer.allocUnsafe(size);
  let p = 0;
  out[p++] = BATCH_FORMAT;
  p = writeVarint(out, p, timestampMs);
  p = writeVarint(out, p, commands.length);
  for (const c of commands) {
    out.set(c, p);
    p += c.length;
  }
  return out;
}

export interface Batch {
  readonly timestampMs: number;
  readonly commands: Command[];
}

/** Reads a batch header at r.pos; returns the command count. */
export function readBatchHeader(r: ByteReader<Buffer>): { timestampMs: number; count: number } {
  const at = r.pos;
  const format = r.u8();
  if (format !== BATCH_FORMAT) r.fail(`unknown batch format ${format} (expected ${BATCH_FORMAT})`, at);
  const timestampMs = r.varint();
  const count = r.varintMax(MAX_BATCH_COMMANDS, 'batch command count');
  return { timestampMs, count };
}

export function decodeBatch(bytes: Uint8Array): Batch {
  const r = new ByteReader(asBuffer(bytes), 'batch');
  const { timestampMs, count } = readBatchHeader(r);
  const p = new CommandParser();
  const commands: Command[] = [];
  for (let i = 0; i < count; i++) {
    p.parse(r);
    commands.push({
      kind: p.kind as CommandKind,
      client: p.client,
      seq: p.seq,
      ack: p.ack,
      body: r.buf.subarray(p.bodyStart, p.bodyEnd),
    });
  }
  r.expectEnd();
  return { timestampMs, commands };
}

// ---- queries ----

export function encodeQuery(consistency: Consistency, body: Uint8Array): Buffer {
  if (consistency !== Consistency.Linearizable && consistency !== Consistency.Stale)
    throw new RangeError(`unknown consistency ${consistency}`);
  const out = Buffer.allocUnsafe(1 + body.length);
  out[0] = consistency;
  out.set(body, 1);
  return out;
}

/** The routing field of a query, read without decoding the rest. Throws DecodeError. */
export function readQueryConsistency(q: Uint8Array): Consistency {
  if (q.length === 0) throw new DecodeError('empty query', 0, 'query');
  const c = q[0]!;
  if (c !== Consistency.Linearizable && c !== Consistency.Stale)
    throw new DecodeError(`unknown consistency ${c}`, 0, 'query');
  return c as Consistency;
}

// ---- results ----

export const ResultStatus = {
  /** Applied (or answered); the body is the service's result. */
  Ok: 0,
  /** The client's session does not exist (never opened, closed or expired). Not applied. */
  UnknownSession: 1,
  /** seq ≤ the client's acknowledged seq: the client already has this answer. Not applied. */
  Stale: 2,
  /** seq is more than `window` beyond the client's ack. Not applied; retry once earlier ones finish. */
  WindowExceeded: 3,
  /** The command or query could not be decoded or violated a limit. Not applied. Body: message. */
  Malformed: 4,
  /** A retry of a command that was applied, but whose result was too large to keep. */
  AppliedResultDropped: 5,
} as const;
export type ResultStatus = (typeof ResultStatus)[keyof typeof ResultStatus];

const STATUS_NAMES: Record<number, string> = {
  0: 'ok',
  1: 'unknown-session',
  2: 'stale',
  3: 'window-exceeded',
  4: 'malformed',
  5: 'applied-result-dropped',
};

export type DecodedResult =
  | { readonly status: typeof ResultStatus.Ok; readonly body: Buffer }
  | { readonly status: typeof ResultStatus.Malformed; readonly message: string }
  | {
      readonly status:
        | typeof ResultStatus.UnknownSession
        | typeof ResultStatus.Stale
        | typeof ResultStatus.WindowExceeded
        | typeof ResultStatus.AppliedResultDropped;
    };

export function resultStatusName(status: number): string {
  return STATUS_NAMES[status] ?? `status-${status}`;
}

export function encodeStatusResult(status: ResultStatus, message?: string): Uint8Array {
  const w = new ByteWriter(16);
  w.u8(status);
  if (status === ResultStatus.Malformed) w.string(message ?? '');
  else if (message !== undefined) throw new RangeError('only Malformed results carry a message');
  return w.finish();
}

export function decodeResult(bytes: Uint8Array): DecodedResult {
  const r = new ByteReader(asBuffer(bytes), 'result');
  const status = r.u8();
  switch (status) {
    case ResultStatus.Ok:
      return { status, body: r.buf.subarray(1, r.end) };
    case ResultStatus.Malformed: {
      const message = r.string('message', 64 * 1024);
      r.expectEnd();
      return { status, message };
    }
    case ResultStatus.UnknownSession:
    case ResultStatus.Stale:
    case ResultStatus.WindowExceeded:
    case ResultStatus.AppliedResultDropped:
      r.expectEnd();
      return { status };
    default:
      return r.fail(`unknown result status ${status}`, 0);
  }
}

/** An Ok result's body, or an Error that names the status (for callers that only want success). */
export function okBody(bytes: Uint8Array): Buffer {
  const d = decodeResult(bytes);
  if (d.status === ResultStatus.Ok) return d.body;
  const detail = d.status === ResultStatus.Malformed ? `: ${d.message}` : '';
  throw new Error(`command failed: ${resultStatusName(d.status)}${detail}`);
}
