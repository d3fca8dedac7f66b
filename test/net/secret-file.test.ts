// Secret files: created private, read back validated, clear ConfigErrors otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../runtime/common/config-error.js';
import { createSecretFile, readSecretFile } from '../../runtime/net/secret-file.js';

test('secret files: 0600 on creation, validated on read', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'verdant-net-secret-'));
  try {
    const f = path.join(dir, 'cluster.secret');
    const s = createSecretFile(f);
    assert.match(s, /^[0-9a-f]{64}$/);
    assert.equal(fs.statSync(f).mode & 0o777, 0o600);
    assert.equal(readSecretFile(f, 'peer.secretFile'), s);
    assert.throws(() => createSecretFile(f), /EEXIST/, 'never overwrites an existing secret');

    fs.chmodSync(f, 0o644);
    assert.throws(() => readSecretFile(f, 'peer.secretFile'), (e: unknown) => e instanceof ConfigError && e.fieldPath === 'peer.secretFile' && /chmod 600/.test(e.message));
    const short = path.join(dir, 'short');
    fs.writeFileSync(short, 'abc\n', { mode: 0o600 });
    assert.throws(() => readSecretFile(short, 'client.tokenFile'), /shorter than 16 bytes/);
    assert.throws(() => readSecretFile(path.join(dir, 'missing'), 'x'), /ENOENT/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
