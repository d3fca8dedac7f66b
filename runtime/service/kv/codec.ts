// The KV service's command, query and result bodies (inside the generic envelopes of
// ../envelope.ts). Byte layouts are in docs/service.md ("KV encodings"). The service itself decodes
// commands straight from the bytes (service.ts); these typed functions are for clients and tests.
import { asBuffer, ByteReader, ByteWriter } from '../../common/bytes.js';

export const MAX_KEY_BYTES = 64 * 1024;
export const MAX_VALUE_BYTES = 16 * 1024 * 1024;
export const MAX_SCAN_LIMIT = 100_000;
/** A scan stops adding entries once its result passes this size (it always returns at least one). */
export const MAX_SCAN_RESULT_BYTES = 4 * 1024 * 1024;

export const KvOp = { Put: 1, Delete: 2, Cas: 3 } as const;
export const KvQueryOp = { Get: 1, Scan: 2, Stat: 3 } as const;
export const CompareKind = { Absent: 0, Value: 1, ModRevision: 2 } as const;
/** Put/Delete flag: return the previous entry. */
export const FLAG_PREV_KV = 1;
/** Cas flag: on success delete the key instead of setting a value. */
export const FLAG_CAS_DELETE = 2;
/** Scan flags. */
export const FLAG_KEYS_ONLY = 1;
/** Scan result flags. */
export const SCAN_MORE = 1;
export const SCAN_KEYS_ONLY = 2;

export type KvCompare =
  | { readonly kind: 'absent' }
  | { readonly kind: 'value'; readonly value: Uint8Array }
  /** Succeeds iff the key's modRevision equals `revision` (0 means "absent", as in etcd). */
  | { readonly kind: 'mod-revision'; readonly revision: number };

export type KvCommand =
  | { readonly op: 'put'; readonly key: Uint8Array; readonly value: Uint8Array; readonly prevKv?: boolean }
  | { readonly op: 'delete'; readonly key: Uint8Array; readonly prevKv?: boolean }
  /** `value: null` deletes the key when the comparison holds. */
  | { readonly op: 'cas'; readonly key: Uint8Array; readonly compare: KvCompare; readonly value: Uint8Array | null };

export type KvQuery =
  | { readonly op: 'get'; readonly key: Uint8Array }
  /** Keys in [start, end), sorted bytewise; `end: null` means no upper bound; empty start = first key. */
  | { readonly op: 'scan'; readonly start: Uint8Array; readonly end: Uint8Array | null; readonly limit: number; readonly keysOnly?: boolean }
  | { readonly op: 'stat' };

export interface KvEntry {
  readonly key: Uint8Array;
  /** null in keys-only scans. */
  readonly value: Uint8Array | null;
  /** Store revision of the put that created the key (since its last deletion). */
  readonly createRevision: number;
  /** Store revision of the last put. */
  readonly modRevision: number;
  /** Number of puts since creation (1 after the first). */
  readonly version: number;
}

export type KvCommandResult =
  /** `revision`: the new modRevision. */
  | { readonly op: 'put'; readonly revision: number; readonly prev: KvEntry | null }
  /** `revision`: the store revision after the command (unchanged when nothing was deleted). */
  | { readonly op: 'delete'; readonly revision: number; readonly deleted: boolean; readonly prev: KvEntry | null }
  /**
   * On success `revision` is the new modRevision (or the deletion's revision); on failure it is the
   * store revision and `current` is the key's entry (null when absent).
   */
  | { readonly op: 'cas'; readonly succeeded: boolean; readonly revision: number; readonly current: KvEntry | null };

export type KvQueryResult =
  /** `revision`: the store revision the read saw. */
  | { readonly op: 'get'; readonly revision: number; readonly entry: KvEntry | null }
  | { readonly op: 'scan'; readonly revision: number; readonly entries: KvEntry[]; readonly more: boolean }
  | { readonly op: 'stat'; readonly revision: number; readonly keys: number; readonly valueBytes: number };

function checkKey(key: Uint8Array): void {
  if (key.length === 0) throw new RangeError('key must not be empty');
  if (key.length > MAX_KEY_BYTES) throw new RangeError(`key of ${key.length} bytes exceeds ${MAX_KEY_BYTES}`);
}

function checkValue(value: Uint8Array): void {
  if (value.length > MAX_VALUE_BYTES) throw new RangeError(`value of ${value.length} bytes exceeds ${MAX_VALUE_BYTES}`);
}

export function encodeKvCommand(c: KvCommand): Uint8Array {
  checkKey(c.key);
  const w = new ByteWriter(32 + c.key.length + (c.op === 'put' ? c.value.length : 0));
  switch (c.op) {
    case 'put':
      checkValue(c.value);
      w.u8(KvOp.Put).u8(c.prevKv ? FLAG_PREV_KV : 0).bytes(c.key).bytes(c.value);
      break;
    case 'delete':
      w.u8(KvOp.Delete).u8(c.prevKv ? FLAG_PREV_KV : 0).bytes(c.key);
      break;
    case 'cas': {
      w.u8(KvOp.Cas).u8(c.value === null ? FLAG_CAS_DELETE : 0).bytes(c.key);
      const cmp = c.compare;
      if (cmp.kind === 'absent') w.u8(CompareKind.Absent);
      else if (cmp.kind === 'value') {
        checkValue(cmp.value);
        w.u8(CompareKind.Value).bytes(cmp.value);
      } else w.u8(CompareKind.ModRevision).varint(cmp.revision);
      if (c.value !== null) {
        checkValue(c.value);
        w.bytes(c.value);
      }
      break;
    }
    default:
      throw new RangeError(`unknown kv command ${(c as { op: string }).op}`);
  }
  return w.finish();
}

export function decodeKvCommand(bytes: Uint8Array): KvCommand {
  const r = new ByteReader(asBuffer(bytes), 'kv command');
  const at = r.pos;
  const op = r.u8();
  const flagsAt = r.pos;
  const flags = r.u8();
  const key = readKey(r);
  let c: KvCommand;
  switch (op) {
    case KvOp.Put:
      if (flags & ~FLAG_PREV_KV) r.fail(`unknown put flags ${flags}`, flagsAt);
      c = { op: 'put', key, value: r.bytes('value', MAX_VALUE_BYTES), prevKv: (flags & FLAG_PREV_KV) !== 0 };
      break;
    case KvOp.Delete:
      if (flags & ~FLAG_PREV_KV) r.fail(`unknown delete flags ${flags}`, flagsAt);
      c = { op: 'delete', key, prevKv: (flags & FLAG_PREV_KV) !== 0 };
      break;
    case KvOp.Cas: {
      if (flags & ~FLAG_CAS_DELETE) r.fail(`unknown cas flags ${flags}`, flagsAt);
      const compare = readCompare(r);
      const value = flags & FLAG_CAS_DELETE ? null : r.bytes('value', MAX_VALUE_BYTES);
      c = { op: 'cas', key, compare, value };
      break;
    }
    default:
      return r.fail(`unknown kv command op ${op}`, at);
  }
  r.expectEnd();
  return c;
}

export function readKey(r: ByteReader<Buffer>): Buffer {
  const at = r.pos;
  const key = r.bytes('key', MAX_KEY_BYTES);
  if (key.length === 0) r.fail('empty key', at);
  return key;
}

function readCompare(r: ByteReader<Buffer>): KvCompare {
  const at = r.pos;
  const kind = r.u8();
  switch (kind) {
    case CompareKind.Absent:
      return { kind: 'absent' };
    case CompareKind.Value:
      return { kind: 'value', value: r.bytes('compare value', MAX_VALUE_BYTES) };
    case CompareKind.ModRevision:
      return { kind: 'mod-revision', revision: r.varint() };
    default:
      return r.fail(`unknown compare kind ${kind}`, at);
  }
}

export function encodeKvQuery(q: KvQuery): Uint8Array {
  const w = new ByteWriter(32);
  switch (q.op) {
    case 'get':
      checkKey(q.key);
      w.u8(KvQueryOp.Get).bytes(q.key);
      break;
    case 'scan':
      if (!Number.isSafeInteger(q.limit) || q.limit < 1 || q.limit > MAX_SCAN_LIMIT)
        throw new RangeError(`scan limit must be 1..${MAX_SCAN_LIMIT}, got ${q.limit}`);
      if (q.start.length > MAX_KEY_BYTES || (q.end !== null && q.end.length > MAX_KEY_BYTES))
        throw new RangeError(`scan bounds are keys of at most ${MAX_KEY_BYTES} bytes`);
      w.u8(KvQueryOp.Scan).u8(q.keysOnly ? FLAG_KEYS_ONLY : 0).bytes(q.start);
      if (q.end === null) w.u8(0);
      else w.u8(1).bytes(q.end);
      w.varint(q.limit);
      break;
    case 'stat':
      w.u8(KvQueryOp.Stat);
      break;
    default:
      throw new RangeError(`unknown kv query ${(q as { op: string }).op}`);
  }
  return w.finish();
}

/** Decoded scan parameters, with bounds as views into the query bytes. */
export interface ScanParams {
  readonly start: Buffer;
  readonly end: Buffer | null;
  readonly limit: number;
  readonly keysOnly: boolean;
}

export function readScan(r: ByteReader<Buffer>): ScanParams {
  const flagsAt = r.pos;
  const flags = r.u8();
  if (flags & ~FLAG_KEYS_ONLY) r.fail(`unknown scan flags ${flags}`, flagsAt);
  const start = r.bytes('scan start', MAX_KEY_BYTES);
  const hasEndAt = r.pos;
  const hasEnd = r.u8();
  if (hasEnd > 1) r.fail(`bad end marker ${hasEnd}`, hasEndAt);
  const end = hasEnd ? r.bytes('scan end', MAX_KEY_BYTES) : null;
  const limitAt = r.pos;
  const limit = r.varint();
  if (limit < 1 || limit > MAX_SCAN_LIMIT) r.fail(`scan limit must be 1..${MAX_SCAN_LIMIT}, got ${limit}`, limitAt);
  return { start, end, limit, keysOnly: (flags & FLAG_KEYS_ONLY) !== 0 };
}

export function decodeKvQuery(bytes: Uint8Array): KvQuery {
  const r = new ByteReader(asBuffer(bytes), 'kv query');
  const at = r.pos;
  const op = r.u8();
  let q: KvQuery;
  switch (op) {
    case KvQueryOp.Get:
      q = { op: 'get', key: readKey(r) };
      break;
    case KvQueryOp.Scan:
      q = { op: 'scan', ...readScan(r) };
      break;
    case KvQueryOp.Stat:
      q = { op: 'stat' };
      break;
    default:
      return r.fail(`unknown kv query op ${op}`, at);
  }
  r.expectEnd();
  return q;
}

//   kv = key:lenBytes createRevision:varint modRevision:varint version:varint [value:lenBytes]
export function writeKvEntry(w: ByteWriter, e: KvEntry): void {
  w.bytes(e.key).varint(e.createRevision).varint(e.modRevision).varint(e.version);
  if (e.value !== null) w.bytes(e.value);
}

export function readKvEntry(r: ByteReader<Buffer>, withValue: boolean): KvEntry {
  const key = readKey(r);
  const createRevision = r.varint();
  const modRevision = r.varint();
  const version = r.varint();
  const value = withValue ? r.bytes('value', MAX_VALUE_BYTES) : null;
  return { key, value, createRevision, modRevision, version };
}

function writeOptionalEntry(w: ByteWriter, e: KvEntry | null): void {
  if (e === null) w.u8(0);
  else writeKvEntry(w.u8(1), e);
}

function readOptionalEntry(r: ByteReader<Buffer>): KvEntry | null {
  const at = r.pos;
  const has = r.u8();
  if (has > 1) r.fail(`bad presence marker ${has}`, at);
  return has ? readKvEntry(r, true) : null;
}

function readBool(r: ByteReader<Buffer>, field: string): boolean {
  const at = r.pos;
  const b = r.u8();
  if (b > 1) r.fail(`${field} must be 0 or 1, got ${b}`, at);
  return b === 1;
}

export function encodeKvCommandResult(res: KvCommandResult): Uint8Array {
  const w = new ByteWriter(32);
  switch (res.op) {
    case 'put':
      writeOptionalEntry(w.u8(KvOp.Put).varint(res.revision), res.prev);
      break;
    case 'delete':
      writeOptionalEntry(w.u8(KvOp.Delete).varint(res.revision).u8(res.deleted ? 1 : 0), res.prev);
      break;
    case 'cas':
      writeOptionalEntry(w.u8(KvOp.Cas).u8(res.succeeded ? 1 : 0).varint(res.revision), res.current);
      break;
  }
  return w.finish();
}

export function decodeKvCommandResult(body: Uint8Array): KvCommandResult {
  const r = new ByteReader(asBuffer(body), 'kv result');
  const tag = r.u8();
  let res: KvCommandResult;
  switch (tag) {
    case KvOp.Put:
      res = { op: 'put', revision: r.varint(), prev: readOptionalEntry(r) };
      break;
    case KvOp.Delete: {
      const revision = r.varint();
      const deleted = readBool(r, 'deleted');
      res = { op: 'delete', revision, deleted, prev: readOptionalEntry(r) };
      break;
    }
    case KvOp.Cas: {
      const succeeded = readBool(r, 'succeeded');
      const revision = r.varint();
      res = { op: 'cas', succeeded, revision, current: readOptionalEntry(r) };
      break;
    }
    default:
      return r.fail(`unknown kv result tag ${tag}`, 0);
  }
  r.expectEnd();
  return res;
}

export function encodeKvQueryResult(res: KvQueryResult): Uint8Array {
  const w = new ByteWriter(64);
  switch (res.op) {
    case 'get':
      writeOptionalEntry(w.u8(KvQueryOp.Get).varint(res.revision), res.entry);
      break;
    case 'scan': {
      const keysOnly = res.entries.length > 0 && res.entries.every((e) => e.value === null);
      w.u8(KvQueryOp.Scan).varint(res.revision).u8((res.more ? SCAN_MORE : 0) | (keysOnly ? SCAN_KEYS_ONLY : 0));
      for (const e of res.entries) writeKvEntry(w, e);
      break;
    }
    case 'stat':
      w.u8(KvQueryOp.Stat).varint(res.revision).varint(res.keys).varint(res.valueBytes);
      break;
  }
  return w.finish();
}

export function decodeKvQueryResult(body: Uint8Array): KvQueryResult {
  const r = new ByteReader(asBuffer(body), 'kv query result');
  const tag = r.u8();
  let res: KvQueryResult;
  switch (tag) {
    case KvQueryOp.Get:
      res = { op: 'get', revision: r.varint(), entry: readOptionalEntry(r) };
      break;
    case KvQueryOp.Scan: {
      const revision = r.varint();
      const flagsAt = r.pos;
      const flags = r.u8();
      if (flags & ~(SCAN_MORE | SCAN_KEYS_ONLY)) r.fail(`unknown scan result flags ${flags}`, flagsAt);
      const entries: KvEntry[] = [];
      while (r.remaining > 0) {
        if (entries.length === MAX_SCAN_LIMIT) r.fail(`more than ${MAX_SCAN_LIMIT} scan entries`);
        entries.push(readKvEntry(r, (flags & SCAN_KEYS_ONLY) === 0));
      }
      res = { op: 'scan', revision, entries, more: (flags & SCAN_MORE) !== 0 };
      break;
    }
    case KvQueryOp.Stat:
      res = { op: 'stat', revision: r.varint(), keys: r.varint(), valueBytes: r.varint() };
      break;
    default:
      return r.fail(`unknown kv query result tag ${tag}`, 0);
  }
  r.expectEnd();
  return res;
}
