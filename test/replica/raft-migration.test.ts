// A Raft core moved to another thread (exported, structured-cloned, imported) behaves exactly as
// the original would have: two identical in-memory clusters run in lockstep; in one of them every
// core is replaced by its clone at several moments (also with a Ready outstanding); every output
// of every step must be the same in both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Ready } from '../../runtime/protocols/api.js';
import { exportRaftCore, importRaftCore } from '../../runtime/protocols/raft/migration.js';
import { RaftCore, type RaftMessage } from '../../runtime/protocols/raft/index.js';
import { SeededRng } from '../../runtime/protocols/rng.js';

interface Sim {
  cores: RaftCore[];
  queue: RaftMessage[];
  held: (Ready<RaftMessage> | null)[];
  trace: string[];
}

const IDS = [1, 2, 3];

function make(seed: number): Sim {
  return {
    cores: IDS.map((id) => new RaftCore({ id, membership: { voters: IDS, learners: [] }, rng: new SeededRng(seed * 100 + id), durable: [] }, { electionTicks: 6, compactionRetainEntries: 4 })),
    queue: [],
    held: IDS.map(() => null),
    trace: [],
  };
}

// Bytes print the same whether they are a Buffer (made here) or a Uint8Array (after a clone).
const show = (v: unknown): string =>
  JSON.stringify(v, (_k, x: unknown) => {
    if (x instanceof Uint8Array) return Buffer.from(x).toString('hex');
    if (x !== null && typeof x === 'object' && (x as { type?: unknown }).type === 'Buffer' && Array.isArray((x as { data?: unknown }).data)) return Buffer.from((x as { data: number[] }).data).toString('hex');
    return x;
  });

function step(s: Sim, n: number): void {
  const msgs = s.queue.splice(0);
  for (const m of msgs) {
    // A deterministic loss pattern exercises retransmission and probing.
    if ((n + m.to * 7 + m.type) % 11 === 0) continue;
    s.cores[m.to - 1]!.step(m);
  }
  s.cores.forEach((c, i) => {
    if (n % 2 === i % 2) c.tick();
    if (n % 3 === 0) c.propose(Buffer.from(`cmd-${n}-${i}`));
    if (n % 5 === 1) c.readIndex(n * 10 + i);
    if (n % 17 === 0 && c.groups()[0]!.commit > 2) c.compact(Math.min(c.groups()[0]!.commit, c.groups()[0]!.commit - 1), Buffer.from(`image-${n}`));
    // A Ready is held for one step before advance (as while the WAL writes), so moves happen
    // with one outstanding too.
    const held = s.held[i];
    if (held) {
      s.queue.push(...held.sendAfterPersist);
      c.advance(held);
      s.held[i] = null;
      s.trace.push(`${n}/${i + 1} advanced`);
    } else if (c.hasReady()) {
      const rd = c.ready();
      s.queue.push(...rd.sendNow);
      s.trace.push(`${n}/${i + 1} ${show(rd)}`);
      s.held[i] = rd;
    }
    const v = c.groups()[0]!;
    s.trace.push(`${n}/${i + 1} ${v.role} t${v.term} l${v.leader} c${v.commit} [${v.firstIndex},${v.lastIndex}]`);
  });
}

test('a migrated Raft core continues exactly like the original', () => {
  for (const seed of [1, 2, 3]) {
    const a = make(seed);
    const b = make(seed);
    for (let n = 0; n < 400; n++) {
      step(a, n);
      step(b, n);
      if (n % 37 === 5) {
        // Move every core of b (with its outstanding Ready, cloned in one graph, as the actor does).
        b.cores = b.cores.map((c, i) => {
          const moved = structuredClone({ core: exportRaftCore(c), held: b.held[i] });
          b.held[i] = moved.held;
          return importRaftCore(moved.core);
        });
      }
      assert.equal(b.trace.length, a.trace.length);
      for (let k = b.trace.length - 6; k < b.trace.length; k++) assert.equal(b.trace[k], a.trace[k], `seed ${seed}, step ${n}`);
    }
    assert.ok(a.cores.some((c) => c.groups()[0]!.role === 'leader'), 'a leader was elected');
    assert.ok(a.cores[0]!.groups()[0]!.commit > 50, 'entries were committed');
    assert.deepEqual(b.trace, a.trace);
  }
});
