// Niagara §3.4 in numbers. Niagara numbers instances r = 1..R and global positions from 1: after
// instance r's leader confirms its commit position p_local,r, the read waits until the global log
// has grown up to, excluding, position p_global = p_local,r × R + r. verdant numbers instances
// (groups) g = r - 1 from 0, so "every position before p_global is merged" reads "the global log
// holds at least p_local × R + g slots".
//
// The sequencer states the same condition on its merge state (Sequencer.readStatus), which also
// covers Skip records (p_local then counts slots, not entries) and changes of R. This function is
// the paper's formula for one epoch starting at slot 0, kept for the equivalence test and the docs.

/** Slots the global log must hold before a read confirmed by instance `group` can be served. */
export function pGlobal(localSlots: number, instances: number, group: number): number {
  return localSlots * instances + group;
}
