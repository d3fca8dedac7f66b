// Records the original value of everything an actuator changes, so it can be put back. Only the
// first change to a target is journaled: after several applies, restore returns to the value the
// machine had before the first one. Undo runs in reverse order (e.g. move tasks out of a cgroup
// before removing it). In dry-run mode nothing is written; changes are only reported.
import type { Change } from './types.js';
import { readAttr, writeAttr } from '../sensors/sysfs.js';

interface Entry {
  target: string;
  original: string;
  undo: () => void;
}

export class ChangeJournal {
  readonly dryRun: boolean;
  private entries: Entry[] = [];
  private known = new Set<string>();
  /** Errors met during the last restore (the restore goes on past them). */
  lastRestoreErrors: string[] = [];

  constructor(dryRun = false) {
    this.dryRun = dryRun;
  }

  get size(): number {
    return this.entries.length;
  }

  /** Writes an attribute file, journaling its previous content the first time. */
  writeFile(path: string, value: string, out: Change[]): void {
    const before = readAttr(path);
    out.push({ target: path, from: before, to: value });
    if (this.dryRun) return;
    if (!this.known.has(path)) {
      this.known.add(path);
      this.entries.push({ target: path, original: before, undo: () => writeAttr(path, before) });
    }
    writeAttr(path, value);
  }

  /**
   * Records a change made by other means (a syscall, a mkdir). `perform` runs only when not dry;
   * `undo` is journaled the first time `target` is seen.
   */
  record(target: string, from: string, to: string, perform: () => void, undo: () => void, out: Change[]): void {
    out.push({ target, from, to });
    if (this.dryRun) return;
    perform();
    if (!this.known.has(target)) {
      this.known.add(target);
      this.entries.push({ target, original: from, undo });
    }
  }

  /** Undoes everything, newest first. Keeps going past failures and reports them. */
  restoreSync(): string[] {
    const errors: string[] = [];
    const entries = this.entries;
    this.entries = [];
    this.known.clear();
    for (let i = entries.length - 1; i >= 0; i--) {
      const e = entries[i]!;
      try {
        e.undo();
      } catch (err) {
        errors.push(`${e.target}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    this.lastRestoreErrors = errors;
    return errors;
  }
}
