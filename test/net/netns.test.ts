// Two replicas in two network namespaces joined by veth: real separate IP stacks, a cable that can
// be pulled. Requires root + iproute2 (installed by .ci/run); set VERDANT_SKIP_NETNS=1 to skip
// explicitly on machines without them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createNetnsPair, netnsUnavailableReason, sweepStaleNetns } from '../helpers/netns.js';
import { sleep, startChildPeer, waitForAsync } from './helpers.js';

const skip = process.env.VERDANT_SKIP_NETNS === '1' ? 'VERDANT_SKIP_NETNS=1' : false;

test('peers in two namespaces connect over veth, lose the link, and reconnect when it returns', { skip }, async () => {
  assert.equal(netnsUnavailableReason(), null, 'network namespaces must work here (or set VERDANT_SKIP_NETNS=1)');
  const pair = await createNetnsPair();
  try {
    const limits = { idleTimeoutMs: 1_000, pingIntervalMs: 200, handshakeTimeoutMs: 1_000 };
    const b = await startChildPeer({ id: 2, host: pair.b.ip, port: 7100, peers: { 1: { host: pair.a.ip, port: 7100 } }, limits }, (s, a) => pair.b.fork(s, a));
    const a = await startChildPeer({ id: 1, host: pair.a.ip, port: 7100, peers: { 2: { host: pair.b.ip, port: 7100 } }, echo: false, limits }, (s, a2) => pair.a.fork(s, a2));
    const statsA = async () => (await a.stats()).stats;
    const statsB = async () => (await b.stats()).stats;
    const bothUp = async () => (await statsA()).peers[2]!.state === 'connected' && (await statsB()).peers[1]!.state === 'connected';
    await waitForAsync(bothUp, () => 'a and b connected to each other over veth');
    a.send({ type: 'send', to: 2, count: 100, seq: 0 });
    await waitForAsync(async () => (await a.stats()).received === 100, () => 'echoes over veth');

    pair.a.setLink(false);
    await waitForAsync(async () => (await statsA()).peers[2]!.state !== 'connected', () => 'link loss detected by idle timeout', 20_000);
    const down = await statsA();
    assert.ok(down.framing.idleTimeouts >= 1);
    a.send({ type: 'send', to: 2, count: 10, seq: 1000 });
    await sleep(200);
    assert.ok((await statsA()).peers[2]!.droppedDisconnected >= 10, 'sends while down are dropped and counted');

    pair.a.setLink(true);
    // Echoes go back on b's own connection to a, so wait for both directions.
    await waitForAsync(bothUp, () => 'reconnected both ways after the link returned', 30_000);
    a.send({ type: 'send', to: 2, count: 50, seq: 2000 });
    await waitForAsync(async () => (await a.stats()).received >= 150, () => 'echoes after reconnect', 20_000);
  } finally {
    await pair.cleanup();
  }
  const left = execFileSync('ip', ['netns', 'list']).toString();
  assert.ok(!left.includes(pair.a.name) && !left.includes(pair.b.name), `namespaces removed: ${left}`);
});

test('namespaces left by a SIGKILLed test process are swept by the next one', { skip }, async () => {
  assert.equal(netnsUnavailableReason(), null, 'network namespaces must work here (or set VERDANT_SKIP_NETNS=1)');
  const helper = new URL('../helpers/netns.js', import.meta.url).href;
  const child = spawn(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(helper)}); const p = await m.createNetnsPair(); console.log(p.a.name + ' ' + p.b.name); setInterval(() => {}, 1000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
  const names = await new Promise<string[]>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim().split(' ')));
    child.once('exit', (c) => reject(new Error(`helper child exited ${c}`)));
  });
  await new Promise<void>((r) => {
    child.once('exit', () => r());
    child.kill('SIGKILL');
  });
  assert.ok(execFileSync('ip', ['netns', 'list']).toString().includes(names[0]!), 'left behind by the killed process');
  const removed = sweepStaleNetns();
  // Another test process sweeping at the same moment may have removed some of them first.
  const left = execFileSync('ip', ['netns', 'list']).toString();
  for (const n of names) assert.ok(!left.includes(n), `${n} swept (this sweep removed: ${removed.join(', ')})`);
});
