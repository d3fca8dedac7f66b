// Copies a fixture tree to a fresh temporary directory (tests write to it) and applies the file
// modes listed in its fixture.json, which git cannot store (energy_uj is 0400 on real kernels).
import { chmodSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (dist/test/host/helpers -> ../../../..). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
export const cliPath = join(repoRoot, 'dist/cli/verdant.js');

export type FixtureName = 'intel-2s-dram' | 'intel-1s-wrap' | 'amd-epyc-nolimit' | 'intel-hotplug-cpufreq';

export function copyFixture(name: FixtureName): string {
  const src = join(repoRoot, 'test/fixtures', name);
  const dir = mkdtempSync(join(tmpdir(), `verdant-host-${name}-`));
  // mkdtemp makes the directory 0700; non-root children (the EACCES tests) must traverse it.
  chmodSync(dir, 0o755);
  cpSync(src, dir, { recursive: true, verbatimSymlinks: true });
  const manifest = JSON.parse(readFileSync(join(src, 'fixture.json'), 'utf8')) as { modes: Record<string, string> };
  for (const [rel, mode] of Object.entries(manifest.modes)) chmodSync(join(dir, rel), parseInt(mode, 8));
  return dir;
}

export function removeFixture(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export function writeIn(root: string, rel: string, content: string): void {
  // In place (same inode), as sysfs does, so readers holding the file open see the new value.
  writeFileSync(join(root, rel), content);
}

export function readIn(root: string, rel: string): string {
  return readFileSync(join(root, rel), 'utf8').trim();
}

export const NOBODY_UID = 65534;
export const isRoot = process.getuid?.() === 0;
