// The CLI end to end: cluster up (foreground and detached), kv put/get/del/cas/scan with their
// exit codes, status, cluster down, and replica --config validation (exit 2 naming the field).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../cli/verdant.js', import.meta.url));

function verdant(args: string[], cwd?: string): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000, ...(cwd ? { cwd } : {}) });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('cluster up --detach, kv commands and exit codes, status, cluster down', { timeout: 120_000 }, () => {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'verdant-cli-')), 'c');
  try {
    const up = verdant(['cluster', 'up', '--detach', '--dir', dir, '--tick-ms', '50']);
    assert.equal(up.code, 0, up.err);
    assert.match(up.out, /leader: replica \d/);
    assert.match(up.out, /client endpoints: 127\.0\.0\.1:\d+,127\.0\.0\.1:\d+,127\.0\.0\.1:\d+/);
    assert.match(up.out, /verdant kv put hello world --dir/);
    for (const f of ['secret', 'client.token', 'control.token']) assert.equal(fs.statSync(path.join(dir, f)).mode & 0o777, 0o600, `${f} is 0600`);

    assert.equal(verdant(['kv', 'put', 'hello', 'world', '--dir', dir]).code, 0);
    const get = verdant(['kv', 'get', 'hello', '--dir', dir]);
    assert.equal(get.code, 0);
    assert.equal(get.out, 'world\n');
    assert.equal(verdant(['kv', 'get', 'nope', '--dir', dir]).code, 3);
    assert.equal(verdant(['kv', 'get', 'hello', '--stale', '--dir', dir]).out, 'world\n');
    assert.equal(verdant(['kv', 'cas', 'hello', 'w2', '--expect', 'world', '--dir', dir]).code, 0);
    assert.equal(verdant(['kv', 'cas', 'hello', 'w3', '--expect', 'world', '--dir', dir]).code, 3);
    assert.equal(verdant(['kv', 'cas', 'fresh', 'x', '--absent', '--dir', dir]).code, 0);
    assert.equal(verdant(['kv', 'cas', 'hello', '--dir', dir]).code, 2, 'cas without a comparison is a usage error');
    const scan = verdant(['kv', 'scan', '--dir', dir, '--json']);
    assert.equal(scan.code, 0);
    assert.deepEqual(
      (JSON.parse(scan.out) as { entries: { key: string; value: string }[] }).entries.map((e) => [e.key, e.value]),
      [
        ['fresh', 'x'],
        ['hello', 'w2'],
      ],
    );
    // Paging: the hint names the last key, and --after continues after it (START is inclusive).
    const page1 = verdant(['kv', 'scan', '--dir', dir, '--limit', '1']);
    assert.equal(page1.out, 'fresh\tx\n');
    assert.match(page1.err, /more keys follow; to continue, repeat the command with --after=fresh\)/);
    const page2 = verdant(['kv', 'scan', '--dir', dir, '--limit', '1', '--after=fresh']);
    assert.equal(page2.code, 0, page2.err);
    assert.equal(page2.out, 'hello\tw2\n');
    assert.doesNotMatch(page2.err, /more keys/, 'the last page says nothing more');
    assert.equal(verdant(['kv', 'scan', 'f', '--dir', dir, '--keys-only', '--after', 'fresh']).out, 'hello\n', '--after raises START');
    assert.equal(verdant(['kv', 'scan', 'hello', '--dir', dir, '--keys-only', '--after', 'fresh']).out, 'hello\n', 'a START above --after stays');
    assert.equal(verdant(['kv', 'del', 'fresh', '--dir', dir]).code, 0);
    assert.equal(verdant(['kv', 'del', 'fresh', '--dir', dir]).code, 3);
    const m = JSON.parse(fs.readFileSync(path.join(dir, 'cluster.json'), 'utf8')) as { replicas: { client: string }[]; clientTokenFile: string };
    const viaEndpoints = verdant(['kv', 'get', 'hello', '--endpoints', m.replicas.map((r) => r.client).join(','), '--token-file', m.clientTokenFile]);
    assert.equal(viaEndpoints.out, 'w2\n');
    const badToken = path.join(path.dirname(dir), 'bad.token');
    fs.writeFileSync(badToken, 'x'.repeat(32), { mode: 0o600 });
    const refused = verdant(['kv', 'get', 'hello', '--endpoints', m.replicas[0]!.client, '--token-file', badToken, '--timeout', '3000']);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /bad-token/);

    // A workload profile against the local cluster, found through its directory.
    const load = verdant(['load', '--profile', 'step', '--dir', dir, '--duration', '2', '--target-rate', '300', '--quiet']);
    assert.equal(load.code, 0, load.err);
    const summary = JSON.parse(load.out.trim().split('\n').pop()!) as { target: string; ok: number; errors: number };
    assert.match(summary.target, /^verdant:\/\/127\.0\.0\.1:\d+,/);
    assert.ok(summary.ok > 0, 'the profile ran operations');
    assert.equal(summary.errors, 0);
    assert.equal(verdant(['load', '--profile', 'step', '--dir', dir, '--target', 'etcd://127.0.0.1:1']).code, 2, '--dir and --target together');

    const st = verdant(['status', '--dir', dir, '--json']);
    assert.equal(st.code, 0);
    const rows = JSON.parse(st.out) as { id: number; pid: number; role: string; term: number; commit: number; applied: number; leader: number }[];
    assert.equal(rows.length, 3);
    assert.equal(rows.filter((r) => r.role === 'leader').length, 1);
    for (const r of rows) for (const k of ['id', 'pid', 'term', 'commit', 'applied', 'leader'] as const) assert.equal(typeof r[k], 'number');
    assert.match(verdant(['status', '--dir', dir]).out, /leader/);

    const down = verdant(['cluster', 'down', '--dir', dir]);
    assert.equal(down.code, 0);
    assert.equal((down.out.match(/stopped/g) ?? []).length, 3);
    const after = verdant(['status', '--dir', dir]);
    assert.equal(after.code, 1);
    assert.match(after.out, /down/);
    assert.equal(verdant(['kv', 'get', 'hello', '--dir', dir, '--timeout', '1500']).code, 1);

    // Restarting the same directory keeps the data.
    assert.equal(verdant(['cluster', 'up', '--detach', '--dir', dir]).code, 0);
    assert.equal(verdant(['kv', 'get', 'hello', '--dir', dir]).out, 'w2\n');
  } finally {
    verdant(['cluster', 'down', '--dir', dir]);
    fs.rmSync(path.dirname(dir), { recursive: true, force: true });
  }
});

test('cluster up in the foreground (npm start) serves until SIGINT, then stops every replica', { timeout: 60_000 }, async () => {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'verdant-fg-'));
  try {
    const child = spawn(process.execPath, [CLI, 'cluster', 'up'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const until = Date.now() + 40_000;
    while (!/Ctrl-C stops the cluster/.test(out) && Date.now() < until && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
    assert.match(out, /3 replicas in .*\.verdant\/cluster/);
    const put = verdant(['kv', 'put', 'a', 'b'], cwd);
    assert.equal(put.code, 0, put.err);
    const pids = fs
      .readdirSync(path.join(cwd, '.verdant/cluster'))
      .filter((d) => d.startsWith('replica-'))
      .map((d) => Number(fs.readFileSync(path.join(cwd, '.verdant/cluster', d, 'pid'), 'utf8')));
    assert.equal(pids.length, 3);
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGINT');
    assert.equal(await exited, 0);
    assert.match(out, /cluster stopped/);
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), 'every replica process is gone');
  } finally {
    spawnSync(process.execPath, [CLI, 'cluster', 'down'], { cwd });
    fs.rmSync(cwd, { recursive: true, force: true });
  }
});

test('replica --config: an unknown key or a bad value exits 2 naming the field path', { timeout: 30_000 }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'verdant-cfg-'));
  try {
    const good = {
      id: 1,
      clusterId: 'c1',
      dataDir: 'data',
      secretFile: 'secret',
      clientTokenFile: 'token',
      members: [{ id: 1, peer: '127.0.0.1:7001', client: '127.0.0.1:7101' }],
      control: { tokenFile: 'token' },
    };
    const cases: [string, unknown, RegExp][] = [
      ['unknown top-level key', { ...good, colour: 'green' }, /colour: unknown key/],
      ['unknown nested key', { ...good, raft: { electonTicks: 5 } }, /raft\.electonTicks: unknown key/],
      ['bad value', { ...good, raft: { tickMs: 0 } }, /raft\.tickMs:/],
      ['bad address', { ...good, members: [{ id: 1, peer: 'nohost', client: '127.0.0.1:7101' }] }, /members\[0\]\.peer: expected host:port/],
      ['id not a member', { ...good, id: 2 }, /id: replica 2 is not one of members/],
      ['bad sync mode', { ...good, storage: { sync: { mode: 'sometimes' } } }, /storage\.sync/],
      ['heartbeat not below election', { ...good, raft: { electionTicks: 5, heartbeatTicks: 5 } }, /raft\.heartbeatTicks/],
    ];
    for (const [name, cfg, re] of cases) {
      const f = path.join(dir, 'c.json');
      fs.writeFileSync(f, JSON.stringify(cfg));
      const r = verdant(['replica', '--config', f]);
      assert.equal(r.code, 2, `${name}: exit code`);
      assert.match(r.err, re, `${name}: ${r.err}`);
    }
    fs.writeFileSync(path.join(dir, 'c.yaml'), 'id: 1\nclusterId: c1\nbogus: true\n');
    const y = verdant(['replica', '--config', path.join(dir, 'c.yaml')]);
    assert.equal(y.code, 2);
    assert.match(y.err, /c\.yaml: /);
    const missing = verdant(['replica', '--config', path.join(dir, 'nope.json')]);
    assert.equal(missing.code, 2);
    fs.writeFileSync(path.join(dir, 'ok.json'), JSON.stringify(good));
    // --check also reads the files the config names.
    const noSecret = verdant(['replica', '--config', path.join(dir, 'ok.json'), '--check']);
    assert.equal(noSecret.code, 2);
    assert.match(noSecret.err, /secretFile: cannot read secret file .*secret: ENOENT/);
    fs.writeFileSync(path.join(dir, 'secret'), 'a'.repeat(64), { mode: 0o600 });
    fs.writeFileSync(path.join(dir, 'token'), 'b'.repeat(32), { mode: 0o644 });
    const openToken = verdant(['replica', '--config', path.join(dir, 'ok.json'), '--check']);
    assert.equal(openToken.code, 2);
    assert.match(openToken.err, /clientTokenFile: token file .* is accessible by group or others/);
    fs.chmodSync(path.join(dir, 'token'), 0o600);
    const check = verdant(['replica', '--config', path.join(dir, 'ok.json'), '--check']);
    assert.equal(check.code, 0, check.err);
    assert.match(check.out, /OK \(replica 1 of 1, cluster c1\)/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
