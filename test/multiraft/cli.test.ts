// The multi-Raft CLI end to end: `cluster up --groups 3 --detach`, `instances show --json` (R and a
// leader for every instance, on every replica), `instances set 4` (the new instance becomes active
// without client traffic: its Join record counts for the no-op rule), kv through the merged log,
// usage errors (exit 2 naming the option), `cluster down`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../cli/verdant.js', import.meta.url));

function verdant(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

interface ShowRow {
  replica: number;
  up: boolean;
  instances: number;
  epoch: number;
  transition: unknown;
  rotation: number[];
  instancesView: { group: number; leader: number; mode: string }[];
}

/** Polls `instances show --json` until every replica runs R instances, each active with one agreed leader. */
async function settled(dir: string, R: number, timeoutMs: number): Promise<ShowRow[]> {
  const until = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < until) {
    const r = verdant(['instances', 'show', '--json', '--dir', dir]);
    if (r.code === 0) {
      const rows = JSON.parse(r.out) as ShowRow[];
      const leaders = new Map<number, number>();
      const ok =
        rows.length === 3 &&
        rows.every((x) => {
          if (!x.up || x.instances !== R || x.transition !== null || x.rotation.length !== R) return false;
          for (let g = 0; g < R; g++) {
            const v = x.instancesView.find((i) => i.group === g);
            if (!v || v.mode !== 'active' || v.leader === 0 || (leaders.get(g) ?? v.leader) !== v.leader) return false;
            leaders.set(g, v.leader);
          }
          return true;
        });
      if (ok) return rows;
      last = rows.map((x) => `${x.replica}: R=${x.instances} ${x.instancesView?.map((v) => `${v.group}:${v.mode}/${v.leader}`).join(' ')}${x.transition ? ' (changing)' : ''}`).join('; ');
    } else last = `exit ${r.code}: ${r.err}${r.out}`;
    await new Promise((res) => setTimeout(res, 250));
  }
  throw new Error(`instances did not settle at R=${R} within ${timeoutMs} ms: ${last}`);
}

test('multi-Raft from the CLI: cluster up --groups 3, instances show/set, kv, cluster down', { timeout: 150_000 }, async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'verdant-mr-cli-'));
  const dir = path.join(root, 'c');
  let ok = false;
  try {
    const up = verdant(['cluster', 'up', '--groups', '3', '--detach', '--dir', dir, '--tick-ms', '50']);
    assert.equal(up.code, 0, up.err);
    assert.match(up.out, /3 replicas in .* \(new\), leader: replica \d/);

    const three = await settled(dir, 3, 30_000);
    assert.deepEqual(three.map((x) => x.replica).sort(), [1, 2, 3]);
    for (const x of three) assert.deepEqual([...x.rotation].sort(), [0, 1, 2]);
    const epoch = three[0]!.epoch;
    const text = verdant(['instances', '--dir', dir]);
    assert.equal(text.code, 0, text.err);
    assert.equal((text.out.match(/^replica \d: R=3 epoch/gm) ?? []).length, 3, text.out);

    const set = verdant(['instances', 'set', '4', '--dir', dir]);
    assert.equal(set.code, 0, set.err);
    assert.match(set.out, /^R = 4 \(epoch \d+\)/);
    // No client traffic: the joining instance must become active on its own.
    const four = await settled(dir, 4, 20_000);
    for (const x of four) {
      assert.ok(x.epoch > epoch, `replica ${x.replica}: the change moved the epoch`);
      assert.equal(x.instancesView.find((v) => v.group === 3)?.mode, 'active');
    }
    const again = verdant(['instances', 'set', '4', '--dir', dir]);
    assert.equal(again.code, 0, again.err);
    assert.match(again.out, /R = 4 .*unchanged/);

    assert.equal(verdant(['kv', 'put', 'mr', 'four', '--dir', dir]).code, 0);
    for (let i = 0; i < 5; i++) assert.equal(verdant(['kv', 'put', `k${i}`, `v${i}`, '--dir', dir]).code, 0);
    const get = verdant(['kv', 'get', 'mr', '--dir', dir]);
    assert.equal(get.code, 0, get.err);
    assert.equal(get.out, 'four\n');
    const scan = verdant(['kv', 'scan', 'k', 'l', '--dir', dir, '--keys-only']);
    assert.equal(scan.out, 'k0\nk1\nk2\nk3\nk4\n');

    // Usage errors exit 2 and name the option (checked before anything starts).
    const bogus = verdant(['cluster', 'up', '--progress', 'bogus', '--detach', '--dir', path.join(root, 'other')]);
    assert.equal(bogus.code, 2);
    assert.match(bogus.err, /--progress: expected noop or skip, got "bogus"/);
    assert.equal(fs.existsSync(path.join(root, 'other')), false);
    const zero = verdant(['instances', 'set', '0', '--dir', dir]);
    assert.equal(zero.code, 2);
    assert.match(zero.err, /count: expected an integer in 1\.\.64/);

    const down = verdant(['cluster', 'down', '--dir', dir]);
    assert.equal(down.code, 0, down.err);
    assert.equal((down.out.match(/stopped/g) ?? []).length, 3);
    const gone = verdant(['instances', 'show', '--dir', dir]);
    assert.equal(gone.code, 1, 'replicas down: exit 1');
    assert.equal((gone.out.match(/down/g) ?? []).length, 3);
    ok = true;
  } finally {
    if (!ok) {
      verdant(['cluster', 'down', '--dir', dir]);
      for (let id = 1; id <= 3; id++) {
        const log = path.join(dir, `replica-${id}`, 'replica.log');
        if (fs.existsSync(log)) console.error(`----- ${log}\n${fs.readFileSync(log, 'utf8').split('\n').slice(-30).join('\n')}`);
      }
      console.error(`kept ${root}`);
    } else fs.rmSync(root, { recursive: true, force: true });
  }
});
