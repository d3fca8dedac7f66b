// Model-based test: random sequences of appends (with conflicts), hard states, local and received
// snapshots, compaction and reopen, on small segments so rotation and segment deletion happen
// often; after every reopen the recovered state must equal an in-memory model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeededRng } from '../../runtime/protocols/rng.js';
import type { Entry, GroupDurableState, GroupWrite, HardState, Membership } from '../../runtime/protocols/api.js';
import { LogStore, type LogStoreOptions } from '../../runtime/storage/index.js';
import { quiet, rmDir, tempDir, view } from './helpers.js';

interface ModelGroup {
  /** The store has recorded something for this group (only those are recovered). */
  written: boolean;
  hardState: HardState;
  snapshot: { meta: { index: number; term: number; membership: Membership }; data: Uint8Array } | null;
  entries: Entry[];
}

const membership: Membership = { voters: [1, 2, 3], learners: [] };

function bytes(rng: SeededRng, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = rng.nextInt(256);
  return b;
}

function lastIndex(g: ModelGroup): number {
  return g.entries.length > 0 ? g.entries[g.entries.length - 1]!.index : (g.snapshot?.meta.index ?? 0);
}
function snapIndex(g: ModelGroup): number {
  return g.snapshot?.meta.index ?? 0;
}
function termAt(g: ModelGroup, i: number): number | undefined {
  if (i === snapIndex(g)) return g.snapshot?.meta.term ?? 0;
  return g.entries.find((e) => e.index === i)?.term;
}
function lastTerm(g: ModelGroup): number {
  return termAt(g, lastIndex(g)) ?? 0;
}

function expected(model: Map<number, ModelGroup>): GroupDurableState[] {
  return [...model]
    .filter(([, g]) => g.written)
    .sort((a, b) => a[0] - b[0])
    .map(([group, g]) => ({ group, hardState: g.hardState, snapshot: g.snapshot, entries: g.entries }));
}

async function runModel(seed: number, steps: number, opts: LogStoreOptions): Promise<{ reopens: number; compacted: number }> {
  const rng = new SeededRng(seed);
  const dir = tempDir(`model-${seed}`);
  const model = new Map<number, ModelGroup>();
  const groupOf = (id: number): ModelGroup => {
    let g = model.get(id);
    if (!g) {
      g = { written: false, hardState: { term: 0, vote: 0, commit: 0 }, snapshot: null, entries: [] };
      model.set(id, g);
    }
    return g;
  };
  let reopens = 0;
  let compacted = 0;
  try {
    let { store } = await LogStore.open(dir, { ...quiet, ...opts });
    for (let step = 0; step < steps; step++) {
      const id = rng.nextInt(3);
      const g = groupOf(id);
      const op = rng.nextInt(100);
      const ctx = `seed ${seed} step ${step} group ${id}`;
      if (op < 55) {
        // Append, sometimes replacing an uncommitted suffix with entries of a newer term.
        const low = Math.max(g.hardState.commit, snapIndex(g)) + 1;
        const high = lastIndex(g) + 1;
        const start = low + rng.nextInt(high - low + 1);
        const conflict = start <= lastIndex(g);
        const term = Math.max(g.hardState.term, lastTerm(g)) + (conflict || rng.nextInt(10) === 0 ? 1 : 0);
        const n = 1 + rng.nextInt(6);
        const es: Entry[] = [];
        for (let k = 0; k < n; k++) es.push({ index: start + k, term, type: rng.nextInt(4) as Entry['type'], data: bytes(rng, rng.nextInt(600)) });
        const newLast = start + n - 1;
        const hs: HardState = { term, vote: rng.nextInt(4), commit: Math.min(newLast, g.hardState.commit + rng.nextInt(n + 2)) };
        await store.append([{ group: id, hardState: hs, entries: es, snapshot: null }]);
        g.entries = [...g.entries.filter((e) => e.index < start), ...es];
        g.hardState = hs;
        g.written = true;
      } else if (op < 65) {
        const commit = g.hardState.commit;
        if (commit > snapIndex(g)) {
          const index = snapIndex(g) + 1 + rng.nextInt(commit - snapIndex(g));
          const term = termAt(g, index)!;
          const data = bytes(rng, rng.nextInt(3000));
          if (rng.nextInt(2) === 0) await store.saveSnapshot([{ group: id, meta: { index, term, membership } }], data);
          else {
            // The raft core's way: GroupWrite.compacted, in the same write as other changes.
            const compacted = { meta: { index, term, membership }, data };
            await store.append([{ group: id, hardState: null, entries: [], snapshot: null, compacted } as GroupWrite]);
          }
          g.snapshot = { meta: { index, term, membership }, data };
          g.entries = g.entries.filter((e) => e.index > index);
          g.written = true;
        }
      } else if (op < 72) {
        // A snapshot from a leader beyond our commit index: keeps the suffix only if it matches.
        const index = g.hardState.commit + 1 + rng.nextInt(Math.max(1, lastIndex(g) - g.hardState.commit + 3));
        if (index > snapIndex(g)) {
          const match = rng.nextInt(2) === 0 && termAt(g, index) !== undefined;
          const term = match ? termAt(g, index)! : Math.max(g.hardState.term, lastTerm(g)) + 1;
          const hsTerm = Math.max(g.hardState.term, term);
          const data = bytes(rng, rng.nextInt(2000));
          const hs = { term: hsTerm, vote: 0, commit: index };
          await store.append([{ group: id, hardState: hs, entries: [], snapshot: { meta: { index, term, membership }, data } }]);
          const keep = termAt(g, index) === term;
          g.entries = keep ? g.entries.filter((e) => e.index > index) : [];
          g.snapshot = { meta: { index, term, membership }, data };
          g.hardState = hs;
          g.written = true;
        }
      } else if (op < 80) {
        compacted += (await store.compact()).segmentsDeleted.length;
      } else if (op < 86) {
        await store.close();
        const r = await LogStore.open(dir, { ...quiet, ...opts });
        assert.deepEqual(view(r.recovered), view(expected(model)), ctx);
        assert.deepEqual(r.report.warnings, [], ctx);
        store = r.store;
        reopens++;
      } else {
        const hs = { ...g.hardState, commit: g.hardState.commit + rng.nextInt(lastIndex(g) - g.hardState.commit + 1) };
        await store.append([{ group: id, hardState: hs, entries: [], snapshot: null }]);
        g.hardState = hs;
        g.written = true;
      }
    }
    await store.close();
    const r = await LogStore.open(dir, { ...quiet, ...opts });
    assert.deepEqual(view(r.recovered), view(expected(model)), `seed ${seed} final`);
    await r.store.close();
  } finally {
    rmDir(dir);
  }
  return { reopens, compacted };
}

test('model: shared WAL with small segments, random appends/conflicts/snapshots/compaction/reopen', async () => {
  // VERDANT_STORAGE_MODEL_SEEDS=N runs seeds 1..N (a deeper soak than CI's three).
  const n = Number(process.env['VERDANT_STORAGE_MODEL_SEEDS'] ?? 3);
  let compacted = 0;
  for (let seed = 1; seed <= n; seed++) compacted += (await runModel(seed, 260, { segmentBytes: 4096, preallocate: 'off' })).compacted;
  assert.ok(compacted > 0, 'the sequences exercised segment deletion');
});

test('model: per-group WAL lanes with preallocation', async () => {
  const n = Number(process.env['VERDANT_STORAGE_MODEL_SEEDS'] ?? 1);
  let compacted = 0;
  for (let seed = 11; seed < 11 + n; seed++) {
    compacted += (await runModel(seed, 200, { segmentBytes: 8192, walLayout: 'per-group', preallocate: 'fallocate' })).compacted;
  }
  assert.ok(compacted > 0);
});
