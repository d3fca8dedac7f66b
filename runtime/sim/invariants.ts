// Safety invariants of a replicated log, checked while a simulation runs. Everything is read
// through GroupView and the host's own observations (writes, applies), so any protocol with one or
// many consensus groups is checked the same way:
//   election safety      at most one leader per (group, term), ever;
//   log matching         two logs holding an entry with the same index and term hold the same
//                        entry there and agree on everything before it;
//   leader completeness  an entry committed in term t is in the log of every leader of a later
//                        term;
//   state-machine safety no two replicas apply different commands at one output index, and each
//                        replica applies output positions in order without gaps.
import type { Entry, GroupView, GroupWrite, NodeId } from '../protocols/api.js';

export type ViolationKind =
  | 'election-safety'
  | 'log-matching'
  | 'leader-completeness'
  | 'state-machine-safety'
  | 'persistence-contract'
  | 'core-error';

export interface Violation {
  readonly kind: ViolationKind;
  readonly time: number;
  readonly message: string;
}

interface Committed {
  readonly entry: Entry;
  /** Lowest term in which some replica was seen holding it as committed (>= the real commit term). */
  commitTerm: number;
}

interface Written {
  readonly term: number;
  readonly entry: Entry;
  /** Term of the preceding entry in the writer's log, undefined when unknown (compacted). */
  readonly prevTerm: number | undefined;
}

export function sameEntry(a: Entry, b: Entry): boolean {
  if (a === b) return true;
  if (a.index !== b.index || a.term !== b.term || a.type !== b.type || a.data.length !== b.data.length) return false;
  for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i]) return false;
  return true;
}

const describeEntry = (e: Entry): string => `${e.index}/${e.term} type ${e.type} (${e.data.length} B)`;

export class InvariantChecker {
  readonly violations: Violation[] = [];
  /** group -> term -> leader */
  private readonly leaders = new Map<number, Map<number, NodeId>>();
  /** group -> index -> committed entry */
  private readonly committed = new Map<number, Committed[]>();
  /** host -> group -> highest commit index already recorded */
  private readonly seenCommit = new Map<NodeId, Map<number, number>>();
  /** group -> index -> entries written there (one per term) */
  private readonly written = new Map<number, Written[][]>();
  /** output index -> entry applied there */
  private readonly applied: Entry[] = [];
  private readonly maxViolations = 20;

  constructor(private readonly now: () => number) {}

  get failed(): boolean {
    return this.violations.length > 0;
  }

  report(kind: ViolationKind, message: string): void {
    if (this.violations.length < this.maxViolations) this.violations.push({ kind, time: this.now(), message });
  }

  /** A replica restarted: its commit index is re-learned from scratch. */
  onRestart(host: NodeId): void {
    this.seenCommit.delete(host);
  }

  /** After every simulation step: the views of every live replica. */
  observe(hosts: readonly { readonly id: NodeId; readonly views: readonly GroupView[] }[]): void {
    let fresh: { group: number; index: number; rec: Committed }[] | null = null;
    let newLeaders: { id: NodeId; view: GroupView }[] | null = null;
    for (const h of hosts) {
      for (const v of h.views) {
        if (v.role === 'leader') {
          let byTerm = this.leaders.get(v.group);
          if (!byTerm) this.leaders.set(v.group, (byTerm = new Map()));
          const known = byTerm.get(v.term);
          if (known === undefined) {
            byTerm.set(v.term, h.id);
            (newLeaders ??= []).push({ id: h.id, view: v });
          } else if (known !== h.id) {
            this.report('election-safety', `group ${v.group} term ${v.term}: replicas ${known} and ${h.id} were both leader`);
          }
        }
        let seen = this.seenCommit.get(h.id);
        if (!seen) this.seenCommit.set(h.id, (seen = new Map()));
        const from = seen.get(v.group) ?? 0;
        if (v.commit > from) {
          seen.set(v.group, v.commit);
          let list = this.committed.get(v.group);
          if (!list) this.committed.set(v.group, (list = []));
          for (let i = Math.max(from + 1, v.firstIndex); i <= v.commit; i++) {
            const e = v.entryAt(i);
            if (!e) {
              this.report('log-matching', `group ${v.group}: replica ${h.id} commits ${v.commit} but holds no entry ${i} (last ${v.lastIndex})`);
              break;
            }
            const rec = list[i];
            if (!rec) {
              const r: Committed = { entry: e, commitTerm: v.term };
              list[i] = r;
              (fresh ??= []).push({ group: v.group, index: i, rec: r });
            } else if (!sameEntry(rec.entry, e)) {
              this.report(
                'state-machine-safety',
                `group ${v.group} index ${i}: replica ${h.id} committed ${describeEntry(e)}, another replica committed ${describeEntry(rec.entry)}`,
              );
            } else if (v.term < rec.commitTerm) rec.commitTerm = v.term;
          }
        }
      }
    }
    if (newLeaders) for (const l of newLeaders) this.checkLeaderHoldsCommitted(l.id, l.view);
    if (fresh) {
      for (const h of hosts) {
        for (const v of h.views) {
          if (v.role !== 'leader') continue;
          for (const f of fresh) if (f.group === v.group && v.term > f.rec.commitTerm) this.checkHolds(h.id, v, f.index, f.rec);
        }
      }
    }
  }

  private checkLeaderHoldsCommitted(id: NodeId, v: GroupView): void {
    const list = this.committed.get(v.group);
    if (!list) return;
    for (let i = Math.max(1, v.firstIndex); i < list.length; i++) {
      const rec = list[i];
      if (rec && rec.commitTerm < v.term && !this.checkHolds(id, v, i, rec)) return;
    }
  }

  private checkHolds(id: NodeId, v: GroupView, i: number, rec: Committed): boolean {
    if (i < v.firstIndex) return true; // covered by the leader's snapshot
    const e = v.entryAt(i);
    if (e && sameEntry(e, rec.entry)) return true;
    this.report(
      'leader-completeness',
      `group ${v.group}: leader ${id} of term ${v.term} ${e ? `holds ${describeEntry(e)}` : 'lacks entry'} at index ${i}, ` +
        `but ${describeEntry(rec.entry)} was committed by term ${rec.commitTerm}`,
    );
    return false;
  }

  /** Every entry enters a log through a Ready's writes: check it against all others at its place. */
  onWrites(host: NodeId, views: readonly GroupView[], writes: readonly GroupWrite[]): void {
    for (const w of writes) {
      if (w.entries.length === 0) continue;
      const v = views.find((x) => x.group === w.group);
      let byIndex = this.written.get(w.group);
      if (!byIndex) this.written.set(w.group, (byIndex = []));
      let prevTerm = v ? v.termAt(w.entries[0]!.index - 1) : undefined;
      for (const e of w.entries) {
        let at = byIndex[e.index];
        if (!at) byIndex[e.index] = at = [];
        const other = at.find((x) => x.term === e.term);
        if (!other) at.push({ term: e.term, entry: e, prevTerm });
        else {
          if (!sameEntry(other.entry, e)) {
            this.report('log-matching', `group ${w.group}: replica ${host} wrote ${describeEntry(e)}, which differs from another log's entry with the same index and term`);
          } else if (other.prevTerm !== undefined && prevTerm !== undefined && other.prevTerm !== prevTerm) {
            this.report('log-matching', `group ${w.group}: entry ${e.index}/${e.term} follows term ${prevTerm} on replica ${host} but term ${other.prevTerm} elsewhere`);
          }
        }
        prevTerm = e.term;
      }
    }
  }

  /** A replica applied `entry` at output position entry.index. */
  onApply(host: NodeId, entry: Entry): void {
    const prev = this.applied[entry.index];
    if (!prev) this.applied[entry.index] = entry;
    else if (!sameEntry(prev, entry)) {
      this.report('state-machine-safety', `output index ${entry.index}: replica ${host} applied ${describeEntry(entry)}, another applied ${describeEntry(prev)}`);
    }
  }

  /** Pairwise comparison of whole logs (costlier; run at quiet points and at the end). */
  compareLogs(hosts: readonly { readonly id: NodeId; readonly views: readonly GroupView[] }[]): void {
    for (let a = 0; a < hosts.length; a++) {
      for (let b = a + 1; b < hosts.length; b++) {
        for (const va of hosts[a]!.views) {
          const vb = hosts[b]!.views.find((x) => x.group === va.group);
          if (!vb) continue;
          const lo = Math.max(va.firstIndex, vb.firstIndex);
          let i = Math.min(va.lastIndex, vb.lastIndex);
          while (i >= lo && va.termAt(i) !== vb.termAt(i)) i--;
          for (; i >= lo; i--) {
            const ea = va.entryAt(i);
            const eb = vb.entryAt(i);
            if (!ea || !eb || !sameEntry(ea, eb)) {
              this.report('log-matching', `group ${va.group}: replicas ${hosts[a]!.id} and ${hosts[b]!.id} agree on a later entry but differ at index ${i}`);
              return;
            }
          }
        }
      }
    }
  }
}
