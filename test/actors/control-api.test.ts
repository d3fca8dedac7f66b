// The control API: bearer-token auth, topology, plans (400 with a reason for bad ones), stats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { ActorRuntime } from '../../runtime/actors/runtime.js';
import { startControlApi } from '../../runtime/actors/control-api.js';
import type { RuntimeStats, Topology } from '../../runtime/actors/types.js';
import { fixtureKind } from './helpers.js';

const TOKEN = 'test-token-0123456789abcdef';

function tokenFile(): { dir: string; file: string } {
  const dir = mkdtempSync(join(os.tmpdir(), 'verdant-actors-api-'));
  const file = join(dir, 'token');
  writeFileSync(file, TOKEN + '\n', { mode: 0o600 });
  return { dir, file };
}

async function req(base: string, method: string, path: string, token?: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(base + path, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: await res.json() };
}

test('control API over TCP: auth, topology, plan, stats', { timeout: 60_000 }, async () => {
  const rt = await ActorRuntime.start({ workers: 1 });
  const { file } = tokenFile();
  const api = await startControlApi({ runtime: rt, tokenFile: file });
  try {
    assert.match(api.address, /^http:\/\/127\.0\.0\.1:\d+$/, 'binds to loopback by default');
    await rt.spawn({ id: 'c', kind: fixtureKind('counter'), executor: 1 });
    // A plan that would be valid (a second worker, the actor moved there): only the token is wrong.
    const validPlan = { workers: 2, placement: { c: 2 } };
    for (const [m, p] of [['GET', '/v1/topology'], ['GET', '/v1/stats'], ['POST', '/v1/plan']] as const) {
      assert.equal((await req(api.address, m, p, undefined, m === 'POST' ? validPlan : undefined)).status, 401, `${m} ${p} without token`);
      assert.equal((await req(api.address, m, p, 'wrong-token-wrong-token', m === 'POST' ? validPlan : undefined)).status, 401, `${m} ${p} with a wrong token`);
    }
    const after = await rt.topology();
    assert.equal(after.executors.length, 2, 'unauthorised plan started no worker');
    assert.ok(after.executors[1]!.actors.includes('c'), 'unauthorised plan moved nothing');

    const topo = await req(api.address, 'GET', '/v1/topology', TOKEN);
    assert.equal(topo.status, 200);
    const t = topo.json as Topology;
    assert.equal(t.pid, process.pid);
    assert.deepEqual(t.executors.map((e) => e.index), [0, 1]);
    assert.equal(t.actors['c']!.executor, 1);
    assert.ok(t.executors[1]!.tid !== null);

    const bad = await req(api.address, 'POST', '/v1/plan', TOKEN, { workers: 1, placement: { ghost: 0 } });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.field, 'placement.ghost');
    assert.match(bad.json.error, /unknown actor 'ghost'/);
    const bad2 = await req(api.address, 'POST', '/v1/plan', TOKEN, { workers: 1, cpus: { '1': [] } });
    assert.equal(bad2.status, 400);
    assert.match(bad2.json.error, /empty CPU set/);

    const good = await req(api.address, 'POST', '/v1/plan', TOKEN, { workers: 2, placement: { c: 2 }, cpus: { '2': [0] } });
    assert.equal(good.status, 200, JSON.stringify(good.json));
    assert.deepEqual(good.json.started, [2]);
    assert.deepEqual(good.json.moved.map((m: { actor: string; to: number }) => [m.actor, m.to]), [['c', 2]]);
    assert.equal(rt.executorOf('c'), 2);

    rt.send('c', { t: 'inc' });
    await rt.ask('c', (replyTo) => ({ t: 'get', replyTo }));
    const stats = await req(api.address, 'GET', '/v1/stats', TOKEN);
    assert.equal(stats.status, 200);
    const s = stats.json as RuntimeStats;
    assert.deepEqual(s.executors.map((e) => e.index), [0, 1, 2]);
    const c = s.actors.find((a) => a.id === 'c')!;
    assert.equal(c.executor, 2);
    assert.ok(c.msgsIn >= 2 && c.msgsOut >= 1, JSON.stringify(c));
    assert.equal(c.migrations, 1);
    assert.equal(s.migrations.total, 1);
    for (const e of s.executors) assert.ok(e.utilization >= 0 && e.utilization <= 1);
  } finally {
    await api.close();
    await rt.stop();
  }
});

test('control API on a unix socket', { timeout: 60_000 }, async () => {
  const rt = await ActorRuntime.start();
  const { dir, file } = tokenFile();
  const socketPath = join(dir, 'control.sock');
  const api = await startControlApi({ runtime: rt, tokenFile: file, socketPath });
  try {
    const get = (token?: string) =>
      new Promise<number>((resolve, reject) => {
        const r = http.request({ socketPath, path: '/v1/topology', headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        r.on('error', reject);
        r.end();
      });
    assert.equal(await get(), 401);
    assert.equal(await get(TOKEN), 200);
  } finally {
    await api.close();
    await rt.stop();
  }
});

test('control API refuses to start without a usable token file', async () => {
  const rt = await ActorRuntime.start();
  try {
    const dir = mkdtempSync(join(os.tmpdir(), 'verdant-actors-api-'));
    await assert.rejects(startControlApi({ runtime: rt, tokenFile: join(dir, 'missing') }), /token file/);
    writeFileSync(join(dir, 'short'), 'abc');
    await assert.rejects(startControlApi({ runtime: rt, tokenFile: join(dir, 'short') }), /at least 16/);
  } finally {
    await rt.stop();
  }
});

test('verdant actors topology|plan talks to the control API', { timeout: 60_000 }, async () => {
  const { execFile } = await import('node:child_process');
  const cli = new URL('../../cli/verdant.js', import.meta.url).pathname;
  const run = (args: string[]) =>
    new Promise<{ code: number; out: string; err: string }>((resolve) => {
      execFile(process.execPath, [cli, ...args], (error, out, err) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, out, err }));
    });
  const rt = await ActorRuntime.start({ workers: 1 });
  const { dir, file } = tokenFile();
  const api = await startControlApi({ runtime: rt, tokenFile: file });
  try {
    await rt.spawn({ id: 'c', kind: fixtureKind('counter'), executor: 1 });
    const topo = await run(['actors', 'topology', '--url', api.address, '--token-file', file]);
    assert.equal(topo.code, 0, topo.err);
    assert.equal((JSON.parse(topo.out) as Topology).actors['c']!.executor, 1);
    writeFileSync(join(dir, 'plan.json'), JSON.stringify({ workers: 1, placement: { c: 0 } }));
    const ok = await run(['actors', 'plan', join(dir, 'plan.json'), '--url', api.address, '--token-file', file]);
    assert.equal(ok.code, 0, ok.err);
    assert.equal(rt.executorOf('c'), 0);
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ workers: 1, cpus: { '1': [] } }));
    const bad = await run(['actors', 'plan', join(dir, 'bad.json'), '--url', api.address, '--token-file', file]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /empty CPU set/);
    writeFileSync(join(dir, 'wrong-token'), 'x'.repeat(32));
    const denied = await run(['actors', 'stats', '--url', api.address, '--token-file', join(dir, 'wrong-token')]);
    assert.notEqual(denied.code, 0);
    assert.match(denied.err, /401/);
  } finally {
    await api.close();
    await rt.stop();
  }
});
