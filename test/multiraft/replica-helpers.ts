// Multi-Raft clusters of real replica processes for the fault tests: the single-Raft helpers
// (TestCluster, Workload, finalChecks in test/replica/helpers.ts) plus what multi-Raft adds:
// waiting until every instance has a leader, the control API, per-instance leaders.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { ReplicaConfigInput } from '../../runtime/replica/config.js';
import type { MultiRaftStatus } from '../../runtime/replica/multiraft-sequencer.js';
import { ELECTION_TIMEOUT_MAX_MS, TestCluster, Workload, finalChecks, sleep, usingCluster } from '../replica/helpers.js';

export { ELECTION_TIMEOUT_MAX_MS, TestCluster, Workload, finalChecks, sleep, usingCluster };

/** "A few election timeouts", generous for a loaded 2-core machine (as for single Raft). */
export const RECOVERY_BUDGET_MS = 8 * ELECTION_TIMEOUT_MAX_MS;

export async function startMultiRaft(groups: number, multiraft: Record<string, unknown> = {}, extra: Partial<ReplicaConfigInput> = {}): Promise<TestCluster> {
  return TestCluster.start({ overrides: { ...extra, groups, multiraft } as Partial<ReplicaConfigInput> });
}

export async function control(c: TestCluster, id: number, route: string, body?: unknown, timeoutMs = 60_000): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = c.manifest.replicas.find((x) => x.id === id)!;
  const token = fs.readFileSync(c.manifest.controlTokenFile, 'utf8').trim();
  const res = await fetch(`${r.control}${route}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** Multi-Raft status of every replica that answers (id → status). */
export async function mrStatus(c: TestCluster): Promise<Map<number, MultiRaftStatus & { applied: number }>> {
  const out = new Map<number, MultiRaftStatus & { applied: number }>();
  for (const s of await c.status()) {
    if (!s.ok) continue;
    const m = (s.status as unknown as { multiraft?: MultiRaftStatus }).multiraft;
    if (m) out.set(s.id, { ...m, applied: s.status.applied });
  }
  return out;
}

/**
 * Waits until the replicas `ids` (default all) run R instances, no change is in progress and they
 * agree on a leader for every instance in the rotation. Returns instance → leader.
 */
export async function waitInstances(c: TestCluster, R: number, timeoutMs = 30_000, ids: readonly number[] = c.ids): Promise<Map<number, number>> {
  const until = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < until) {
    const st = await mrStatus(c);
    const up = ids.map((id) => st.get(id)).filter((x) => x !== undefined);
    if (up.length === ids.length) {
      const ok = up.every((m) => m.instances === R && m.transition === null && m.rotation.length === R);
      const leaders = new Map<number, number>();
      let agree = ok;
      for (const m of up) {
        for (const v of m.instancesView) {
          if (!m.rotation.includes(v.group)) continue;
          // A leader must be one of the replicas asked about (a killed one still shows until the
          // others notice).
          if (v.leader === 0 || !ids.includes(v.leader)) agree = false;
          const seen = leaders.get(v.group);
          if (seen === undefined) leaders.set(v.group, v.leader);
          else if (seen !== v.leader) agree = false;
        }
      }
      if (agree && leaders.size === R) return leaders;
      last = [...st].map(([id, m]) => `${id}: R=${m.instances} rot ${m.rotation.join(',')} leaders ${m.instancesView.map((v) => `${v.group}:${v.leader}`).join(' ')}${m.transition ? ' (changing)' : ''}`).join('; ');
    } else last = `${up.length} of ${ids.length} replicas answer`;
    await sleep(100);
  }
  throw new Error(`instances did not settle at R=${R} with a leader each within ${timeoutMs} ms: ${last}`);
}

/** Whether `id` leads any open instance, per its own status. */
export async function leadsSomething(c: TestCluster, id: number): Promise<boolean> {
  const m = (await mrStatus(c)).get(id);
  assert.ok(m, `replica ${id} does not answer`);
  return m.localLeaders.length > 0;
}

/** The longest time (ms) without any write acknowledged between `from` and `to` (performance.now()). */
export function longestAckGap(w: Workload, from: number, to: number): number {
  const rets = w.writeAcks.map((a) => a.ret).filter((t) => t >= from && t <= to).sort((a, b) => a - b);
  let prev = from;
  let gap = 0;
  for (const t of rets) {
    gap = Math.max(gap, t - prev);
    prev = t;
  }
  return Math.max(gap, to - prev);
}

/** waitInstances, until every replica leads at most ⌈R / n⌉ instances (the leader spreading is done). */
export async function waitBalanced(c: TestCluster, R: number, timeoutMs = 30_000): Promise<Map<number, number>> {
  const until = Date.now() + timeoutMs;
  const fair = Math.ceil(R / c.ids.length);
  for (;;) {
    const leaders = await waitInstances(c, R, Math.max(1000, until - Date.now()));
    const count = new Map<number, number>();
    for (const l of leaders.values()) count.set(l, (count.get(l) ?? 0) + 1);
    if ([...count.values()].every((n) => n <= fair)) return leaders;
    if (Date.now() >= until) throw new Error(`leaders not spread within ${timeoutMs} ms: ${JSON.stringify([...leaders])}`);
    await sleep(200);
  }
}
