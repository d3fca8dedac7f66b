// `verdant sim` as users run it: a real process, JSON summary, deterministic trace replay, errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseHistoryJson } from '../../runtime/sim/lincheck/history.js';
import { checkKvHistory } from '../../runtime/sim/lincheck/kv-check.js';

const cli = fileURLToPath(new URL('../../cli/verdant.js', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [cli, 'sim', ...args], { encoding: 'utf8', timeout: 120_000 });

test('--json prints one summary object as the last line', () => {
  const r = run('--protocol', 'raft', '--seeds', '5', '--from', '40', '--json');
  assert.equal(r.status, 0, r.stderr);
  const last = r.stdout.trim().split('\n').pop()!;
  const s = JSON.parse(last) as Record<string, unknown>;
  for (const k of ['protocol', 'runs', 'violations', 'linearizable', 'ops', 'failing_seeds']) assert.ok(k in s, `missing ${k}`);
  assert.equal(s.protocol, 'raft');
  assert.equal(s.runs, 5);
  assert.equal(s.violations, 0);
  assert.equal(s.linearizable, 5);
  assert.deepEqual(s.failing_seeds, []);
});

test('--trace replays one seed byte for byte', () => {
  const a = run('--protocol', 'raft', '--from', '17', '--seeds', '1', '--trace');
  const b = run('--protocol', 'raft', '--from', '17', '--seeds', '1', '--trace');
  assert.equal(a.status, 0, a.stderr);
  assert.ok(a.stdout.split('\n').length > 500, 'trace is suspiciously short');
  assert.match(a.stdout, /recv \d->\d App g0/);
  assert.equal(a.stdout, b.stdout);
  const other = run('--protocol', 'raft', '--from', '18', '--seeds', '1', '--trace');
  assert.notEqual(a.stdout, other.stdout);
});

test('an injected bug is reported with its failing seed and a replay command', () => {
  const r = run('--seeds', '100', '--inject-bug', 'vote-twice', '--until-failure', '--json');
  assert.equal(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout.trim().split('\n').pop()!) as { failing_seeds: number[]; violations: number };
  assert.equal(s.failing_seeds.length, 1);
  assert.equal(s.violations, 1);
  assert.match(r.stdout, /replay: npx verdant sim --protocol raft --from \d+ --seeds 1 --inject-bug vote-twice --trace/);
});

test('histories export as Porcupine JSON that re-checks as linearizable', () => {
  const dir = mkdtempSync(join(tmpdir(), 'verdant-sim-'));
  const r = run('--seeds', '2', '--from', '3', '--export-history', dir);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(readdirSync(dir).sort(), ['seed-3.json', 'seed-4.json']);
  const text = readFileSync(join(dir, 'seed-3.json'), 'utf8');
  const raw = JSON.parse(text) as Record<string, unknown>[];
  assert.ok(raw.length > 10);
  assert.deepEqual(Object.keys(raw[0]!).sort(), ['call', 'clientId', 'input', 'output', 'return']);
  assert.equal(checkKvHistory(parseHistoryJson(text)).result, 'ok');
  const one = join(dir, 'one.json');
  assert.equal(run('--seeds', '1', '--from', '5', '--export-history', one).status, 0);
  assert.ok(parseHistoryJson(readFileSync(one, 'utf8')).length > 10);
});

test('unknown protocol, unknown bug and bad numbers exit 2 with a clear message', () => {
  const p = run('--protocol', 'paxos-from-mars', '--seeds', '1');
  assert.equal(p.status, 2);
  assert.match(p.stderr, /unknown protocol "paxos-from-mars" \(known: .*raft/);
  const b = run('--inject-bug', 'eat-the-log', '--seeds', '1');
  assert.equal(b.status, 2);
  assert.match(b.stderr, /eat-the-log/);
  assert.match(b.stderr, /send-before-persist/);
  const n = run('--seeds', 'many');
  assert.equal(n.status, 2);
  assert.match(n.stderr, /seeds: expected an integer/);
  const o = run('--seeds', '1', '-o', 'electionTicks=1');
  assert.equal(o.status, 2);
  assert.match(o.stderr, /electionTicks/);
});

test('verdant lincheck checks an exported history, refutes a doctored one, and rejects bad files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'verdant-lincheck-'));
  const file = join(dir, 'h.json');
  assert.equal(run('--seeds', '1', '--from', '8', '--export-history', file).status, 0);
  const lin = (...args: string[]) => spawnSync(process.execPath, [cli, 'lincheck', ...args], { encoding: 'utf8', timeout: 60_000 });
  const ok = lin(file, '--json');
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal((JSON.parse(ok.stdout.trim()) as { result: string }).result, 'ok');
  // Doctor it: a read that returned a value no one ever wrote.
  const ops = JSON.parse(readFileSync(file, 'utf8')) as { input: { op: string }; output: unknown }[];
  const read = ops.findIndex((o) => o.input.op === 'get' && (o.output as { value?: unknown }).value !== undefined);
  assert.ok(read >= 0);
  ops[read]!.output = { value: 'never-written' };
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify(ops));
  const r = lin(bad);
  assert.equal(r.status, 1);
  assert.match(r.stdout, /NOT linearizable/);
  assert.match(r.stdout, /cannot place: .*never-written/);
  writeFileSync(join(dir, 'junk.json'), '{"not": "a history"}');
  const junk = lin(join(dir, 'junk.json'));
  assert.equal(junk.status, 2);
  assert.match(junk.stderr, /junk\.json: history: expected a JSON array/);
});
