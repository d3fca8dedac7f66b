// Plan validation. A plan is checked completely against the current topology before anything
// changes, so a rejected plan leaves the runtime exactly as it was.
import { z } from 'zod';
import { formatFieldPath } from '../common/config-error.js';
import type { ActorId, Plan } from './types.js';

/** A plan that cannot be applied; `field` names the offending part (e.g. `cpus.2[0]`). */
export class PlanError extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(field ? `${field}: ${reason}` : reason);
    this.name = 'PlanError';
  }
}

/** Upper bound on worker executors; far beyond any useful count, it only stops absurd plans. */
export const MAX_WORKERS = 256;

const cpuList = z.array(z.number().int().nonnegative()).nullable();

export const planSchema = z
  .object({
    workers: z.number().int().min(0).max(MAX_WORKERS),
    cpus: z.record(z.string(), cpuList).optional(),
    placement: z.record(z.string(), z.number().int().min(0)).optional(),
  })
  .strict();

export interface ActorPlacementInfo {
  readonly executor: number;
  readonly pinnedMain: boolean;
}

export interface CurrentState {
  readonly workers: number;
  readonly actors: ReadonlyMap<ActorId, ActorPlacementInfo>;
  readonly onlineCpus: readonly number[];
}

export interface ValidPlan {
  readonly workers: number;
  /** Only executors whose CPU set the plan names; null = unpin. */
  readonly cpus: ReadonlyMap<number, readonly number[] | null>;
  /** Every actor that must move: id → destination. */
  readonly moves: ReadonlyMap<ActorId, number>;
}

/** Parses and checks `input` against `cur`; throws PlanError with the first problem found. */
export function validatePlan(input: unknown, cur: CurrentState): ValidPlan {
  const parsed = planSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    let path = issue.path as PropertyKey[];
    let message = issue.message;
    if (issue.code === 'unrecognized_keys' && 'keys' in issue && Array.isArray(issue.keys) && issue.keys.length > 0) {
      path = [...path, String(issue.keys[0])];
      message = 'unknown key';
    }
    throw new PlanError(formatFieldPath(path), message);
  }
  const plan: Plan = parsed.data;
  const online = new Set(cur.onlineCpus);
  const cpus = new Map<number, readonly number[] | null>();
  for (const [key, set] of Object.entries(plan.cpus ?? {})) {
    const field = `cpus.${key}`;
    if (!/^(0|[1-9][0-9]*)$/.test(key)) throw new PlanError(field, 'executor index must be a non-negative integer');
    const e = Number(key);
    if (e > plan.workers) throw new PlanError(field, `executor ${e} does not exist in this plan (executors are 0..${plan.workers})`);
    if (set !== null) {
      if (set.length === 0) throw new PlanError(field, 'empty CPU set (use null to unpin)');
      for (let i = 0; i < set.length; i++) {
        if (!online.has(set[i]!)) throw new PlanError(`${field}[${i}]`, `CPU ${set[i]} does not exist or is offline (online: ${[...online].join(',')})`);
      }
      if (new Set(set).size !== set.length) throw new PlanError(field, 'CPU set lists a CPU twice');
    }
    cpus.set(e, set === null ? null : [...set].sort((a, b) => a - b));
  }
  const moves = new Map<ActorId, number>();
  const placement = plan.placement ?? {};
  for (const [id, e] of Object.entries(placement)) {
    const field = `placement.${id}`;
    const a = cur.actors.get(id);
    if (!a) throw new PlanError(field, `unknown actor '${id}'`);
    if (e > plan.workers) throw new PlanError(field, `executor ${e} does not exist in this plan (executors are 0..${plan.workers})`);
    if (a.pinnedMain && e !== 0) throw new PlanError(field, `actor '${id}' is pinned to the main thread (executor 0)`);
    if (e !== a.executor) moves.set(id, e);
  }
  for (const [id, a] of cur.actors) {
    if (a.executor > plan.workers && !Object.hasOwn(placement, id)) {
      throw new PlanError(`placement.${id}`, `actor '${id}' lives on executor ${a.executor}, which this plan removes; place it elsewhere`);
    }
  }
  return { workers: plan.workers, cpus, moves };
}
