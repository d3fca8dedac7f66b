// Cluster secrets and client tokens on disk: created 0600 with 32 random bytes (64 hex chars),
// read back with validation. `verdant cluster up` writes them into the cluster directory; a real
// deployment points the replica config at files distributed by the operator.
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { ConfigError } from '../common/config-error.js';
import { MIN_SECRET_BYTES } from './handshake.js';

/** Writes a new random secret to `file` (mode 0600, fails if it exists) and returns it. */
export function createSecretFile(file: string): string {
  const secret = randomBytes(32).toString('hex');
  fs.writeFileSync(file, secret + '\n', { mode: 0o600, flag: 'wx' });
  return secret;
}

/**
 * Reads a secret or token file: its content minus surrounding whitespace, at least 16 bytes.
 * Errors are ConfigErrors naming `fieldPath` (the config key that pointed at the file). A file
 * readable by group or others is refused: a leaked cluster secret lets anyone join the cluster.
 */
export function readSecretFile(file: string, fieldPath: string): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    throw new ConfigError(fieldPath, `cannot read secret file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!st.isFile()) throw new ConfigError(fieldPath, `secret file ${file} is not a regular file`);
  if ((st.mode & 0o077) !== 0) {
    throw new ConfigError(fieldPath, `secret file ${file} is accessible by group or others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
  }
  const secret = fs.readFileSync(file, 'utf8').trim();
  if (Buffer.byteLength(secret) < MIN_SECRET_BYTES) {
    throw new ConfigError(fieldPath, `secret in ${file} is shorter than ${MIN_SECRET_BYTES} bytes`);
  }
  return secret;
}
