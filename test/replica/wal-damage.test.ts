// Damage to a replica's write-ahead log on disk: a corrupted record in the middle makes the
// replica refuse to start, naming the file and the byte offset, without changing the file; a torn
// tail (the end of the log cut off) is truncated with a warning and the replica rejoins.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { TestCluster, withCluster } from './helpers.js';

function segments(c: TestCluster, id: number): string[] {
  const dir = path.join(c.manifest.replicas.find((r) => r.id === id)!.dir, 'data', 'wal', 'main');
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.wal'))
    .sort()
    .map((f) => path.join(dir, f));
}

/** Offset one past the last non-zero byte (the preallocated rest of a segment is zeros). */
function usedLength(buf: Buffer): number {
  let i = buf.length - 1;
  while (i >= 0 && buf[i] === 0) i--;
  return i + 1;
}

const sha = (f: string): string => createHash('sha256').update(fs.readFileSync(f)).digest('hex');

async function exitOf(c: TestCluster, id: number, timeoutMs: number): Promise<number | null> {
  const p = c.procs.get(id)!;
  if (p.exitCode !== null) return p.exitCode;
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(null), timeoutMs);
    p.once('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}

test('a corrupted WAL record refuses startup naming file and offset; a torn tail is cut and the replica rejoins', { timeout: 120_000 }, async () => {
  await withCluster({}, async (c) => {
    await c.leader();
    const kv = await c.client();
    for (let i = 0; i < 400; i += 50) await Promise.all(Array.from({ length: 50 }, (_, k) => kv.put(`k${i + k}`, `v${i + k}`)));
    await c.converged();
    await kv.close();
    await Promise.all(c.ids.map((id) => c.kill(id, 'SIGTERM')));

    // 1. A flipped byte in the middle of the log.
    const seg = segments(c, 1).find((f) => usedLength(fs.readFileSync(f)) > 4096)!;
    assert.ok(seg, 'replica 1 has a WAL segment with data');
    const buf = fs.readFileSync(seg);
    const used = usedLength(buf);
    const at = Math.floor(used / 2);
    const original = buf[at]!;
    buf[at] = original ^ 0x5a;
    fs.writeFileSync(seg, buf);
    const before = sha(seg);
    const log = c.manifest.replicas.find((r) => r.id === 1)!.log;
    const logStart = fs.statSync(log).size;
    c.startReplica(1);
    const code = await exitOf(c, 1, 30_000);
    assert.notEqual(code, null, 'the replica did not exit');
    assert.notEqual(code, 0, 'the replica must refuse to start');
    const out = fs.readFileSync(log, 'utf8').slice(logStart);
    assert.match(out, /storage corruption/);
    assert.ok(out.includes(seg), `the error names the file ${seg}:\n${out}`);
    const m = /at byte offset (\d+)/.exec(out);
    assert.ok(m, `the error names a byte offset:\n${out}`);
    assert.ok(Math.abs(Number(m[1]) - at) < 1 << 16, `offset ${m[1]} is near the damage at ${at}`);
    assert.equal(sha(seg), before, 'refusing to start changed nothing on disk');
    console.log(`refused: ${out.trim().split('\n').pop()}`);

    // 2. Undo the damage and cut the tail of the last segment instead.
    buf[at] = original;
    fs.writeFileSync(seg, buf);
    const last = segments(c, 1).at(-1)!;
    const lb = fs.readFileSync(last);
    const lu = usedLength(lb);
    fs.truncateSync(last, lu - 100);
    const log2Start = fs.statSync(log).size;
    for (const id of c.ids) c.startReplica(id);
    await c.leader(30_000);
    const out2 = fs.readFileSync(log, 'utf8').slice(log2Start);
    assert.match(out2, /torn|truncat/i, `recovery warned about the torn tail:\n${out2}`);
    const kv2 = await c.client();
    await kv2.put('after', 'repair');
    for (let i = 0; i < 400; i++) assert.equal(Buffer.from((await kv2.get(`k${i}`)).entry!.value!).toString(), `v${i}`);
    await kv2.close();
    await c.converged();
  });
});
