// A real child process appends under load and is killed with SIGKILL at an arbitrary moment;
// recovery must keep every append that had resolved (been acknowledged) before the kill.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { LogStore } from '../../runtime/storage/index.js';
import { entryData, imageFor } from './fixtures/workload.js';
import { rmDir, runAndKill, tempDir } from './helpers.js';

const writer = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'wal-writer.js');

interface Acks {
  entries: Map<number, number>;
  snapshot: number;
  count: number;
}

/** Runs the writer and SIGKILLs it once `killAfterMs` passed AND it acknowledged `minAcks`
 *  appends in this run. */
async function runWriterAndKill(dir: string, groups: number, killAfterMs: number, minAcks: number): Promise<Acks> {
  const acks: Acks = { entries: new Map(), snapshot: 0, count: 0 };
  const onLine = (line: string): void => {
    const [kind, g, i] = line.split(' ');
    if (kind === 'ack') {
      acks.entries.set(Number(g), Math.max(acks.entries.get(Number(g)) ?? 0, Number(i)));
      acks.count++;
    } else if (kind === 'snap') acks.snapshot = Math.max(acks.snapshot, Number(i));
  };
  await runAndKill(writer, [dir, String(groups)], killAfterMs, onLine, () => acks.count >= minAcks);
  return acks;
}

test('SIGKILL during a write load loses no acknowledged append', { timeout: 120_000 }, async () => {
  const dir = tempDir('crash');
  const groups = 4;
  try {
    const everAcked = new Map<number, number>();
    let everSnap = 0;
    let totalAcks = 0;
    for (let round = 0; round < 4; round++) {
      const acks = await runWriterAndKill(dir, groups, 300 + round * 150, 60);
      totalAcks += acks.count;
      for (const [g, i] of acks.entries) everAcked.set(g, Math.max(everAcked.get(g) ?? 0, i));
      everSnap = Math.max(everSnap, acks.snapshot);
      const { store, recovered, report } = await LogStore.open(dir, { onWarning: () => undefined });
      for (let g = 0; g < groups; g++) {
        const s = recovered.find((x) => x.group === g);
        const acked = everAcked.get(g) ?? 0;
        if (acked === 0) continue;
        assert.ok(s, `round ${round}: group ${g} with acknowledged appends was not recovered`);
        const snapIndex = s.snapshot?.meta.index ?? 0;
        const last = s.entries.at(-1)?.index ?? snapIndex;
        assert.ok(last >= acked, `round ${round}: group ${g} acknowledged up to ${acked} but recovered only up to ${last}`);
        s.entries.forEach((e, k) => {
          assert.equal(e.index, snapIndex + 1 + k, 'contiguous');
          assert.deepEqual(Buffer.from(e.data), Buffer.from(entryData(g, e.index)), `round ${round}: group ${g} entry ${e.index} content`);
        });
        assert.ok(s.hardState.commit >= Math.min(acked, s.hardState.commit));
        if (g === 0) {
          assert.ok(snapIndex >= everSnap, `round ${round}: acknowledged snapshot ${everSnap}, recovered ${snapIndex}`);
          if (s.snapshot) assert.deepEqual(Buffer.from(s.snapshot.data), Buffer.from(imageFor(snapIndex)));
        }
      }
      if (process.env["VERDANT_DEBUG"]) console.log(round, acks.count, acks.snapshot, JSON.stringify(report.lanes.map((l) => [l.segments, l.records, l.tornTail?.discardedBytes ?? 0])));
      await store.close();
    }
    assert.ok(totalAcks > 50, `the writer made progress before being killed (${totalAcks} acks)`);
    assert.ok(everSnap > 0, 'snapshots (and so compaction) happened under the load');
  } finally {
    rmDir(dir);
  }
});
