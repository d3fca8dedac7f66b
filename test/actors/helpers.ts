// Shared helpers for the actor-runtime tests.
import { fileURLToPath } from 'node:url';
import type { ActorKind } from '../../runtime/actors/types.js';

const fixtures = new URL('./fixtures/actors.js', import.meta.url);

export function fixtureKind(name: 'storm' | 'counter' | 'restartingCounter' | 'mainOnly' | 'slowAppender' | 'fileWriter' | 'relay' | 'bytesReader' | 'threadKiller'): ActorKind {
  return { module: fileURLToPath(fixtures), export: name };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` until it returns true or `timeoutMs` passes; returns the last result. */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 20_000, stepMs = 20): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > end) return false;
    await sleep(stepMs);
  }
}
