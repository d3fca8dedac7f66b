// Atomic whole-file replacement (write temp, fsync, rename, fsync directory), killed mid-flight by
// SIGKILL: the file always reads back as one complete version, never a mix or a torn one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CorruptionError, readChecksummedFile, writeChecksummedFileAtomic } from '../../runtime/storage/index.js';
import { rmDir, runAndKill, tempDir } from './helpers.js';

const writer = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'atomic-writer.js');

/** SIGKILLs the writer once `ms` passed and it finished at least one replacement in this run. */
async function runWriterAndKill(file: string, ms: number): Promise<number> {
  let last = 0;
  await runAndKill(writer, [file], ms, (line) => (last = Number(line.split(' ')[1])), () => last > 0);
  return last;
}

test('atomic replacement survives SIGKILL at any moment: old or new version, complete', { timeout: 60_000 }, async () => {
  const dir = tempDir('atomic');
  try {
    const file = path.join(dir, 'state');
    let kills = 0;
    for (let round = 0; round < 8; round++) {
      const lastDone = await runWriterAndKill(file, 40 + round * 23);
      kills++;
      const body = await readChecksummedFile(file);
      const n = body.readUInt32LE(0);
      assert.equal(body.readUInt32LE(4), body.length, 'length field matches: a complete version');
      for (let i = 8; i < body.length; i++) if (body[i] !== ((n + i) & 0xff)) assert.fail(`byte ${i} of version ${n} is wrong`);
      // The version on disk is the last one reported done, or the one after it (replaced, but
      // killed before it could say so).
      assert.ok(n === lastDone || n === lastDone + 1, `found version ${n}, last acknowledged ${lastDone}`);
    }
    assert.equal(kills, 8);
  } finally {
    rmDir(dir);
  }
});

test('a damaged checksummed file is reported with file and offset', async () => {
  const dir = tempDir('atomic-bad');
  try {
    const file = path.join(dir, 'state');
    await writeChecksummedFileAtomic(file, Buffer.from('hello world'));
    assert.equal((await readChecksummedFile(file)).toString(), 'hello world');
    const b = fs.readFileSync(file);
    b[3] = b[3]! ^ 1;
    fs.writeFileSync(file, b);
    await assert.rejects(readChecksummedFile(file), (e: unknown) => e instanceof CorruptionError && e.file === file && e.offset === 0);
    fs.writeFileSync(file, b.subarray(0, 5));
    await assert.rejects(readChecksummedFile(file), (e: unknown) => e instanceof CorruptionError && /trailer/.test(e.message));
  } finally {
    rmDir(dir);
  }
});
