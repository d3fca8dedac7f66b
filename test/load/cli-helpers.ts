// Runs the built CLI as a user would, for the load and compare tests.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'cli', 'verdant.js');

/** `verdant ARGS...` to completion (status, stdout, stderr). */
export function verdant(args: string[], timeoutMs = 60_000) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: timeoutMs });
}

/** The JSON object on stdout's last line. */
export const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;
