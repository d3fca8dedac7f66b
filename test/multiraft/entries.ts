// Entry builders for sequencer tests: one instance log at a time, indexes counted per instance.
import { EntryType } from '../../runtime/protocols/api.js';
import type { Entry, Membership, MembershipChange } from '../../runtime/protocols/api.js';
import { encodeRecord, encodeSkip } from '../../runtime/protocols/multiraft/records.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
export const BOOT: Membership = { voters: [1, 2, 3], learners: [] };

/** Builds one instance's log: each call appends the next index. */
export class LogBuilder {
  readonly entries: Entry[] = [];
  constructor(private term = 1) {}
  private add(type: EntryType, data: Uint8Array): this {
    this.entries.push({ index: this.entries.length + 1, term: this.term, type, data });
    return this;
  }
  cmd(text: string): this {
    return this.add(EntryType.Normal, enc.encode(text));
  }
  cmds(prefix: string, n: number): this {
    for (let i = 0; i < n; i++) this.cmd(`${prefix}${i}`);
    return this;
  }
  noop(n = 1): this {
    for (let i = 0; i < n; i++) this.add(EntryType.Noop, new Uint8Array(0));
    return this;
  }
  skip(count: number): this {
    return this.add(EntryType.Skip, encodeSkip(count));
  }
  change(fromEpoch: number, instances: number): this {
    return this.add(EntryType.Noop, encodeRecord({ kind: 'change', fromEpoch, instances }));
  }
  members(change: MembershipChange): this {
    return this.add(EntryType.Noop, encodeRecord({ kind: 'members', change }));
  }
  seal(epoch: number): this {
    return this.add(EntryType.Noop, encodeRecord({ kind: 'seal', epoch }));
  }
  join(epoch: number): this {
    return this.add(EntryType.Noop, encodeRecord({ kind: 'join', epoch }));
  }
  raw(type: EntryType, data: Uint8Array): this {
    return this.add(type, data);
  }
}

export function text(e: Entry): string {
  return dec.decode(e.data);
}
