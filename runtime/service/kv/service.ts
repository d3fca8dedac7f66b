// The KV service: decodes command and query bodies straight from the entry bytes (no intermediate
// objects on the hot path), runs them against the KvStore and writes result bodies.
import type { ApplyContext, Service, ServiceRestorer, ServiceSnapshotRecords } from '../api.js';
import { ByteReader, ByteWriter, latin1String } from '../../common/bytes.js';
import {
  CompareKind,
  FLAG_CAS_DELETE,
  FLAG_PREV_KV,
  KvOp,
  KvQueryOp,
  MAX_KEY_BYTES,
  MAX_SCAN_RESULT_BYTES,
  MAX_VALUE_BYTES,
  readScan,
  SCAN_KEYS_ONLY,
  SCAN_MORE,
} from './codec.js';
import { KvStore, KvStoreBuilder, type VersionView } from './store.js';

export const KV_SERVICE_NAME = 'kv';
const SNAPSHOT_META = 1;
const SNAPSHOT_VERSION = 1;

export interface KvServiceOptions {
  /** Arena chunk size in bytes (local memory layout only; replicas may differ). */
  readonly arenaChunkSize?: number;
  /** Target size of a snapshot data record. */
  readonly snapshotRecordBytes?: number;
}

export class KvService implements Service {
  readonly name: string = KV_SERVICE_NAME;
  private store: KvStore;
  private readonly arenaChunkSize: number | undefined;
  private readonly recordBytes: number;

  constructor(options: KvServiceOptions = {}) {
    this.arenaChunkSize = options.arenaChunkSize;
    this.recordBytes = options.snapshotRecordBytes ?? 256 * 1024;
    this.store = new KvStore(this.arenaChunkSize);
  }

  /** The live store (read-only use: tests, status). */
  get kv(): KvStore {
    return this.store;
  }

  apply(r: ByteReader<Buffer>, out: ByteWriter, _ctx: ApplyContext): void {
    const at = r.pos;
    const op = r.u8();
    if (op !== KvOp.Put && op !== KvOp.Delete && op !== KvOp.Cas) r.fail(`unknown kv command op ${op}`, at);
    const flagsAt = r.pos;
    const flags = r.u8();
    const klen = r.varintMax(MAX_KEY_BYTES, 'key length');
    if (klen === 0) r.fail('empty key', flagsAt + 1);
    const kpos = r.skip(klen, 'key');
    const buf = r.buf;
    switch (op) {
      case KvOp.Put: {
        if (flags & ~FLAG_PREV_KV) r.fail(`unknown put flags ${flags}`, flagsAt);
        const vlen = r.varintMax(MAX_VALUE_BYTES, 'value length');
        const vpos = r.skip(vlen, 'value');
        r.expectEnd();
        const key = latin1String(buf, kpos, kpos + klen);
        const store = this.store;
        // The result (with the previous entry) is written before the put, which may reuse the
        // previous version's record. A put always advances the revision by one.
        out.u8(KvOp.Put).varint(store.revision + 1);
        if (flags & FLAG_PREV_KV) writeOptional(out, store.get(key), key);
        else out.u8(0);
        store.put(key, buf, vpos, vlen);
        return;
      }
      case KvOp.Delete: {
        if (flags & ~FLAG_PREV_KV) r.fail(`unknown delete flags ${flags}`, flagsAt);
        r.expectEnd();
        const key = latin1String(buf, kpos, kpos + klen);
        const store = this.store;
        const prev = store.get(key);
        out.u8(KvOp.Delete).varint(prev === undefined ? store.revision : store.revision + 1).u8(prev === undefined ? 0 : 1);
        writeOptional(out, flags & FLAG_PREV_KV ? prev : undefined, key);
        store.delete(key);
        return;
      }
      default:
        if (flags & ~FLAG_CAS_DELETE) r.fail(`unknown cas flags ${flags}`, flagsAt);
        this.applyCas(r, out, latin1String(buf, kpos, kpos + klen), (flags & FLAG_CAS_DELETE) !== 0);
    }
  }

  private applyCas(r: ByteReader<Buffer>, out: ByteWriter, key: string, del: boolean): void {
    const kindAt = r.pos;
    const kind = r.u8();
    let cmpPos = 0;
    let cmpLen = 0;
    let cmpRev = 0;
    if (kind === CompareKind.Value) {
      cmpLen = r.varintMax(MAX_VALUE_BYTES, 'compare value length');
      cmpPos = r.skip(cmpLen, 'compare value');
    } else if (kind === CompareKind.ModRevision) {
      cmpRev = r.varint();
    } else if (kind !== CompareKind.Absent) {
      r.fail(`unknown compare kind ${kind}`, kindAt);
    }
    let vpos = 0;
    let vlen = 0;
    if (!del) {
      vlen = r.varintMax(MAX_VALUE_BYTES, 'value length');
      vpos = r.skip(vlen, 'value');
    }
    r.expectEnd();
    const store = this.store;
    const current = store.get(key);
    let ok: boolean;
    if (kind === CompareKind.Absent) ok = current === undefined;
    else if (kind === CompareKind.Value) ok = current !== undefined && KvStore.valueEquals(current, r.buf, cmpPos, cmpLen);
    else ok = cmpRev === 0 ? current === undefined : current !== undefined && current.mod === cmpRev;
    if (!ok) {
      out.u8(KvOp.Cas).u8(0).varint(store.revision);
      writeOptional(out, current, key);
      return;
    }
    // A successful compare on "absent" with delete is a no-op success.
    if (del) store.delete(key);
    else store.put(key, r.buf, vpos, vlen);
    out.u8(KvOp.Cas).u8(1).varint(store.revision).u8(0);
  }

  query(r: ByteReader<Buffer>, out: ByteWriter): void {
    const at = r.pos;
    const op = r.u8();
    const store = this.store;
    switch (op) {
      case KvQueryOp.Get: {
        const klen = r.varintMax(MAX_KEY_BYTES, 'key length');
        if (klen === 0) r.fail('empty key', at + 1);
        const kpos = r.skip(klen, 'key');
        r.expectEnd();
        const key = latin1String(r.buf, kpos, kpos + klen);
        out.u8(KvQueryOp.Get).varint(store.revision);
        writeOptional(out, store.get(key), key);
        return;
      }
      case KvQueryOp.Scan: {
        const p = readScan(r);
        r.expectEnd();
        this.scan(latin1String(p.start, 0, p.start.length), p.end === null ? undefined : latin1String(p.end, 0, p.end.length), p.limit, p.keysOnly, out);
        return;
      }
      case KvQueryOp.Stat:
        r.expectEnd();
        out.u8(KvQueryOp.Stat).varint(store.revision).varint(store.size).varint(store.valueBytes);
        return;
      default:
        r.fail(`unknown kv query op ${op}`, at);
    }
  }

  private scan(start: string, end: string | undefined, limit: number, keysOnly: boolean, out: ByteWriter): void {
    out.u8(KvQueryOp.Scan).varint(this.store.revision);
    // The flags (with "more") are known only at the end: reserve their byte. Entries follow until
    // the end of the body, so no count is needed up front.
    const flagsAt = out.pos;
    out.u8(0);
    const base = out.pos;
    let count = 0;
    let more = false;
    this.store.scan(start, end, (key, v) => {
      if (count === limit || (count > 0 && out.pos - base >= MAX_SCAN_RESULT_BYTES)) {
        more = true;
        return false;
      }
      writeEntry(out, key, v, !keysOnly);
      count++;
      return true;
    });
    out.buf[flagsAt] = (more ? SCAN_MORE : 0) | (keysOnly ? SCAN_KEYS_ONLY : 0);
  }

  snapshot(): ServiceSnapshotRecords {
    const view = this.store.view();
    const recordBytes = this.recordBytes;
    function* records(): Generator<Uint8Array> {
      try {
        const meta = new ByteWriter(32);
        meta.u8(SNAPSHOT_META).u8(SNAPSHOT_VERSION).varint(view.revision).varint(view.keys);
        yield meta.finish();
        // Data records hold whole entries and nothing else, so the concatenated payloads do not
        // depend on where records were cut (digest() relies on that).
        const w = new ByteWriter(recordBytes + 1024);
        for (const [key, v] of view.entries()) {
          writeEntry(w, key, v, true);
          if (w.pos >= recordBytes) {
            yield w.finish();
            w.reset();
          }
        }
        if (w.pos > 0) yield w.finish();
      } finally {
        view.close();
      }
    }
    return records();
  }

  restorer(): ServiceRestorer {
    return new KvRestorer(this, this.arenaChunkSize);
  }

  /** @internal Used by KvRestorer.commit. */
  replaceStore(store: KvStore): void {
    this.store = store;
  }

  stats(): Record<string, number> {
    return this.store.stats();
  }
}

// kv entry as in results: key lenBytes, create, mod, version, [value lenBytes]
function writeEntry(w: ByteWriter, key: string, v: VersionView, withValue: boolean): void {
  w.latin1(key).varint(v.create).varint(v.mod).varint(v.version);
  if (withValue) {
    w.varint(v.len);
    if (v.len > 0) w.raw(v.chunk!.buf, v.off, v.off + v.len);
  }
}

function writeOptional(w: ByteWriter, v: VersionView | undefined, key: string): void {
  if (v === undefined) {
    w.u8(0);
    return;
  }
  w.u8(1);
  writeEntry(w, key, v, true);
}

//   first record = meta: 1:u8 version:u8(=1) revision:varint keyCount:varint
//   later records = data: (key:lenBytes create mod version value:lenBytes)* until the record's end
class KvRestorer implements ServiceRestorer {
  private readonly builder: KvStoreBuilder;
  private revision = -1;
  private keyCount = 0;
  private built: KvStore | null = null;

  constructor(
    private readonly service: KvService,
    arenaChunkSize: number | undefined,
  ) {
    this.builder = new KvStoreBuilder(arenaChunkSize);
  }

  push(record: Uint8Array): void {
    const r = new ByteReader(record, 'kv snapshot record');
    if (this.revision < 0) {
      const tag = r.u8();
      if (tag !== SNAPSHOT_META) r.fail(`expected the kv meta record, got tag ${tag}`, 0);
      const vAt = r.pos;
      const version = r.u8();
      if (version !== SNAPSHOT_VERSION) r.fail(`unsupported kv snapshot version ${version}`, vAt);
      this.revision = r.varint();
      this.keyCount = r.varint();
      r.expectEnd();
      return;
    }
    const b = this.builder;
    while (r.remaining > 0) {
      const at = r.pos;
      const klen = r.varintMax(MAX_KEY_BYTES, 'key length');
      if (klen === 0) r.fail('empty key', at);
      const kpos = r.skip(klen, 'key');
      const key = latin1String(r.buf, kpos, kpos + klen);
      const last = b.lastKey;
      if (last !== undefined && !(last < key)) r.fail('keys not in strictly increasing order', at);
      const create = r.varint();
      const mod = r.varint();
      const version = r.varint();
      if (create < 1 || create > mod || mod > this.revision || version < 1)
        r.fail(`inconsistent revisions (create ${create}, mod ${mod}, version ${version}, store revision ${this.revision})`, at);
      const vlen = r.varintMax(MAX_VALUE_BYTES, 'value length');
      const vpos = r.skip(vlen, 'value');
      if (b.count >= this.keyCount) r.fail(`more keys than the ${this.keyCount} announced`, at);
      b.add(key, r.buf, vpos, vlen, create, mod, version);
    }
  }

  finish(): void {
    if (this.revision < 0) throw new Error('kv snapshot has no meta record');
    if (this.builder.count !== this.keyCount)
      throw new Error(`kv snapshot holds ${this.builder.count} keys but announced ${this.keyCount}`);
    this.built = this.builder.build(this.revision);
  }

  commit(): void {
    if (this.built === null) throw new Error('commit() before finish()');
    this.service.replaceStore(this.built);
  }
}
