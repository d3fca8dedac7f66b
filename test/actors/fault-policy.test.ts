// Fault policy: `restart` re-creates the actor from its args; `escalate` stops it and reports to
// onFault; without an onFault handler the process stops loudly with exit code 70.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ActorRuntime } from '../../runtime/actors/runtime.js';
import type { FaultReport } from '../../runtime/actors/types.js';
import { eventually, fixtureKind } from './helpers.js';

type Got = { n: number; executor: number };

test('restart policy: fresh state, same id and mailbox, escalates past maxRestarts', { timeout: 60_000 }, async () => {
  const faults: FaultReport[] = [];
  const rt = await ActorRuntime.start({ workers: 1, onFault: (r) => faults.push(r) });
  try {
    await rt.spawn({ id: 'r', kind: fixtureKind('restartingCounter'), executor: 1 });
    rt.send('r', { t: 'inc', by: 7 });
    rt.send('r', { t: 'boom' });
    rt.send('r', { t: 'inc', by: 2 }); // queued behind the fault: still delivered, to the new instance
    const got = await rt.ask<Got>('r', (replyTo) => ({ t: 'get', replyTo }));
    assert.equal(got.n, 2, 'state restarted from scratch; later messages kept');
    assert.equal(faults.length, 1);
    assert.deepEqual([faults[0]!.kind, faults[0]!.actor, faults[0]!.action, faults[0]!.executor], ['actor', 'r', 'restarted', 1]);
    assert.match(faults[0]!.error, /boom on purpose/);
    const s = (await rt.stats()).actors.find((a) => a.id === 'r')!;
    assert.deepEqual([s.faults, s.restarts], [1, 1]);
    rt.send('r', { t: 'boom' }); // second restart: still within maxRestarts=2
    rt.send('r', { t: 'boom' }); // third: escalates
    assert.ok(await eventually(() => faults.length === 3), 'three faults reported');
    assert.deepEqual(faults.map((f) => f.action), ['restarted', 'restarted', 'stopped']);
    assert.ok(await eventually(async () => !('r' in (await rt.topology()).actors)), 'escalated actor is gone from the topology');
  } finally {
    await rt.stop();
  }
});

test('escalate policy: the actor stops, onFault hears about it, the executor keeps serving others', { timeout: 60_000 }, async () => {
  const faults: FaultReport[] = [];
  const rt = await ActorRuntime.start({ workers: 1, onFault: (r) => faults.push(r) });
  try {
    await rt.spawn({ id: 'bad', kind: fixtureKind('counter'), executor: 1 });
    await rt.spawn({ id: 'good', kind: fixtureKind('counter'), executor: 1 });
    rt.send('bad', { t: 'boom' });
    assert.ok(await eventually(() => faults.length === 1));
    assert.deepEqual([faults[0]!.actor, faults[0]!.action], ['bad', 'stopped']);
    assert.match(faults[0]!.stack ?? '', /boom on purpose/);
    rt.send('good', { t: 'inc' });
    const got = await rt.ask<Got>('good', (replyTo) => ({ t: 'get', replyTo }));
    assert.deepEqual([got.n, got.executor], [1, 1]);
    assert.ok(await eventually(async () => !('bad' in (await rt.topology()).actors)));
  } finally {
    await rt.stop();
  }
});

test('default policy: a throwing actor stops the whole process loudly (exit 70)', { timeout: 60_000 }, async () => {
  const script = fileURLToPath(new URL('./fixtures/fail-stop-main.js', import.meta.url));
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  assert.equal(code, 70, `exit code (stderr: ${err})`);
  assert.match(out, /started/, 'the child got as far as sending the bad message');
  assert.match(err, /fatal actor fault \(actor 'bad' on executor 1\): boom on purpose/);
  assert.doesNotMatch(out, /still running/, 'the process did not carry on');
});

test('a worker thread that dies is reported as an executor fault naming every actor it hosted', { timeout: 60_000 }, async () => {
  const faults: FaultReport[] = [];
  const rt = await ActorRuntime.start({ workers: 2, onFault: (r) => faults.push(r) });
  try {
    await rt.spawn({ id: 'k', kind: fixtureKind('threadKiller'), executor: 1 });
    await rt.spawn({ id: 'c1', kind: fixtureKind('counter'), executor: 1 });
    await rt.spawn({ id: 'c2', kind: fixtureKind('counter'), executor: 2 });
    rt.send('k', { t: 'die' });
    assert.ok(await eventually(() => faults.length === 1), 'one fault reported');
    const f = faults[0]!;
    assert.deepEqual([f.kind, f.executor, f.action], ['executor', 1, 'stopped']);
    assert.deepEqual([...(f.actors ?? [])].sort(), ['c1', 'k']);
    assert.match(f.error, /exited with code 3/);
    // The other executor keeps serving.
    rt.send('c2', { t: 'inc', by: 5 });
    const got = await rt.ask<Got>('c2', (replyTo) => ({ t: 'get', replyTo }));
    assert.deepEqual([got.n, got.executor], [5, 2]);
    assert.deepEqual((await rt.topology()).executors.map((e) => e.index), [0, 2], 'the dead executor is not listed');
    assert.ok(!('c1' in (await rt.topology()).actors), 'its actors are gone');
    // A plan starts a fresh executor 1 and can put actors on it again.
    await rt.spawn({ id: 'c3', kind: fixtureKind('counter') });
    const r = await rt.apply({ workers: 2, placement: { c3: 1, c2: 1 } });
    assert.ok(r.started.includes(1));
    rt.send('c3', { t: 'inc', by: 2 });
    const got3 = await rt.ask<Got>('c3', (replyTo) => ({ t: 'get', replyTo }));
    assert.deepEqual([got3.n, got3.executor], [2, 1]);
    const got2 = await rt.ask<Got>('c2', (replyTo) => ({ t: 'get', replyTo }));
    assert.deepEqual([got2.n, got2.executor], [5, 1]);
  } finally {
    await rt.stop();
  }
});
