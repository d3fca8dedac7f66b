// Unit tests of the log's index arithmetic and of the in-flight ring buffer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryType } from '../../runtime/protocols/api.js';
import { RaftLog } from '../../runtime/protocols/raft/log.js';
import { Inflights } from '../../runtime/protocols/raft/progress.js';

function logWithTerms(terms: number[], base = 0, baseTerm = 0): RaftLog {
  const l = new RaftLog();
  l.base = base;
  l.baseTerm = baseTerm;
  terms.forEach((t, i) => l.append({ index: base + 1 + i, term: t, type: EntryType.Normal, data: new Uint8Array(0) }));
  return l;
}

test('log: term lookups around the base and the end', () => {
  const l = logWithTerms([3, 3, 4], 10, 2);
  assert.equal(l.term(9), undefined);
  assert.equal(l.term(10), 2);
  assert.equal(l.term(13), 4);
  assert.equal(l.term(14), undefined);
  assert.equal(l.lastIndex(), 13);
  assert.equal(l.lastTerm(), 4);
});

test('log: findConflictByTerm returns the last index whose term is <= the given term', () => {
  const l = logWithTerms([1, 1, 2, 2, 2, 5, 5, 7]);
  assert.equal(l.findConflictByTerm(8, 7), 8);
  assert.equal(l.findConflictByTerm(8, 6), 7);
  assert.equal(l.findConflictByTerm(8, 4), 5);
  assert.equal(l.findConflictByTerm(8, 2), 5);
  assert.equal(l.findConflictByTerm(4, 2), 4);
  assert.equal(l.findConflictByTerm(8, 1), 2);
  assert.equal(l.findConflictByTerm(8, 0), 0);
  assert.equal(l.findConflictByTerm(100, 9), 8);
  // Agrees with a linear scan on random logs.
  for (let trial = 0; trial < 200; trial++) {
    const terms: number[] = [];
    let t = 1;
    for (let i = 0; i < 30; i++) {
      if ((trial * 7 + i * 13) % 5 === 0) t++;
      terms.push(t);
    }
    const log = logWithTerms(terms);
    for (let idx = 0; idx <= 30; idx++) {
      for (let q = 0; q <= t + 1; q++) {
        let want = idx;
        while (want > 0 && terms[want - 1]! > q) want--;
        assert.equal(log.findConflictByTerm(idx, q), want, `index ${idx} term ${q}`);
      }
    }
  }
});

test('log: truncation and compaction keep stabled and inProgress consistent', () => {
  const l = logWithTerms([1, 1, 1, 1, 1]);
  l.stabled = 5;
  l.inProgress = 5;
  l.truncateFrom(3);
  assert.equal(l.lastIndex(), 2);
  assert.equal(l.stabled, 2);
  assert.equal(l.inProgress, 2);
  l.append({ index: 3, term: 2, type: EntryType.Normal, data: new Uint8Array(0) });
  assert.deepEqual(l.unstableEntries().map((e) => e.index), [3]);
  l.stableTo(3, 1); // a write of the old entry 3: ignored
  assert.equal(l.stabled, 2);
  l.stableTo(3, 2);
  assert.equal(l.stabled, 3);
  l.compactTo(2);
  assert.equal(l.base, 2);
  assert.equal(l.baseTerm, 1);
  assert.equal(l.term(3), 2);
});

test('inflights: a ring buffer that frees by index and wraps around', () => {
  const f = new Inflights(3, 250);
  f.add(10, 100);
  f.add(20, 100);
  assert.equal(f.full(), false);
  f.add(30, 100);
  assert.equal(f.full(), true);
  f.freeLE(15);
  assert.equal(f.count, 2);
  assert.equal(f.bytes, 200);
  assert.equal(f.full(), false);
  f.add(40, 10);
  assert.equal(f.full(), true);
  f.freeLE(25);
  f.add(50, 10); // wraps around the end of the buffer
  assert.equal(f.count, 3);
  assert.equal(f.bytes, 120);
  f.freeLE(45);
  assert.equal(f.count, 1);
  f.freeFirstOne();
  assert.equal(f.count, 0);
  assert.equal(f.bytes, 0);
  const byBytes = new Inflights(100, 250);
  byBytes.add(1, 200);
  assert.equal(byBytes.full(), false);
  byBytes.add(2, 60);
  assert.equal(byBytes.full(), true, 'byte limit reached');
});
