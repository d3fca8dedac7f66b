// Moving a live RaftCore to another thread (actor migration).
//
// The actor runtime carries an actor's state across threads by structured clone, which keeps
// plain data, typed arrays, Maps, Sets and shared references inside one graph, but drops class
// prototypes and functions. A core's state is exactly such a graph plus a handful of known classes
// (RaftCore, RaftLog, Progress, Inflights, SeededRng) and one object of closures (the GroupView),
// so exporting is "everything but the view" and importing puts the prototypes back and rebuilds
// the view. Nothing is re-derived: the imported core continues exactly where the exported one
// stopped (same term, leadership, progress, in-flight windows, pending reads, and the outstanding
// Ready, when the caller clones it in the same graph), which is what a live remap needs. A restart
// from durable state would instead lose leadership and stall the group for an election timeout.
import { SeededRng } from '../rng.js';
import { RaftCore } from './core.js';
import { RaftLog } from './log.js';
import { Inflights, Progress } from './progress.js';

/** Structured-cloneable state of a RaftCore. Opaque: only importRaftCore reads it. */
export interface RaftCoreState {
  readonly format: 1;
  readonly fields: Record<string, unknown>;
  readonly rngClass: 'seeded' | 'other';
}

/** Fields holding functions or objects rebuilt on import. */
const SKIP = new Set(['view']);

export function exportRaftCore(core: RaftCore): RaftCoreState {
  const fields: Record<string, unknown> = {};
  for (const k of Object.keys(core)) if (!SKIP.has(k)) fields[k] = (core as unknown as Record<string, unknown>)[k];
  const rng = fields.rng;
  const rngClass = rng instanceof SeededRng ? 'seeded' : 'other';
  if (rngClass === 'other') {
    throw new Error('raft migration: only a core with a SeededRng can be moved (an injected Rng of another class cannot be rebuilt on the other side)');
  }
  return { format: 1, fields, rngClass };
}

/**
 * Rebuilds a core from (a structured clone of) exportRaftCore's result. The caller must not use
 * the exported core afterwards.
 */
export function importRaftCore(state: RaftCoreState): RaftCore {
  if (state === null || typeof state !== 'object' || state.format !== 1) throw new Error('raft migration: unknown state format');
  const f = state.fields;
  const log = f.log as object;
  Object.setPrototypeOf(log, RaftLog.prototype);
  const fix = (p: unknown): void => {
    if (p === null || typeof p !== 'object') return;
    if (Object.getPrototypeOf(p) !== Progress.prototype) Object.setPrototypeOf(p, Progress.prototype);
    const inf = (p as { inflight?: object }).inflight;
    if (inf && Object.getPrototypeOf(inf) !== Inflights.prototype) Object.setPrototypeOf(inf, Inflights.prototype);
  };
  for (const p of f.prs as unknown[]) fix(p);
  for (const p of (f.prMap as Map<number, unknown>).values()) fix(p);
  if (state.rngClass === 'seeded') Object.setPrototypeOf(f.rng as object, SeededRng.prototype);
  const core = Object.create(RaftCore.prototype) as RaftCore;
  Object.assign(core, f);
  const c = core as unknown as { view: unknown; makeView(): unknown };
  c.view = c.makeView();
  return core;
}
